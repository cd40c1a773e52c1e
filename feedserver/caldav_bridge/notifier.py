"""Sending WebDAV-Push messages when calendars change.

Every change is in the change log (a user calendar's write raises its collection's version;
a booking, a person, a location or a type changes the ``bookings`` calendars). When changes
arrive (``on_changes``), the notifier waits ``push.merge_ms`` for more (a burst is one
message), then compares each live subscription's calendar's sync-token now with the one last
pushed to it, and sends a message where they differ. The token pushed is recorded first with
a compare-and-set, so of several processes seeing the same change one sends it; a message
that fails hands its token back, and the sweep every minute tries again. A push service's
404 or 410 means the subscription is gone: it is removed. Expired subscriptions are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPushException, webpush_async

from feedserver import netguard
from feedserver.caldav_bridge.bookings import read_listing, sync_token
from feedserver.caldav_bridge.push import PushKeys, message
from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.caldav_bridge.storage import TOKEN_PREFIX
from feedserver.config import PushConfig
from feedserver.model import PushSubscription
from feedserver.store import Change, Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0
TIMEOUT_SECONDS = 15.0
# What can change a calendar's sync-token.
_ENTITIES = {"dav_collection", "booking", "user", "location", "type", "feed_template"}


def current_token(store: Store, path: str) -> str | None:
    """The sync-token of a calendar (``<principal>/<calendar>``) now; None when it is gone."""
    principal, _, name = path.strip("/").partition("/")
    if name == BOOKINGS:
        listing = read_listing(store, principal)
        return sync_token(listing) if listing is not None else None
    collection = store.dav.collection(path.strip("/"))
    if collection is None:
        return None
    return f"{TOKEN_PREFIX}{collection.id}:{collection.version}"


class PushNotifier:
    def __init__(
        self, runner: StoreRunner, keys: PushKeys, config: PushConfig, contact: str
    ) -> None:
        self.runner = runner
        self.keys = keys
        self.config = config
        self.contact = contact
        self.sent = 0
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()  # set by stop(): ends the merge wait at once
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = netguard.connector(32, self.config.allow_private_networks)
        self._http = aiohttp.ClientSession(connector=connector)
        self._task = asyncio.create_task(self._run(), name="webdav-push")

    async def stop(self) -> None:
        self._stopping = True
        self._halt.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30)
            except TimeoutError:
                log.warning("push notifications interrupted at shutdown")
        if self._http is not None:
            await self._http.close()

    def _stopped(self) -> bool:
        return self._stopping

    async def on_changes(self, changes: list[Change]) -> None:
        if any(c.entity in _ENTITIES for c in changes):
            self._wake.set()

    async def _run(self) -> None:
        last_sweep = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_SECONDS)
            if self._stopped():
                break
            # A burst of changes is one message: wait a little for the rest of it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), self.config.merge_ms / 1000)
            if self._stopped():
                break
            self._wake.clear()
            try:
                await self.push_changed()
                if time.monotonic() - last_sweep > SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    await self.runner.run(lambda s: s.push.delete_expired(utcnow()))
            except Exception:
                log.exception("WebDAV-Push failed")

    async def push_changed(self) -> int:
        """Send a message to every subscription whose calendar changed; how many."""
        due = await self.runner.run(self._due)
        if not due:
            return 0
        results = await asyncio.gather(*(self._send(sub, token) for sub, token in due))
        return sum(results)

    def _due(self, store: Store) -> list[tuple[PushSubscription, str]]:
        due = []
        tokens: dict[str, str | None] = {}
        for sub in store.push.active(utcnow()):
            if sub.path not in tokens:
                tokens[sub.path] = current_token(store, sub.path)
            token = tokens[sub.path]
            if token is None:
                store.push.delete(sub.id)  # its calendar is gone
                continue
            if token != sub.pushed_token and store.push.take_turn(sub.id, sub.pushed_token, token):
                due.append((sub, token))
        return due

    async def _send(self, sub: PushSubscription, token: str) -> int:
        assert self._http is not None, "start() first"
        topic = self.keys.topic(sub.path)
        claims: dict[str, str | int] = {"sub": self.contact}
        try:
            if not self.config.allow_private_networks and netguard.literal_private(
                sub.push_resource
            ):
                raise netguard.Refused(f"{urlsplit(sub.push_resource).hostname} is private")
            await webpush_async(
                {
                    "endpoint": sub.push_resource,
                    "keys": {"p256dh": sub.public_key, "auth": sub.auth_secret},
                },
                message(topic, token).decode("utf-8"),
                vapid_private_key=self.keys.vapid,
                vapid_claims=claims,
                content_encoding="aes128gcm",
                ttl=self.config.ttl_seconds,
                headers={"Topic": topic, "Urgency": "normal"},
                timeout=TIMEOUT_SECONDS,
                aiohttp_session=self._http,
            )
        except WebPushException as exc:
            status = exc.response.status if exc.response is not None else None
            if status in (404, 410):
                log.info("push subscription gone; removed", extra={"subscription": sub.id})
                await self.runner.run(lambda s: s.push.delete(sub.id))
                return 0
            await self._failed(sub, f"the push service answered {status}")
            return 0
        except (aiohttp.ClientError, OSError, TimeoutError, netguard.Refused) as exc:
            await self._failed(sub, f"{type(exc).__name__}: {exc}")
            return 0
        self.sent += 1
        if sub.failures:
            await self.runner.run(lambda s: s.push.sent(sub.id))
        return 1

    async def _failed(self, sub: PushSubscription, error: str) -> None:
        log.warning("push message not sent", extra={"subscription": sub.id, "error": error})
        await self.runner.run(lambda s: s.push.failed(sub.id, sub.pushed_token, error))
