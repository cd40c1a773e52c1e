"""The CalDAV source of the inbox: client writes to users' own calendars.

Every PUT, change and DELETE is captured in the storage subclass, inside Radicale's write lock,
stored raw in the inbox before the request answers, and processed right after. A periodic
reconciliation reads each calendar's changes since its last sync token (RFC 6578 in Radicale's
storage) and queues whatever the capture missed (a crash between the write and the inbox):
nothing is lost, and the pipeline ignores versions it has already applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from feedserver.caldav_bridge.server import RadicaleServer
from feedserver.caldav_bridge.storage import user_calendar
from feedserver.calendar.addresses import invites
from feedserver.cluster import Lease
from feedserver.inbound.inbox import InboxService
from feedserver.model import InboxFailure
from feedserver.store import Store, StoreRunner

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CaptureRules:
    """Which client writes the inbox keeps, and how much of them."""

    invite_address: str
    max_bytes: int  # one item (bridge.max_message_bytes)
    quota_bytes: int  # one user's items together (bridge.inbox_quota_mb_per_user)

    def concerns_bridge(self, text: str) -> bool:
        """The bridge's one rule (``addresses.invites``): an attendee is the invite address."""
        return invites(text, self.invite_address)


class CalendarCapture:
    def __init__(
        self,
        runner: StoreRunner,
        loop: asyncio.AbstractEventLoop,
        inbox: InboxService,
        rules: CaptureRules,
    ) -> None:
        self.runner = runner
        self.loop = loop
        self.inbox = inbox
        self.rules = rules

    def concerns_bridge(self, text: str) -> bool:
        return self.rules.concerns_bridge(text)

    def _store(self, fn: Callable[[Store], T]) -> T:
        return asyncio.run_coroutine_threadsafe(self.runner.run(fn), self.loop).result(30)

    def _done(self) -> None:
        self.loop.call_soon_threadsafe(self.inbox.wake)

    # -- called by the storage, on a Radicale thread, inside the write lock --------------------

    def put(self, path: str, href: str, text: str, uid: str, etag: str) -> None:
        self._safely(partial(_queue_put, self.rules, path, href, text, uid, etag))

    def delete(self, path: str, href: str, text: str | None) -> None:
        self._safely(partial(_queue_delete, path, href, text))

    def _safely(self, fn: Callable[[Store], None]) -> None:
        try:
            self._store(fn)
        except Exception:  # the write itself must not fail: reconciliation will catch up
            log.exception("CalDAV write not captured; the next reconciliation will")
            return
        self._done()

    # -- reconciliation ------------------------------------------------------------------------

    def _calendars(self, radicale: RadicaleServer) -> list[Any]:
        storage = radicale.storage
        found = []
        for principal in storage.discover("/", depth="1"):
            path = getattr(principal, "path", "")
            if not path or "/" in path:
                continue
            for child in storage.discover(f"/{path}/", depth="1"):
                child_path = getattr(child, "path", None)
                if isinstance(child_path, str) and user_calendar(child_path):
                    found.append(child)
        return found

    def _changes(
        self,
        radicale: RadicaleServer,
        tokens: dict[str, str],
        seen: dict[str, dict[str, tuple[str, str]]],
    ) -> list[tuple[str, str, str, Any]]:
        """(path, href, new token, item or None) for what changed since each token."""
        changes = []
        with radicale.storage.acquire_lock("r", "feedserver"):
            for calendar in self._calendars(radicale):
                path = calendar.path
                try:
                    token, hrefs = calendar.sync(tokens.get(path, ""))
                except ValueError:  # an unknown or expired token: look at everything
                    token, hrefs = calendar.sync("")
                hrefs = set(hrefs) | set(seen.get(path, {}))
                for href, item in calendar.get_multi(sorted(hrefs)):
                    known = seen.get(path, {}).get(href)
                    if item is None and known is None:
                        continue
                    if item is not None and known is not None and known[1] == item.etag:
                        continue
                    changes.append((path, href, token, item))
                changes.append((path, "", token, None))  # the new token itself
        return changes

    async def reconcile(self, radicale: RadicaleServer) -> int:
        """Queue what the capture missed; returns how many items were queued."""

        def state(store: Store) -> tuple[dict[str, str], dict[str, dict[str, tuple[str, str]]]]:
            paths = store.caldav_items.paths()
            return (
                {p: store.caldav_items.token(p) for p in paths},
                {p: store.caldav_items.for_path(p) for p in paths},
            )

        tokens, seen = await self.runner.run(state)
        changes = await radicale.run(self._changes, radicale, tokens, seen)
        queued = 0
        for path, href, token, item in changes:
            if not href:
                await self.runner.run(partial(_set_token, path, token))
            elif item is None:
                await self.runner.run(partial(_queue_delete, path, href, None))
                queued += 1
            else:
                await self.runner.run(
                    partial(
                        _queue_put, self.rules, path, href, item.serialize(), item.uid, item.etag
                    )
                )
                queued += 1
        if queued:
            log.info("CalDAV reconciliation queued missed writes", extra={"count": queued})
            self.inbox.wake()
        return queued

    async def reconcile_forever(
        self, radicale: RadicaleServer, seconds: float, lease: Lease | None = None
    ) -> None:
        """Reconcile every ``seconds``; with a ``lease``, where it is held (one process of
        those sharing the store)."""
        while True:
            try:
                if lease is None or await lease.held():
                    await self.reconcile(radicale)
            except Exception:
                log.exception("CalDAV reconciliation failed")
            await asyncio.sleep(seconds)


def _set_token(path: str, token: str, store: Store) -> None:
    store.caldav_items.set_token(path, token)


def _queue_put(
    rules: CaptureRules, path: str, href: str, text: str, uid: str, etag: str, store: Store
) -> None:
    """Keep a written item when it concerns the bridge: it invites the invite address, or it
    is an event the bridge knows (the invitation was removed: the booking is cancelled)."""
    principal = path.split("/")[0]
    with store.transaction():
        known = store.caldav_items.seen(path, href) is not None or store.bridge_events.known(uid)
        if not known and not rules.concerns_bridge(text):
            return
        raw = text.encode("utf-8")
        where = f"{path}/{href}"
        if len(raw) > rules.max_bytes:
            store.inbox.add(
                "caldav",
                raw[: rules.max_bytes],
                len(raw),
                principal,
                where,
                failure=InboxFailure.TOO_LARGE,
                reason=f"too large: {len(raw)} bytes, the limit is {rules.max_bytes}",
            )
        elif store.inbox.bytes_of(principal) + len(raw) > rules.quota_bytes:
            store.inbox.add(
                "caldav",
                b"",
                len(raw),
                principal,
                where,
                failure=InboxFailure.OVER_QUOTA,
                reason=f"{principal} is over the inbox quota of {rules.quota_bytes} bytes",
            )
        else:
            store.inbox.add("caldav", raw, len(raw), principal, where)
        store.caldav_items.remember(path, href, uid, etag)


def _queue_delete(path: str, href: str, text: str | None, store: Store) -> None:
    """A deletion of an item the bridge captured: the deleted item's text when the capture
    had it, else its UID."""
    with store.transaction():
        seen = store.caldav_items.seen(path, href)
        if seen is None:
            return
        raw = (text or f"UID:{seen[0]}").encode("utf-8")
        store.inbox.add("caldav", raw, len(raw), path.split("/")[0], f"{path}/{href}", deleted=True)
        store.caldav_items.forget(path, href)
