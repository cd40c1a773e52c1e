"""Sending webhook deliveries.

Each delivery is one event for one endpoint, queued in the event's transaction
(``feedserver.domain.events``). A process claims due deliveries in the store for its lease
(``cluster.lease_seconds``), never two of one booking for one endpoint at once (the store's
claim takes the oldest waiting one of each subject), so a booking's events arrive in order.
Each is POSTed with the Standard Webhooks headers:

- ``webhook-id``: the event's id (``evt_42``), the same on every attempt, so a receiver that
  has seen it drops the copy;
- ``webhook-timestamp``: the attempt's Unix time;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under
  the endpoint's secret (signed by the ``standardwebhooks`` package); during a secret
  rotation one signature per secret, separated by spaces.

An answer 2xx delivers it. 410 Gone disables the endpoint (its deliveries wait until it is
enabled again). 429 and 503 wait for their Retry-After when they give one. Anything else (an
error status, a redirect, no answer within ``webhooks.timeout_seconds``) waits for the next
step of ``webhooks.retry_schedule_seconds`` (with 20% jitter); after the last step the
delivery fails (``GET /api/webhooks/{id}/deliveries`` shows why; redelivery queues it again).
Every attempt is recorded with its status, error, duration and the start of the answer.

Delivered once: a delivery is marked delivered in the store when its endpoint answers 2xx;
a graceful stop finishes the deliveries being sent and hands the rest back, a crashed
process's claims are taken over when its lease runs out. Only a crash between an endpoint's
2xx and that mark sends one again, with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiohttp
from standardwebhooks.webhooks import Webhook as Signer

from feedserver import netguard
from feedserver.cluster import Node
from feedserver.config import WebhooksConfig
from feedserver.domain import events, webhooks
from feedserver.model import Event, Webhook, WebhookAttempt, WebhookDelivery
from feedserver.store import Change, Store, StoreRunner
from feedserver.times import retry_after, utcnow
from feedserver.tokens.credentials import CredentialBox

log = logging.getLogger(__name__)

BATCH = 100  # deliveries claimed at once (each endpoint and booking: one at a time)
USER_AGENT = "feedserver-webhooks"


@dataclass(frozen=True)
class Job:
    delivery: WebhookDelivery
    event: Event
    webhook: Webhook


@dataclass(frozen=True)
class Result:
    """What an attempt came to: ``status`` delivered, pending (again at ``next_attempt``) or
    failed; ``disable``: why the endpoint is turned off (410)."""

    job: Job
    attempt: WebhookAttempt
    status: str
    next_attempt: datetime | None = None
    disable: str = ""


def body_of(event: Event) -> bytes:
    """The bytes POSTed (and signed): the event's envelope as compact JSON."""
    return json.dumps(events.envelope(event), separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signature(secrets: list[str], message_id: str, at: datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,`` signature per secret."""
    return " ".join(Signer(secret).sign(message_id, at, body) for secret in secrets)


def _after(wait: timedelta) -> datetime:
    """Now plus ``wait``, rounded up to the second (the store keeps whole seconds: a time
    rounded down could come before the wait is over)."""
    moment = utcnow() + wait
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def _claim(node: Node, limit: int, store: Store) -> list[Job]:
    now = utcnow()
    return _jobs(store, store.webhooks.claim_due(now, limit, node.name, node.until(now)))


def _claim_one(node: Node, delivery_id: int, store: Store) -> list[Job]:
    found = store.webhooks.claim(delivery_id, node.name, node.until(utcnow()))
    return _jobs(store, [found] if found else [])


def _jobs(store: Store, claimed: list[WebhookDelivery]) -> list[Job]:
    jobs = []
    hooks: dict[int, Webhook | None] = {}
    for delivery in claimed:
        if delivery.webhook_id not in hooks:
            hooks[delivery.webhook_id] = store.webhooks.get(delivery.webhook_id)
        event = store.events.get(delivery.event_id)
        webhook = hooks[delivery.webhook_id]
        if event is not None and webhook is not None:
            jobs.append(Job(delivery, event, webhook))
    return jobs


def _record(results: list[Result], store: Store) -> None:
    with store.transaction():
        for result in results:
            store.webhooks.attempted(
                result.job.delivery.id, result.attempt, result.status, result.next_attempt
            )
            if result.disable:
                webhooks.disable(store, result.job.webhook.id, result.disable)


def _release(ids: list[int], store: Store) -> None:
    store.webhooks.release(ids)


class WebhookWorker:
    def __init__(
        self,
        runner: StoreRunner,
        config: WebhooksConfig,
        box: CredentialBox,
        node: Node,
        poll_seconds: float = 1.0,
    ) -> None:
        self.runner = runner
        self.config = config
        self.box = box
        self.node = node
        self.poll_seconds = poll_seconds
        self.delivered = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._delivering = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        released = await self.runner.run(lambda s: s.webhooks.release_interrupted(self.node.name))
        if released:
            log.warning(
                "webhook deliveries interrupted by the last stop are queued again",
                extra={"count": released},
            )
        connector = netguard.connector(self.config.concurrency, self.config.allow_private_networks)
        self._http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
        )
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the deliveries being sent, hand the others back, and stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("webhook delivery interrupted at shutdown")
        if self._http is not None:
            await self._http.close()

    async def on_changes(self, changes: list[Change]) -> None:
        if any(c.entity in ("webhook_delivery", "webhook") for c in changes):
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("webhook delivery failed")

    async def deliver_due(self) -> int:
        """Send what is due now, batch after batch; returns how many were delivered."""
        async with self._delivering:
            delivered = 0
            while not self._stopping:
                jobs = await self.runner.run(partial(_claim, self.node, BATCH))
                if not jobs:
                    break
                delivered += await self._send_all(jobs)
            return delivered

    async def deliver_now(self, delivery_id: int) -> WebhookDelivery | None:
        """Send one delivery at once, whatever its turn (a test); None when another process
        or an earlier run has it."""
        jobs = await self.runner.run(partial(_claim_one, self.node, delivery_id))
        if not jobs:
            return None
        await self._send_all(jobs)
        return await self.runner.run(lambda s: s.webhooks.delivery(delivery_id))

    async def _send_all(self, jobs: list[Job]) -> int:
        limit = asyncio.Semaphore(self.config.concurrency)

        async def one(job: Job) -> Result | None:
            async with limit:
                if self._stopping:
                    return None  # handed back below
                return await self._attempt(job)

        outcomes = await asyncio.gather(*(one(job) for job in jobs))
        results = [r for r in outcomes if r is not None]
        unsent = [j.delivery.id for j, r in zip(jobs, outcomes, strict=True) if r is None]
        await self.runner.run(partial(_record, results))
        if unsent:
            await self.runner.run(partial(_release, unsent))
        for result in results:
            self._log(result)
        delivered = sum(1 for r in results if r.status == "delivered")
        self.delivered += delivered
        self.failed += sum(1 for r in results if r.status == "failed")
        return delivered

    async def _attempt(self, job: Job) -> Result:
        assert self._http is not None, "start() first"
        now = utcnow()
        message_id = f"evt_{job.event.id}"
        body = body_of(job.event)
        started = time.monotonic()
        status: int | None = None
        error = ""
        excerpt = ""
        wait: timedelta | None = None
        try:
            if not self.config.allow_private_networks and netguard.literal_private(job.webhook.url):
                raise netguard.Refused(f"{job.webhook.url} is a private address")
            secrets = webhooks.signing_secrets(job.webhook, self.box, now)
            headers = {
                "Content-Type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature(secrets, message_id, now, body),
            }
            async with self._http.post(
                job.webhook.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                excerpt = (await response.content.read(1000)).decode("utf-8", "replace")
                if status in (429, 503):
                    wait = retry_after(response.headers.get("Retry-After"), now)
                if 300 <= status < 400:
                    error = f"redirect to {response.headers.get('Location', '?')} not followed"
                elif not 200 <= status < 300:
                    error = f"HTTP {status} {response.reason or ''}".strip()
        except (aiohttp.ClientError, OSError, TimeoutError, netguard.Refused, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if isinstance(exc, TimeoutError):
                error = f"no answer within {self.config.timeout_seconds:g} s"
        attempt = WebhookAttempt(
            now, status, error, round((time.monotonic() - started) * 1000), excerpt
        )
        if status is not None and 200 <= status < 300:
            return Result(job, attempt, "delivered")
        if status == 410:
            reason = "the endpoint answered 410 Gone; enable it again to resume deliveries"
            return Result(job, attempt, "pending", utcnow(), disable=reason)
        schedule = self.config.retry_schedule_seconds
        step = job.delivery.attempts  # attempts before this one
        if step >= len(schedule):
            return Result(job, attempt, "failed")
        if wait is None:
            wait = timedelta(seconds=schedule[step] * random.uniform(0.8, 1.2))
        return Result(job, attempt, "pending", _after(wait))

    def _log(self, result: Result) -> None:
        extra = {
            "webhook_id": result.job.webhook.id,
            "delivery_id": result.job.delivery.id,
            "event": result.job.event.type,
            "status": result.attempt.status,
            "node": self.node.name,
        }
        if result.status == "delivered":
            log.info("webhook delivered", extra=extra)
        elif result.status == "failed":
            log.error(
                "webhook delivery failed for good; POST .../redeliver queues it again",
                extra={**extra, "error": result.attempt.error},
            )
        else:
            log.warning(
                "webhook not delivered",
                extra={
                    **extra,
                    "error": result.attempt.error,
                    "retry_at": result.next_attempt.isoformat() if result.next_attempt else "",
                },
            )
