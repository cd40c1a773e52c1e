"""Busy calendar sync: fetch each staff member's calendar URL, keep its busy times.

Every ``availability.poll_minutes`` every calendar is read (at most ``CONCURRENCY`` at once)
with If-None-Match / If-Modified-Since, so an unchanged calendar answers 304 and costs nothing
more. A read is bounded in time (``TIMEOUT``) and size (``availability.max_calendar_bytes``).
Addresses are refused when they resolve to loopback, private, link-local (cloud metadata) or
other special networks, unless ``availability.allow_private_networks``: every address a name
resolves to is checked when the connection is made, and redirects (at most 5) are followed
one by one and checked again. On any failure the busy times last read are kept and the error
is shown in ``last_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import aiohttp
from caldav.davclient import DAVClient
from caldav.elements import dav

from feedserver import netguard
from feedserver.cluster import Lease, Node
from feedserver.config import AvailabilityConfig
from feedserver.domain import busy, events
from feedserver.model import BusyCalendar
from feedserver.netguard import Refused
from feedserver.store import Store, StoreRunner
from feedserver.times import utcnow
from feedserver.tokens.credentials import CredentialBox

log = logging.getLogger(__name__)

CONCURRENCY = 4
# Reads a connected calendar account for busy times: (state, iCalendar texts) between two
# instants (``feedserver.calendar_accounts.writer.AccountWriter.read_busy``).
AccountReader = Callable[[BusyCalendar, datetime, datetime], Awaitable[tuple[str, list[bytes]]]]
TIMEOUT = aiohttp.ClientTimeout(total=20, connect=10)
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, unchanged, error
    busy_count: int
    error: str = ""


def read_caldav(
    calendar: BusyCalendar,
    password: str,
    start: datetime,
    end: datetime,
    public_only: bool = True,
) -> tuple[str, list[bytes]]:
    """(state, texts): every calendar of a CalDAV account, their sync-tokens (RFC 6578) as the
    state, and the events in [start, end) (only when the state changed). Runs in a worker
    thread."""
    client = DAVClient(url=calendar.url, username=calendar.username, password=password, timeout=20)
    if public_only:  # every redirect the client would follow is checked first

        def guard(response: Any, *args: Any, **kwargs: Any) -> Any:
            if response.is_redirect:
                netguard.refuse_private(urljoin(response.url, response.headers.get("Location", "")))
            return response

        cast(Any, client).session.hooks["response"].append(guard)
    calendars = cast(Any, client).principal().calendars()
    tags = []
    for found in calendars:
        try:
            tag = found.get_property(dav.SyncToken())
        except Exception:  # a server without sync-tokens: read every time
            tag = None
        tags.append(f"{found.url}={tag or '*'}")
    state = "|".join(sorted(tags))
    if state == calendar.etag and "=*" not in state:
        return state, []
    texts = []
    for found in calendars:
        for item in found.search(start=start, end=end, event=True, expand=False):
            texts.append(item.data.encode() if isinstance(item.data, str) else item.data)
    return state, texts


class BusySync:
    def __init__(
        self,
        runner: StoreRunner,
        config: AvailabilityConfig,
        box: CredentialBox,
        node: Node | None = None,
        accounts: AccountReader | None = None,
    ) -> None:
        """``node``: this process, when others share the store: the calendars are read
        where the lease "busy-calendars" is held, once a poll for the whole cluster.
        ``accounts`` reads a connected calendar account (``kind`` account)."""
        self.runner = runner
        self.config = config
        self.box = box
        self.accounts = accounts
        self.lease = (
            Lease(runner, node, "busy-calendars", config.poll_minutes * 60) if node else None
        )
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def check(self, url: str) -> None:
        """Refused (with why) when ``url`` is aimed at a private or special address."""
        if not self.config.allow_private_networks:
            await netguard.check(url)

    def _session(self) -> aiohttp.ClientSession:
        connector = netguard.connector(CONCURRENCY, self.config.allow_private_networks)
        return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)

    async def _fetch(
        self, http: aiohttp.ClientSession, calendar: BusyCalendar
    ) -> tuple[int, bytes, str, str]:
        """(status, body, etag, last-modified) of the calendar's URL, redirects followed."""
        url = calendar.url
        headers = {"Accept": "text/calendar, */*;q=0.5", "User-Agent": "feedserver busy-sync"}
        if calendar.etag:
            headers["If-None-Match"] = calendar.etag
        if calendar.last_modified:
            headers["If-Modified-Since"] = calendar.last_modified
        for _ in range(MAX_REDIRECTS + 1):
            if not self.config.allow_private_networks and netguard.literal_private(url):
                raise Refused(f"{urlsplit(url).hostname} is a private address")
            async with http.get(url, headers=headers, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location", "")
                    url = busy.normalise_url(urljoin(url, location))
                    continue
                if response.status == 304:
                    return 304, b"", calendar.etag, calendar.last_modified
                if response.status != 200:
                    raise Refused(f"HTTP {response.status} {response.reason or ''}".strip())
                limit = self.config.max_calendar_bytes
                body = await netguard.read_limited(response, limit + 1)
                if len(body) > limit:
                    raise Refused(f"the calendar is larger than {limit} bytes")
                return (
                    200,
                    body,
                    response.headers.get("ETag", ""),
                    response.headers.get("Last-Modified", ""),
                )
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    async def refresh(self, calendar: BusyCalendar) -> Outcome:
        """Read one calendar now and keep what it says (or the error)."""
        async with self._limit, self._session() as http:
            return await self._refresh(http, calendar)

    async def _refresh(self, http: aiohttp.ClientSession, calendar: BusyCalendar) -> Outcome:
        now = utcnow()
        try:
            if calendar.kind in ("caldav", "account"):
                return await self._refresh_caldav(calendar)
            status, body, etag, modified = await self._fetch(http, calendar)
            if status == 304:
                await self.runner.run(lambda s: self._mark(s, calendar.id, "unchanged", "", now))
                return Outcome("unchanged", calendar.busy_count)
            owner = await self.runner.run(lambda s: s.users.get(calendar.user_id))
            if owner is None:
                raise Refused("the calendar's owner is gone")
            hours = await self.runner.run(lambda s: s.working_hours.get(owner.id))
            timezone = hours.timezone if hours else owner.timezone
            horizon = timedelta(days=self.config.horizon_days)
            found = await asyncio.to_thread(
                busy.busy_times, body, owner.email, timezone, now - timedelta(days=1), now + horizon
            )
        except (Refused, busy.NotACalendar, aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                error = "no answer in time"
            elif isinstance(exc, aiohttp.ClientConnectorError):
                error = f"cannot connect to {urlsplit(calendar.url).hostname}: {exc.os_error}"
            await self.runner.run(lambda s: self._mark(s, calendar.id, "error", error, now))
            return Outcome("error", calendar.busy_count, error)

        def keep(store: Store) -> None:
            with store.transaction():
                current = store.busy_calendars.get(calendar.id)
                if current is not None:
                    store.busy_calendars.replace_busy(current, found, etag, modified, now)

        await self.runner.run(keep)
        return Outcome("ok", len(found))

    async def _window(self, calendar: BusyCalendar) -> tuple[str, str, datetime, datetime]:
        """(owner email, zone, start, end) the calendar is read for."""
        owner = await self.runner.run(lambda s: s.users.get(calendar.user_id))
        if owner is None:
            raise Refused("the calendar's owner is gone")
        hours = await self.runner.run(lambda s: s.working_hours.get(owner.id))
        now = utcnow()
        horizon = timedelta(days=self.config.horizon_days)
        return (
            owner.email,
            hours.timezone if hours else owner.timezone,
            now - timedelta(days=1),
            now + horizon,
        )

    async def _refresh_caldav(self, calendar: BusyCalendar) -> Outcome:
        """Every calendar of a CalDAV account; unchanged sync-tokens cost one PROPFIND each."""
        now = utcnow()
        try:
            email, timezone, start, end = await self._window(calendar)
            if calendar.kind == "account":
                if self.accounts is None:
                    raise Refused("connected calendar accounts are not read here")
                state, texts = await self.accounts(calendar, start, end)
            else:
                await self.check(calendar.url)
                password = self.box.open(calendar.secret)
                public_only = not self.config.allow_private_networks
                state, texts = await asyncio.to_thread(
                    read_caldav, calendar, password, start, end, public_only
                )
            if not texts and state == calendar.etag and calendar.last_synced_at is not None:
                await self.runner.run(lambda s: self._mark(s, calendar.id, "unchanged", "", now))
                return Outcome("unchanged", calendar.busy_count)
            limit = self.config.max_calendar_bytes
            if sum(len(text) for text in texts) > limit:
                raise Refused(f"the account's events are larger than {limit} bytes")
            # Parsing and expanding the events is CPU work: off the event loop, as for feeds.
            found = await asyncio.to_thread(
                lambda: [
                    busy_time
                    for text in texts
                    for busy_time in busy.busy_times(text, email, timezone, start, end)
                ]
            )
        except Exception as exc:  # the caldav client raises its own errors for every failure
            error = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            await self.runner.run(lambda s: self._mark(s, calendar.id, "error", error, now))
            return Outcome("error", calendar.busy_count, error)

        def keep(store: Store) -> None:
            with store.transaction():
                current = store.busy_calendars.get(calendar.id)
                if current is not None:
                    store.busy_calendars.replace_busy(current, found, state, "", now)

        await self.runner.run(keep)
        return Outcome("ok", len(found))

    @staticmethod
    def _mark(store: Store, calendar_id: int, status: str, error: str, at: Any) -> None:
        with store.transaction():
            before = store.busy_calendars.get(calendar_id)
            store.busy_calendars.mark(calendar_id, status, error, at)
            if status == "error" and before is not None and before.last_error != error:
                events.busy_calendar_failed(store, before, error)  # each new error once

    async def sync_all(self) -> int:
        calendars = await self.runner.run(lambda s: s.busy_calendars.list())
        if not calendars:
            return 0
        async with self._session() as http:

            async def one(calendar: BusyCalendar) -> None:
                async with self._limit:
                    await self._refresh(http, calendar)

            await asyncio.gather(*(one(c) for c in calendars))
        return len(calendars)

    async def _forever(self) -> None:
        # The busy times read before a restart are in the store: the first pass waits a
        # poll, so starting the server reads no calendar.
        while True:
            await asyncio.sleep(self.config.poll_minutes * 60)
            try:
                if self.lease is None or await self.lease.held():
                    await self.sync_all()
            except Exception:
                log.exception("busy calendar sync failed")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="busy-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.lease is not None:
            await self.lease.release()
