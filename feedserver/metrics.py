"""What ``GET /metrics`` reports, in the Prometheus text format (prometheus-client).

Requests are counted where they end (``Metrics.request``) with plain dict arithmetic, not
prometheus-client's locked counters: a cached feed costs about 30 µs and is the request
feedserver answers most. The counts become metric families only when Prometheus scrapes
(``Metrics.collect``), together with the numbers read at scrape time (``Snapshot``: feed
cache, outbox and inbox states, sign-in failures), so nothing has to be kept in step.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Writes into people's calendars take seconds, and minutes when their servers are slow.
SLOW_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """Counts per bucket and a sum: ``observe`` is a bisect and two additions."""

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


@dataclass
class Snapshot:
    """Numbers read when Prometheus scrapes."""

    outbox: dict[str, int] = field(default_factory=dict)  # status -> messages
    webhook_deliveries: dict[str, int] = field(default_factory=dict)  # status -> deliveries
    inbox_failed: int = 0
    inbox_waiting: int = 0
    feed_cache_entries: int = 0
    feed_cache_bytes: int = 0
    login_failures: dict[str, int] = field(default_factory=dict)  # where -> failures
    login_refused: dict[str, int] = field(default_factory=dict)  # where -> 429 answers
    inbound_refused: int = 0  # inbound items past the bridge's rate limits
    calendar_accounts: tuple[int, int, int] = (0, 0, 0)  # accounts, failing, writes waiting


class Metrics(Collector):
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()  # method, route, status
        self.durations: dict[str, Histogram] = {}  # route -> seconds
        self.feeds: Counter[str] = Counter()  # hit, rendered, not_modified
        self.render = Histogram()  # seconds to render a feed
        # seconds from a booking's change to its event in place in a connected calendar
        self.calendar_writes = Histogram(SLOW_BUCKETS)
        self.snapshot = Snapshot()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        histogram = self.durations.get(route)
        if histogram is None:
            histogram = self.durations[route] = Histogram()
        histogram.observe(seconds)

    def exposition(self, snapshot: Snapshot) -> bytes:
        self.snapshot = snapshot
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "feedserver_http_requests",
            "HTTP requests answered, by route and status",
            labels=("method", "route", "status"),
        )
        for (method, route, status), count in sorted(self.requests.items()):
            requests.add_metric((method, route, str(status)), count)
        yield requests
        durations = HistogramMetricFamily(
            "feedserver_http_request_duration_seconds",
            "Time to answer a request, by route",
            labels=("route",),
        )
        for route, histogram in sorted(self.durations.items()):
            durations.add_metric((route,), histogram.buckets(), histogram.total)
        yield durations
        feeds = CounterMetricFamily(
            "feedserver_feed_requests",
            "Feed requests: hit (served from the cache), rendered, not_modified (304)",
            labels=("result",),
        )
        for result in ("hit", "rendered", "not_modified"):
            feeds.add_metric((result,), self.feeds[result])
        yield feeds
        render = HistogramMetricFamily(
            "feedserver_feed_render_seconds", "Time to render a feed that was not cached"
        )
        render.add_metric((), self.render.buckets(), self.render.total)
        yield render
        snap = self.snapshot
        yield GaugeMetricFamily(
            "feedserver_feed_cache_entries", "Rendered feeds in memory", snap.feed_cache_entries
        )
        yield GaugeMetricFamily(
            "feedserver_feed_cache_bytes",
            "Bytes of rendered feeds in memory",
            snap.feed_cache_bytes,
        )
        outbox = GaugeMetricFamily(
            "feedserver_outbox_messages",
            "Emails in the outbox by status (pending is the backlog, failed gave up)",
            labels=("status",),
        )
        for state in sorted({"pending", "sent", "failed", *snap.outbox}):
            outbox.add_metric((state,), snap.outbox.get(state, 0))
        yield outbox
        deliveries = GaugeMetricFamily(
            "feedserver_webhook_deliveries",
            "Webhook deliveries by status (pending is the backlog, failed gave up)",
            labels=["status"],
        )
        for state in sorted(
            {"pending", "sending", "delivered", "failed", *snap.webhook_deliveries}
        ):
            deliveries.add_metric((state,), snap.webhook_deliveries.get(state, 0))
        yield deliveries
        inbox = GaugeMetricFamily(
            "feedserver_inbox_items",
            "Inbound calendar items: failed, or received and not yet processed",
            labels=("status",),
        )
        inbox.add_metric(("failed",), snap.inbox_failed)
        inbox.add_metric(("received",), snap.inbox_waiting)
        yield inbox
        failures = CounterMetricFamily(
            "feedserver_login_failures",
            "Failed sign-ins: http_basic (API and CalDAV) and web (the sign-in page)",
            labels=("where",),
        )
        refused = CounterMetricFamily(
            "feedserver_login_throttled",
            "Sign-ins answered 429 (too many failures from the account or address)",
            labels=("where",),
        )
        for where in sorted(snap.login_failures):
            failures.add_metric((where,), snap.login_failures[where])
            refused.add_metric((where,), snap.login_refused.get(where, 0))
        yield failures
        yield refused
        writes = HistogramMetricFamily(
            "feedserver_calendar_write_seconds",
            "Time from a booking's change to its event written in a connected calendar account",
        )
        writes.add_metric((), self.calendar_writes.buckets(), self.calendar_writes.total)
        yield writes
        accounts, failing, waiting = snap.calendar_accounts
        yield GaugeMetricFamily(
            "feedserver_calendar_accounts", "Connected calendar accounts", accounts
        )
        yield GaugeMetricFamily(
            "feedserver_calendar_accounts_failing",
            "Connected calendar accounts marked failing (refused, or failing for a day)",
            failing,
        )
        yield GaugeMetricFamily(
            "feedserver_calendar_writes_waiting",
            "Bookings waiting to be written into connected calendar accounts",
            waiting,
        )
        yield CounterMetricFamily(
            "feedserver_inbound_rate_limited",
            "Inbound items refused past bridge.sender_items_per_hour or source_items_per_hour "
            "(HTTP and CalDAV 429, SMTP 451)",
            snap.inbound_refused,
        )
