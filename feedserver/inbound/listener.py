"""The inbound SMTP listener (aiosmtpd, in feedserver's event loop): it accepts mail for the
invite address only, up to ``bridge.max_message_bytes``, stores each message in the inbox and
answers 250 once it is stored; processing follows. When the message cannot be stored for a
passing reason (disk full, database busy), or is past the bridge's rate limits (per From
address, per client address), it answers 451, so the sending server tries again later instead
of bouncing the invitation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from feedserver.inbound.inbox import InboxService, TooLargeItem

log = logging.getLogger(__name__)


class InviteHandler:
    def __init__(self, inbox: InboxService, invite_address: str, replies_to: str = "") -> None:
        self.inbox = inbox
        self.invite = invite_address.strip().lower()
        # The sender address of our invitations: attendees' answers (iMIP REPLY) come back to it.
        self.accepted = {self.invite, replies_to.strip().lower()} - {""}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.strip().lower() not in self.accepted:
            return f"550 5.1.1 only <{self.invite}> receives mail here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        try:
            refusal = await self.inbox.admit(str(peer), "email", raw)
            if refusal is not None:  # the sending server keeps the message and tries again
                return f"451 4.7.1 {refusal.message}"
            item = await self.inbox.receive("email", raw)
        except TooLargeItem:
            return "552 5.3.4 message too big for the invite address"
        except Exception:
            log.exception("inbound message not stored; the sender will try again")
            return "451 4.3.0 temporarily unable to store the message; try again later"
        task = asyncio.create_task(self.inbox.process(item.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return f"250 2.0.0 queued as {item.id}"


async def start_listener(
    inbox: InboxService,
    invite_address: str,
    host: str,
    port: int,
    max_bytes: int,
    replies_to: str = "",
    reuse_port: bool = False,
) -> asyncio.Server:
    """``reuse_port``: the workers of ``serve --workers`` each listen on the port (the
    kernel spreads the connections)."""
    handler = InviteHandler(inbox, invite_address, replies_to)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            hostname=invite_address.partition("@")[2] or None,
        ),
        host=host,
        port=port,
        reuse_port=reuse_port or None,
    )
    log.info("inbound SMTP listening", extra={"host": host, "port": port, "invite": invite_address})
    return server
