"""Delivering the outbox over SMTP (aiosmtplib).

Each message is claimed ('sending'), sent, then marked 'sent'. A server that is down or answers
4xx means a retry after ``retry_base_seconds`` doubling each time (capped at an hour), for as
long as ``smtp.retry_hours`` from its creation or last manual retry (and ``max_attempts``); a
5xx answer, or the end of that time, marks the message 'failed': logged as an error, counted in
``/healthz``, visible in ``GET /api/notifications``, and queued again by
``POST /api/notifications/{id}/retry`` or, all of them, ``POST /api/notifications/retry``.
The idempotency key makes a message exist once. Every process may deliver: each claims one
message at a time in the store, for ``cluster.lease_seconds`` (``claim_due``), so no two send
the same; a graceful stop finishes the message being sent and hands the rest back, so a
restart sends nothing twice, and the claim of a process that died is taken over once its
lease has run out. Only a crash inside an SMTP conversation, or a stop that cuts short one
that hangs for more than a few seconds, can repeat one message, with the same Message-ID,
which mail clients use to drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from functools import partial

import aiosmtplib

from feedserver.cluster import Node
from feedserver.config import SmtpConfig
from feedserver.domain import events
from feedserver.model import OutboxMessage
from feedserver.notify.mime import mime_message
from feedserver.store import Change, Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

_BATCH = 1  # messages claimed at a time: each for one lease, however slow the server
_MAX_DELAY = timedelta(hours=1)


def _release(message_ids: list[int], store: Store) -> None:
    store.outbox.release(message_ids)


def retry(store: Store, message_id: int) -> OutboxMessage:
    """Queue a message again, now, with a fresh count of attempts."""
    with store.transaction():
        store.outbox.one(message_id)
        store.outbox.retry(message_id)
        return store.outbox.one(message_id)


def retry_failed(store: Store) -> list[int]:
    """Queue every failed message again (after an outage); returns their ids."""
    with store.transaction():
        ids = store.outbox.failed_ids()
        for message_id in ids:
            store.outbox.retry(message_id)
        return ids


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""


class OutboxWorker:
    def __init__(
        self, runner: StoreRunner, config: SmtpConfig, node: Node, poll_seconds: float = 1.0
    ) -> None:
        self.runner = runner
        self.config = config
        self.node = node
        self.poll_seconds = poll_seconds
        self.sent = 0
        self._wake = asyncio.Event()
        self._delivering = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        released = await self.runner.run(lambda s: s.outbox.release_interrupted(self.node.name))
        if released:
            log.warning(
                "messages interrupted by the last stop are queued again", extra={"count": released}
            )
        if not self.config.host:
            log.warning("no SMTP server configured ([smtp] host): notifications stay queued")
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the message being sent, hand the others back, and stop. A conversation
        still going after ``grace`` seconds (a server that hangs) is cut short and its
        message handed back too: it is sent again by whichever process takes it next."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if done:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        released = await self.runner.run(lambda s: s.outbox.release_interrupted(self.node.name))
        log.warning(
            "outbox delivery interrupted at shutdown; the message is queued again",
            extra={"count": released},
        )

    def stopping(self) -> bool:
        return self._stopping

    async def on_changes(self, changes: list[Change]) -> None:
        if any(c.entity == "notification" for c in changes):
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("outbox delivery failed")

    async def deliver_due(self) -> int:
        """Send what is due now (one delivery run at a time); returns how many were sent."""
        async with self._delivering:
            return await self._deliver_due()

    async def _deliver_due(self) -> int:
        if not self.config.host:
            return 0
        sent = 0
        while not self.stopping():
            batch = await self.runner.run(self._claim)
            if not batch:
                break
            for index, message in enumerate(batch):
                if self.stopping():  # hand back what is not sent yet; finish nothing half
                    await self.runner.run(partial(_release, [m.id for m in batch[index:]]))
                    return sent
                sent += await self._deliver(message)
        return sent

    def _claim(self, store: Store) -> list[OutboxMessage]:
        """The next due message, claimed by this node for its lease (one at a time: what
        other processes can take meanwhile stays theirs to take)."""
        now = utcnow()
        return store.outbox.claim_due(now, _BATCH, self.node.name, self.node.until(now))

    async def _deliver(self, message: OutboxMessage) -> int:
        attempts = message.attempts + 1
        try:
            await self._send(message)
        except PermanentFailure as exc:
            await self._failed(message, attempts, str(exc), permanent=True)
            return 0
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(message, attempts, f"{type(exc).__name__}: {exc}", permanent=False)
            return 0
        await self.runner.run(lambda s: s.outbox.mark_sent(message.id))
        self.sent += 1
        log.info(
            "notification sent",
            extra={"notification_id": message.id, "kind": message.kind, "node": self.node.name},
        )
        return 1

    async def _failed(
        self, message: OutboxMessage, attempts: int, error: str, permanent: bool
    ) -> None:
        retry_at: datetime | None = None
        since = message.retry_since or message.created_at
        give_up_at = since + timedelta(hours=self.config.retry_hours)
        attempts_left = self.config.max_attempts == 0 or attempts < self.config.max_attempts
        if not permanent and attempts_left:
            exponent = min(attempts - 1, 16)
            delay = timedelta(seconds=self.config.retry_base_seconds * 2**exponent)
            retry_at = utcnow() + min(delay, _MAX_DELAY)
            if retry_at > give_up_at:
                retry_at = None

        def record(store: Store) -> None:
            with store.transaction():
                store.outbox.mark_failed_attempt(message.id, attempts, error, retry_at)
                if retry_at is None:
                    events.notification_failed(store, store.outbox.one(message.id))

        await self.runner.run(record)
        if retry_at is None:
            log.error(
                "notification failed for good; POST /api/notifications/retry queues it again",
                extra={"notification_id": message.id, "attempts": attempts, "error": error},
            )
            return
        log.warning(
            "notification not delivered",
            extra={
                "notification_id": message.id,
                "attempts": attempts,
                "error": error,
                "retry_at": retry_at.isoformat() if retry_at else "never",
            },
        )

    async def _send(self, message: OutboxMessage) -> None:
        config = self.config
        domain = config.sender.rpartition("@")[2] or "localhost"
        mail = mime_message(message, (config.sender_name, config.sender), domain)
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username or None,
            password=config.password or None,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            timeout=config.timeout_seconds,
            local_hostname=config.helo_name or domain,
        )
        try:
            await client.connect()
            # Our bytes, flattened with the message's own policy (aiosmtplib would refold the
            # headers with its own, which loses spaces in non-ASCII subjects).
            await client.sendmail(config.sender, [message.recipient_email], mail.as_bytes())
            # Sent: a stop while saying goodbye must not hand the message back to be sent twice.
            with contextlib.suppress(aiosmtplib.SMTPException, asyncio.CancelledError):
                await client.quit(timeout=min(5, config.timeout_seconds))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused: {exc.recipients[0]}") from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise
        finally:
            # Not QUIT (aiosmtplib's own `send` waits for its answer, up to the timeout, even
            # when cancelled at shutdown): the connection is just closed.
            client.close()
