"""Writing bookings into connected calendar accounts.

The queue (``calendar_account_jobs``) holds one row per account and booking, written in the
transaction of the booking's change (``feedserver.domain.calendar_accounts``). A job says
"bring this booking up to date there": the writer reads the booking as it is now, renders it
as the feeds do (without ORGANIZER or ATTENDEE: no provider sends an invitation), and

- PUTs it with ``If-None-Match: *`` when it has not been written, with ``If-Match`` and the
  ETag kept from the last write otherwise, and keeps the new href and ETag;
- skips it when what it would write is what it wrote (a SHA-256 of the text is kept);
- DELETEs it (``If-Match``) when the booking is cancelled, gone, or out of the filters.

A 412 means the person changed the event there: what they wrote is kept in the account's
log, and the booking's version is written over it (with the ETag just read). Only hrefs
feedserver wrote are ever written or deleted (their names are in the account's namespace).

Fairness and order: a process writes up to ``calendar_accounts.concurrency`` accounts at once,
each by one task that takes at most ``per_account_batch`` of its jobs, oldest first, one
request at a time; an account whose task is running (here or on another node) is not taken
again, so one slow server holds back only its own account. A failure of the account's
server (5xx, 429, timeouts, refused connections) stops its batch: the account waits
(``Retry-After``, or the next step of ``retry_schedule_seconds`` with jitter) and its jobs
stay queued; after ``failing_after_hours`` of failures, or at once when the server refuses
the credentials (401), it is marked ``failing`` with the reason (the account's page,
``/healthz``). Nothing is lost: a job leaves the queue only when its write is done, and a
job whose booking changed again while it was written stays for another turn.

A resync (``booking_id`` 0; asked for, or after reconnecting) lists the calendar by href and
ETag, and queues every booking whose event is missing there, differs from what was written,
or should no longer be there; events of the namespace that no booking explains are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

from feedserver.calendar.render import Viewer, render_item
from feedserver.calendar_accounts.access import Access
from feedserver.calendar_accounts.dav import (
    DavClient,
    DavFailure,
    Refused,
    Unavailable,
    collection_url,
)
from feedserver.cluster import Node
from feedserver.config import CalendarAccountsConfig
from feedserver.domain import calendar_accounts as rules
from feedserver.domain.catalog import load_catalog
from feedserver.domain.meetings import MeetingService
from feedserver.metrics import Histogram
from feedserver.model import AccountJob, BusyCalendar, CalendarAccount, User, WrittenEvent
from feedserver.store import Change, Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.2  # after a change, how long the writer waits for the rest of a burst


def url_key(url: str) -> str:
    """One spelling of an URL's path, for comparing what servers list with what was kept."""
    return unquote(urlsplit(url).path)


@dataclass(frozen=True)
class Plan:
    """What one booking needs in an account: ``body`` None means no event."""

    booking_id: int
    item: WrittenEvent | None
    body: bytes | None
    href: str


@dataclass
class Outcome:
    """What an account's turn came to, to record in one transaction."""

    kept: list[WrittenEvent] = dataclasses.field(default_factory=list)
    forgotten: list[int] = dataclasses.field(default_factory=list)
    done: list[AccountJob] = dataclasses.field(default_factory=list)
    left: list[AccountJob] = dataclasses.field(default_factory=list)
    logs: list[tuple[int | None, str, str]] = dataclasses.field(default_factory=list)
    queued: list[int] = dataclasses.field(default_factory=list)
    failure: DavFailure | None = None
    wrote: bool = False


class AccountWriter:
    def __init__(
        self,
        runner: StoreRunner,
        config: CalendarAccountsConfig,
        access: Access,
        meetings: MeetingService,
        node: Node,
        latency: Histogram | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        """``latency``: where the time from a booking's change to its event written is
        counted (the ``/metrics`` histogram)."""
        self.runner = runner
        self.config = config
        self.access = access
        self.meetings = meetings
        self.node = node
        self.poll_seconds = poll_seconds
        self.latency = latency or Histogram()
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()  # set by stop(): ends a gathering wait at once
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._running: dict[int, asyncio.Task[None]] = {}

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        released = await self.runner.run(
            lambda s: s.calendar_accounts.release_interrupted(self.node.name)
        )
        if released:
            log.warning("calendar writes interrupted by the last stop are queued again")
        self._http = self.access.session(self.config.concurrency * 2)
        self._task = asyncio.create_task(self._run(), name="calendar-accounts")

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the writes under way, hand the rest back, and stop."""
        self._stopping = True
        self._halt.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("calendar writes interrupted at shutdown")
        if self._http is not None:
            await self._http.close()

    async def on_changes(self, changes: list[Change]) -> None:
        if any(c.entity in ("calendar_account_job", "calendar_account") for c in changes):
            self._wake.set()

    async def _run(self) -> None:
        last_sweep = 0.0
        while not self._stopping:
            try:
                if time.monotonic() - last_sweep > self.node.lease_seconds:
                    last_sweep = time.monotonic()
                    await self.runner.run(lambda s: s.calendar_accounts.release_expired(utcnow()))
                await self._start_due()
            except Exception:
                log.exception("calendar writing failed")
            waiting = [asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(
                [*self._running.values(), *waiting],
                timeout=self.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in waiting:
                task.cancel()
            if self._wake.is_set() and not self._stopping:
                # Changes come in bursts: a moment's wait makes one turn of several.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), GATHER_SECONDS)
            self._wake.clear()
            for account_id, running in list(self._running.items()):
                if running.done():
                    del self._running[account_id]
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _start_due(self) -> None:
        while not self._stopping:
            free = self.config.concurrency - len(self._running)
            if free <= 0:
                return
            claimed = await self.runner.run(partial(self._claim, free))
            if not claimed:
                return
            for account_id, jobs in claimed.items():
                self._running[account_id] = asyncio.create_task(
                    self._turn(account_id, jobs), name=f"calendar-account-{account_id}"
                )

    def _claim(self, accounts: int, store: Store) -> dict[int, list[AccountJob]]:
        now = utcnow()
        jobs = store.calendar_accounts.claim(
            now, self.node.name, self.node.until(now), self.config.per_account_batch, accounts
        )
        grouped: dict[int, list[AccountJob]] = {}
        for job in jobs:
            grouped.setdefault(job.account_id, []).append(job)
        return grouped

    # -- one account's turn -------------------------------------------------------------------

    async def _turn(self, account_id: int, jobs: list[AccountJob]) -> None:
        assert self._http is not None, "start() first"
        try:
            writes = [j.booking_id for j in jobs if j.booking_id != rules.RESYNC]
            found = await self.runner.run(partial(self._prepare, account_id, writes))
            if found is None:
                return  # disconnected meanwhile: its jobs went with it
            account, owner, plans = found
            outcome = Outcome()
            try:
                client = await self.access.client(self._http, account)
                await self._work(client, account, owner, jobs, plans, outcome)
            except Refused:
                if account.provider != "google" or outcome.wrote:
                    raise
                # A Google token may be revoked or may just have expired early: once more
                # with a fresh one.
                client = await self.access.client(self._http, account, fresh=True)
                await self._work(client, account, owner, jobs, plans, Outcome())
        except DavFailure as exc:
            failed = Outcome(failure=exc, left=jobs)
            await self.runner.run(partial(self._record, account_id, failed))
        except Exception:
            log.exception("calendar account turn failed", extra={"account_id": account_id})
            await self.runner.run(lambda s: s.calendar_accounts.release([j.id for j in jobs]))

    async def _work(
        self,
        client: DavClient,
        account: CalendarAccount,
        owner: User,
        jobs: list[AccountJob],
        plans: dict[int, Plan],
        outcome: Outcome,
    ) -> None:
        outcome.left = list(jobs)
        try:
            for job in jobs:
                if self._stopping:
                    break
                try:
                    if job.booking_id == rules.RESYNC:
                        await self._resync(client, account, owner, outcome)
                    else:
                        await self._write(client, account, plans[job.booking_id], outcome)
                except EventRefused as exc:
                    outcome.logs.append((exc.booking_id, "refused", str(exc)))
                outcome.done.append(job)
                outcome.left.remove(job)
        except DavFailure as exc:
            if isinstance(exc, Refused) and account.provider == "google" and not outcome.wrote:
                raise
            outcome.failure = exc
        await self.runner.run(partial(self._record, account.id, outcome))

    def _prepare(
        self, account_id: int, booking_ids: Sequence[int], store: Store
    ) -> tuple[CalendarAccount, User, dict[int, Plan]] | None:
        """The account, its owner and what each booking needs there (one store call)."""
        found = _account_and_owner(store, account_id)
        if found is None:
            return None
        account, owner = found
        return account, owner, self._plan(account, owner, booking_ids, store)

    def _plan(
        self, account: CalendarAccount, owner: User, booking_ids: Sequence[int], store: Store
    ) -> dict[int, Plan]:
        """What each booking needs in the account, rendered as the feeds render it."""
        now = utcnow()
        wanted = set(
            store.bookings.ids(rules.query(account, owner, now, self.config.past_days, booking_ids))
        )
        bookings, links = self.meetings.loader(store, owner)(sorted(wanted))
        catalog = load_catalog(store, (b.staff_id for b in bookings.values()))
        viewer = Viewer(owner, account.filters)
        plans = {}
        for booking_id in booking_ids:
            item = store.calendar_accounts.item(account.id, booking_id)
            booking = bookings.get(booking_id)
            if booking is None:
                plans[booking_id] = Plan(booking_id, item, None, item.href if item else "")
                continue
            uid, name = rules.event_name(account, booking)
            body = render_item(
                dataclasses.replace(booking, uid=uid), catalog, viewer, links.get(booking_id, "")
            )
            href = item.href if item else urljoin(collection_url(account.calendar_url), name)
            plans[booking_id] = Plan(booking_id, item, body, href)
        return plans

    async def _write(
        self, client: DavClient, account: CalendarAccount, plan: Plan, outcome: Outcome
    ) -> None:
        item = plan.item
        if plan.body is None:
            if item is not None:
                await self._remove(client, account, item, outcome)
            return
        digest = rules.digest(plan.body)
        if item is not None and item.digest == digest:
            return
        answer = await client.put(plan.href, plan.body, item.etag if item else None)
        if answer.status == 412:
            # Changed there since it was written (or written by a turn that was interrupted
            # before it kept the ETag): keep the person's version in the log, write ours.
            current = await client.get(plan.href)
            if current.status == 200:
                if item is not None:
                    outcome.logs.append(
                        (plan.booking_id, "edit_replaced", current.body.decode("utf-8", "replace"))
                    )
                answer = await client.put(plan.href, plan.body, current.etag or None)
            else:
                answer = await client.put(plan.href, plan.body, None)
        elif answer.status == 404 and item is not None:
            answer = await client.put(plan.href, plan.body, None)  # deleted there: again
        if answer.status in (404, 409) and item is None:
            raise DavFailure(
                f"the calendar {account.calendar_name or account.calendar_url} is gone from "
                "the account: connect the account again to choose a calendar"
            )
        if answer.status not in (200, 201, 204):
            excerpt = answer.body[:300].decode("utf-8", "replace").strip()
            raise_for_event(plan.booking_id, f"PUT answered {answer.status} {excerpt}".strip())
        etag = answer.etag or await client.etag_of(plan.href)
        outcome.kept.append(
            WrittenEvent(account.id, plan.booking_id, plan.href, etag, digest, utcnow())
        )
        outcome.wrote = True

    async def _remove(
        self, client: DavClient, account: CalendarAccount, item: WrittenEvent, outcome: Outcome
    ) -> None:
        answer = await client.delete(item.href, item.etag or None)
        if answer.status == 412:
            current = await client.get(item.href)
            if current.status == 200:
                outcome.logs.append(
                    (item.booking_id, "edit_removed", current.body.decode("utf-8", "replace"))
                )
                answer = await client.delete(item.href, current.etag or None)
            else:
                answer = current
        if answer.status not in (200, 204, 404, 410):
            raise_for_event(item.booking_id, f"DELETE answered {answer.status}")
        outcome.forgotten.append(item.booking_id)
        outcome.wrote = True

    async def _resync(
        self, client: DavClient, account: CalendarAccount, owner: User, outcome: Outcome
    ) -> None:
        there = {
            url_key(href): etag
            for href, etag in (await client.listing(account.calendar_url)).items()
        }
        orphans = await self.runner.run(partial(self._compare, account, owner, there))
        for href in orphans:
            answer = await client.delete(href, None)
            if answer.status in (200, 204, 404, 410):
                outcome.logs.append(
                    (None, "removed", f"an event of feedserver's no booking explains: {href}")
                )
        outcome.wrote = True

    def _compare(
        self, account: CalendarAccount, owner: User, there: dict[str, str], store: Store
    ) -> list[str]:
        """Queue what differs between the calendar (``there``: path → ETag) and the
        bookings; the URLs of the account's events that no booking explains."""
        now = utcnow()
        wanted = set(store.bookings.ids(rules.query(account, owner, now, self.config.past_days)))
        items = {i.booking_id: i for i in store.calendar_accounts.items(account.id)}
        known = {url_key(i.href) for i in items.values()}
        # Every booking is looked at again (a write of what is already there is skipped:
        # its text is compared), those changed or deleted there are written again.
        queue = sorted(wanted | set(items))
        stale: list[int] = []
        with store.transaction():
            for booking_id, item in items.items():
                present = there.get(url_key(item.href))
                if present is None:
                    store.calendar_accounts.forget_item(account.id, booking_id)  # deleted there
                elif present != item.etag:
                    stale.append(booking_id)
            store.calendar_accounts.stale(account.id, stale)
            store.calendar_accounts.enqueue(((account.id, b) for b in queue), now)
        base = collection_url(account.calendar_url)
        return [
            urljoin(base, path) for path in there if path not in known and rules.ours(account, path)
        ]

    def _record(self, account_id: int, outcome: Outcome, store: Store) -> None:
        """Keep what a turn did, in one transaction; a failure makes the account wait."""
        now = utcnow()
        accounts = store.calendar_accounts
        with store.transaction():
            if not accounts.exists(account_id):
                return
            for item in outcome.kept:
                accounts.keep_item(item)
            for booking_id in outcome.forgotten:
                accounts.forget_item(account_id, booking_id)
            for about, kind, detail in outcome.logs:
                accounts.log(account_id, about, kind, detail)
            for job in outcome.done:
                accounts.done(job)
                self.latency.observe((now - job.queued_at).total_seconds())
            left = [j.id for j in outcome.left]
            if outcome.failure is None:
                accounts.release(left)
                if outcome.done:
                    accounts.succeeded(account_id, now)
                return
            failure = outcome.failure
            accounts.attempted(left)
            before = accounts.get(account_id)
            assert before is not None
            wait = self._wait(before.failures, failure)
            was = accounts.failed(
                account_id,
                str(failure),
                now + wait,
                now,
                self.config.failing_after_hours * 3600,
                isinstance(failure, Refused),
            )
            if was is not None and was.last_error != str(failure):
                accounts.log(account_id, None, "error", str(failure))
        log.warning(
            "calendar account not written",
            extra={"account_id": account_id, "error": str(failure), "retry_in": wait.seconds},
        )

    def _wait(self, failures: int, failure: DavFailure) -> timedelta:
        if isinstance(failure, Unavailable) and failure.retry_after is not None:
            return failure.retry_after
        schedule = self.config.retry_schedule_seconds or [60.0]
        step = schedule[min(failures, len(schedule) - 1)]
        return timedelta(seconds=step * random.uniform(0.8, 1.2))

    # -- busy times ---------------------------------------------------------------------------

    async def read_busy(
        self, calendar: BusyCalendar, start: datetime, end: datetime
    ) -> tuple[str, list[bytes]]:
        """(state, texts) of a connected account read for busy times: every calendar of it
        that takes events, less the events feedserver wrote there."""
        found = await self.runner.run(lambda s: _account_and_owner(s, calendar.account_id or 0))
        if found is None:
            raise DavFailure("the calendar account is no longer connected")
        account, _owner = found
        async with self.access.session(4) as http:
            client = await self.access.client(http, account)
            home = await client.discover(account.server_url)
            texts = []
            for remote in home.calendars:
                if not remote.events:
                    continue
                for href, text in await client.events_between(remote.url, start, end):
                    if (
                        rules.ours(account, href)
                        or f"UID:feedserver-{account.uid_key}-".encode() in text
                    ):
                        continue
                    texts.append(text)
        return f"read {utcnow().isoformat()}", texts


def raise_for_event(booking_id: int, message: str) -> None:
    raise EventRefused(booking_id, message)


class EventRefused(DavFailure):
    """The server refused one event (not the account): logged, and the job is done."""

    def __init__(self, booking_id: int, message: str) -> None:
        super().__init__(message)
        self.booking_id = booking_id


def _account_and_owner(store: Store, account_id: int) -> tuple[CalendarAccount, User] | None:
    account = store.calendar_accounts.get(account_id)
    if account is None:
        return None
    owner = store.users.get(account.user_id)
    return (account, owner) if owner is not None else None
