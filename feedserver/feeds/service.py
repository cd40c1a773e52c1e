"""Serving feeds at static-file speed.

Links live in memory (refreshed from the change log), so a request for a feed verifies its
signature and looks its link up without touching SQLite. Rendered feeds are cached per link,
with their strong ETag, Last-Modified and (once a client asked for it) gzip form, until a change
that concerns them arrives:
a booking change drops exactly the feeds that showed the booking or would show it now; a change
of a location, type, user or template drops every feed (they are rare and may change any text).
The first render after a change reuses the VEVENT fragments of the bookings that did not change.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import gzip
import hashlib
import logging
import time as time_module
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from urllib.parse import quote

from feedserver.calendar.render import FragmentCache, Viewer, render_calendar
from feedserver.config import FeedsConfig
from feedserver.domain.catalog import load_catalog
from feedserver.domain.feed_links import link_query
from feedserver.domain.meetings import MeetingService
from feedserver.errors import LinkRevoked, LinkSuspended, NotFound
from feedserver.metrics import Histogram
from feedserver.model import FeedLink
from feedserver.store import Change, Store, StoreRunner
from feedserver.times import utcnow
from feedserver.tokens import InvalidToken, LinkSigner, same_nonce

log = logging.getLogger(__name__)

_CATALOG_ENTITIES = {"location", "type", "user", "feed_template"}
_VERIFIED_TOKENS = 10_000  # signatures checked once, then remembered (bounded)


@dataclass(eq=False)
class RenderedFeed:
    link_id: int
    link_updated: datetime
    day: date
    body: bytes
    etag: str  # the hash; the identity ETag is "etag", the gzip one "etag-gz"
    last_modified: datetime
    last_modified_http: str
    content_disposition: str
    booking_ids: frozenset[int]
    # If-None-Match values that match exactly (either coding, strong or weak): a set lookup.
    etag_values: frozenset[str] = frozenset()
    # Response headers, computed once per rendering by the HTTP layer.
    http_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    # The gzip form, made the first time a client asks for it (``FeedService.gzipped``).
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


class FeedCache:
    """Rendered feeds by link id, bounded by count and bytes (least recently used dropped)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[int, RenderedFeed] = OrderedDict()

    def get(self, link_id: int) -> RenderedFeed | None:
        found = self._items.get(link_id)
        if found is not None:
            self._items.move_to_end(link_id)
        return found

    def put(self, feed: RenderedFeed) -> set[int]:
        """Keep a rendering; returns the link ids of the renderings evicted for it."""
        self.drop(feed.link_id)
        if self.max_entries == 0 or feed.size > self.max_bytes:
            return {feed.link_id}
        self._items[feed.link_id] = feed
        self.bytes += feed.size
        evicted = set()
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= dropped.size
            evicted.add(dropped.link_id)
        return evicted

    def grew(self, feed: RenderedFeed, size: int) -> None:
        """A kept rendering got its gzip form: count it."""
        if self._items.get(feed.link_id) is feed:
            self.bytes += size

    def drop(self, link_id: int) -> None:
        dropped = self._items.pop(link_id, None)
        if dropped is not None:
            self.bytes -= dropped.size

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def items(self) -> list[RenderedFeed]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def content_disposition(name: str) -> str:
    """``inline`` with an ASCII filename and, for other names, the RFC 6266 UTF-8 form too."""
    stem = name.strip()[:80] or "bookings"
    ascii_stem = "".join(c if c.isascii() and (c.isalnum() or c in " -_.") else "_" for c in stem)
    value = f'inline; filename="{ascii_stem}.ics"'
    if ascii_stem != stem:
        value += f"; filename*=UTF-8''{quote(stem + '.ics', safe='')}"
    return value


class FeedGate:
    """Feeds are the background: they yield to the requests people wait for.

    At most ``burst`` feed requests start in one turn of the event loop; while other work is
    under way (the store thread or a CalDAV thread busy: API writes, pages, CalDAV), only one
    a millisecond: the others wait, in order. Without this, a flood of feed polls keeps the
    event loop thread busy all the time, and every time the store thread or a CalDAV thread
    needs the GIL back (at each SQLite call) it waits for the loop to let go of it: a write
    took hundreds of milliseconds under 1,000 feed clients. An idle loop lets go at once."""

    def __init__(self, burst: int) -> None:
        self.burst = burst
        self.others: list[Callable[[], bool]] = []  # "is there other work under way?"
        self.started = 0  # feed requests started in this turn
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._turn_scheduled = False

    def yield_to(self, busy: Callable[[], bool]) -> None:
        self.others.append(busy)

    def busy(self) -> bool:
        return any(busy() for busy in self.others)

    def admit(self) -> bool:
        """Whether a feed request may start now (no await: the hot path)."""
        if self.burst <= 0:
            return True
        if self.started < self.burst and not self.waiting and not self.busy():
            self.started += 1
            self._next_turn()
            return True
        return False

    async def wait(self) -> None:
        """Wait for a turn with room."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self._next_turn()
        await future

    def _next_turn(self) -> None:
        if not self._turn_scheduled:
            self._turn_scheduled = True
            loop = asyncio.get_running_loop()
            if self.busy():  # check again in a millisecond, the loop idle meanwhile
                loop.call_later(0.001, self._turn)
            else:
                loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._turn_scheduled = False
        self.started = 0
        room = 1 if self.busy() else self.burst
        while self.waiting and self.started < room:
            future = self.waiting.popleft()
            if not future.done():  # its client may have gone
                future.set_result(None)
                self.started += 1
        if self.waiting or self.started:
            self._next_turn()


class FeedService:
    def __init__(
        self,
        runner: StoreRunner,
        signer: LinkSigner,
        config: FeedsConfig,
        meetings: MeetingService,
        render_seconds: Histogram | None = None,
    ) -> None:
        self.runner = runner
        self.render_seconds = render_seconds or Histogram()
        self.gate = FeedGate(config.burst)
        self.gate.yield_to(lambda: runner.busy)
        self.meetings = meetings
        self.signer = signer
        self.config = config
        self.links: dict[int, FeedLink] = {}
        self.cache = FeedCache(config.cache_entries, config.cache_max_mb * 1024 * 1024)
        self.fragments = FragmentCache()
        self.renders = 0
        self._generation: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._usage: dict[int, tuple[int, float, str]] = {}
        self._verified: dict[str, tuple[int, str]] = {}
        # token -> its current rendering: one dict lookup for a feed that did not change.
        # Entries go with every invalidation of their link and every eviction from the cache.
        self._hot: dict[str, RenderedFeed] = {}
        self._today = date.min
        self._day_ends = 0.0

    async def load(self) -> None:
        links = await self.runner.run(lambda s: s.feed_links.list())
        self.links = {link.id: link for link in links}

    # -- serving ----------------------------------------------------------------------------

    def signed(self, token: str) -> bool:
        """Whether the token's signature was found genuine (by ``link_for_token``)."""
        return token in self._verified

    def link_for_token(self, token: str) -> FeedLink:
        verified = self._verified.get(token)
        if verified is None:
            try:
                verified = self.signer.unsign(token)
            except InvalidToken:
                raise NotFound("no such feed") from None
            if len(self._verified) >= _VERIFIED_TOKENS:
                self._verified.clear()
            self._verified[token] = verified  # only genuine signatures are remembered
        link_id, nonce = verified
        link = self.links.get(link_id)
        if link is None or not same_nonce(nonce, link.nonce):
            raise NotFound("no such feed")
        if link.revoked_at is not None:
            raise LinkRevoked("this feed link was revoked")
        if not link.owner_active:
            raise LinkSuspended("the account this feed link belongs to is deactivated")
        return link

    def today(self) -> date:
        """The current UTC day, recomputed only when a day has passed."""
        now = time_module.time()
        if now >= self._day_ends:
            current = datetime.fromtimestamp(now, UTC)
            self._today = current.date()
            self._day_ends = datetime.combine(
                self._today + timedelta(days=1), time(0), UTC
            ).timestamp()
        return self._today

    def cached(self, token: str) -> RenderedFeed | None:
        """The feed for a token if its rendering is current (no await: the hot path);
        NotFound or LinkRevoked for a bad token."""
        hot = self._hot.get(token)
        if hot is not None and hot.day == self.today():
            return hot
        link = self.link_for_token(token)
        cached = self.cache.get(link.id)
        if cached is None or cached.link_updated != link.updated_at or cached.day != self.today():
            return None
        if len(self._hot) >= _VERIFIED_TOKENS:
            self._hot.clear()
        self._hot[token] = cached
        return cached

    async def feed(self, token: str) -> RenderedFeed:
        found = self.cached(token)
        if found is not None:
            return found
        async with self._locks.setdefault(self.link_for_token(token).id, asyncio.Lock()):
            found = self.cached(token)  # rendered by another request while this one waited
            if found is not None:
                return found
            link = self.link_for_token(token)
            today = self.today()
            generation = self._generation.get(link.id, 0)
            rendered = await self.runner.run(lambda s: self._render(s, link, today))
            current = self.links.get(link.id)
            if current is not None:  # possibly changed meanwhile: keep its other fields
                self.links[link.id] = dataclasses.replace(
                    current, content_etag=rendered.etag, content_changed_at=rendered.last_modified
                )
            if self._generation.get(link.id, 0) == generation:
                evicted = self.cache.put(rendered)
                if evicted:
                    self._forget_hot(evicted)
            return rendered

    async def gzipped(self, feed: RenderedFeed) -> bytes:
        """The rendering's gzip form: compressed once, off the event loop, then kept."""
        if feed.gzipped is None:
            loop = asyncio.get_running_loop()
            compressed = await loop.run_in_executor(None, _gzip, feed.body)
            if feed.gzipped is None:
                feed.gzipped = compressed
                self.cache.grew(feed, len(compressed))
        return feed.gzipped

    def window(self, today: date) -> tuple[datetime, datetime]:
        midnight = datetime.combine(today, time(0), UTC)
        return (
            midnight - timedelta(days=self.config.window_days_past),
            midnight + timedelta(days=self.config.window_days_ahead + 1),
        )

    def _render(self, store: Store, link: FeedLink, today: date) -> RenderedFeed:
        """Runs on the store thread (which also owns the fragment cache)."""
        started = time_module.perf_counter()
        owner = store.users.get(link.user_id)
        if owner is None:
            raise NotFound("no such feed")
        start, end = self.window(today)
        keys = store.bookings.keys(link_query(link, owner, start, end))
        catalog = load_catalog(store, (k.staff_id for k in keys))

        refresh = timedelta(minutes=self.config.refresh_interval_minutes)
        events = render_calendar(
            link.name,
            keys,
            self.meetings.loader(store, owner),
            catalog,
            Viewer(owner, link.filters),
            self.fragments,
            refresh,
        )
        self.renders += 1
        self.render_seconds.observe(time_module.perf_counter() - started)
        etag = hashlib.sha256(events.body).hexdigest()[:32]
        # As the store has it now: another process may have rendered this content first,
        # and its Last-Modified is the one every process must answer with.
        stored = store.feed_links.get(link.id) or link
        changed_at = stored.content_changed_at
        if etag != stored.content_etag or changed_at is None:
            changed_at = utcnow()
            store.feed_links.record_content(link.id, etag, changed_at)
        return RenderedFeed(
            link_id=link.id,
            link_updated=link.updated_at,
            day=today,
            body=events.body,
            etag=etag,
            last_modified=changed_at,
            last_modified_http=format_datetime(changed_at, usegmt=True),
            content_disposition=content_disposition(link.name),
            booking_ids=events.booking_ids,
            etag_values=frozenset(
                f'{weak}"{etag}{coding}"' for weak in ("", "W/") for coding in ("", "-gz")
            ),
        )

    # -- invalidation -----------------------------------------------------------------------

    def _invalidate(self, link_id: int) -> None:
        self._generation[link_id] = self._generation.get(link_id, 0) + 1
        self.cache.drop(link_id)
        self._forget_hot({link_id})

    def _forget_hot(self, link_ids: set[int]) -> None:
        for token in [t for t, feed in self._hot.items() if feed.link_id in link_ids]:
            del self._hot[token]

    async def on_changes(self, changes: list[Change]) -> None:
        link_ids = {c.entity_id for c in changes if c.entity == "feed_link"}
        booking_ids = {c.entity_id for c in changes if c.entity == "booking"}
        if any(c.entity in _CATALOG_ENTITIES for c in changes):
            for link_id in list(self.links):
                self._invalidate(link_id)
            await self.runner.run(lambda s: self.fragments.clear())
        if link_ids:
            fresh = await self.runner.run(lambda s: [s.feed_links.get(i) for i in link_ids])
            for link in fresh:
                if link is not None:
                    self.links[link.id] = link
                    self._invalidate(link.id)
        if booking_ids and len(self.cache):
            affected = await self.runner.run(lambda s: self._affected(s, booking_ids))
            for link_id in affected:
                self._invalidate(link_id)

    def _affected(self, store: Store, booking_ids: set[int]) -> set[int]:
        """Cached feeds that showed one of the bookings, or whose filters match it now."""
        affected = set()
        for feed in self.cache.items():
            link = self.links.get(feed.link_id)
            owner = store.users.get(link.user_id) if link else None
            if link is None or owner is None or feed.booking_ids & booking_ids:
                affected.add(feed.link_id)
                continue
            start, end = self.window(feed.day)
            query = dataclasses.replace(
                link_query(link, owner, start, end), ids=sorted(booking_ids)
            )
            if store.bookings.ids(query):
                affected.add(feed.link_id)
        return affected

    # -- usage ------------------------------------------------------------------------------

    def record_fetch(self, link_id: int, user_agent: str, at: float) -> None:
        """Count a fetch of a link at ``at`` (``time.time()``); written by ``flush_usage``."""
        found = self._usage.get(link_id)
        self._usage[link_id] = (found[0] + 1 if found else 1, at, user_agent[:300])

    async def flush_usage(self) -> None:
        pending, self._usage = self._usage, {}
        if not pending:
            return

        def write(store: Store) -> None:
            with store.transaction():
                for link_id, (count, last, agent) in pending.items():
                    moment = datetime.fromtimestamp(int(last), UTC)
                    store.feed_links.record_fetches(link_id, count, moment, agent)

        await self.runner.run(write)

    async def flush_usage_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.usage_flush_seconds)
            try:
                await self.flush_usage()
            except Exception:
                log.exception("could not record feed usage")
