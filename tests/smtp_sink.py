"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can be told to
answer 4xx/5xx or to take its time."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.process import free_port


@dataclass
class Sink:
    received: list[EmailMessage] = field(default_factory=list)
    answer: str = "250 OK"  # what DATA gets; "451 ..." or "550 ..." to refuse
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Cleared: every message waits before its answer until it is set again (a client that
    # goes meanwhile has sent nothing: its message is not kept).
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        if not self.answer.startswith("250"):
            return self.answer
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if address in str(m["To"])]


class _Controller(Controller):
    """aiosmtpd's controller, keeping its sessions: a stop closes their connections (the
    stock one stops its loop and leaves them open, so a client in the middle of a message
    would wait for an answer until its timeout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[Any] = []

    def factory(self) -> SMTP:
        session = SMTP(self.handler, **self.SMTP_kwargs)
        self.sessions.append(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        closed = threading.Event()

        def close_all() -> None:
            for session in self.sessions:
                if session.transport is not None:
                    session.transport.close()
            closed.set()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(close_all)
            closed.wait(5)
        super().stop(no_assert)


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = _Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.sink.gate.set()  # nobody waits on a gate left closed
            self.controller.stop()
            self.controller = None
