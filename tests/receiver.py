"""A webhook endpoint for the tests: a real aiohttp server on a loopback socket that verifies
every delivery with the ``standardwebhooks`` package (the specification's own code), answers
as a test scripts it, and keeps what it accepted."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.process import free_port


@dataclass
class Delivery:
    message_id: str
    body: dict[str, Any]
    status: int  # what the receiver answered


@dataclass
class Receiver:
    """``answers``: statuses to answer, in turn (then 200); ``answer``: a function of each
    request's body deciding its status (after ``answers``); ``delay``: seconds before each
    answer."""

    secrets: list[str] = field(default_factory=list)
    answers: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], int] | None = None
    delay: float = 0.0
    port: int = field(default_factory=free_port)
    received: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # signatures that did not verify
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = dict(request.headers)
        body: dict[str, Any] | None = None
        for secret in self.secrets:
            try:
                body = Webhook(secret).verify(raw, headers)
                break
            except WebhookVerificationError:
                continue
        if body is None:
            self.refused.append(request.headers.get("webhook-signature", ""))
            return web.Response(status=401)
        if self.delay:
            await asyncio.sleep(self.delay)
        extra: dict[str, str] = {}
        if self.answers:
            planned = self.answers.pop(0)
            status, extra = planned if isinstance(planned, tuple) else (planned, {})
        elif self.answer is not None:
            status = self.answer(body)
        else:
            status = 200
        self.received.append(Delivery(request.headers["webhook-id"], body, status))
        return web.Response(status=status, text=json.dumps({"ok": status < 300}), headers=extra)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.received if 200 <= d.status < 300]

    def accepted_ids(self) -> list[str]:
        return [d.message_id for d in self.accepted()]

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        """The accepted deliveries, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < count:
            if time.monotonic() > deadline:
                found = [(d.message_id, d.body["type"], d.status) for d in self.received]
                raise AssertionError(f"{len(self.accepted())} of {count} accepted: {found}")
            await asyncio.sleep(0.05)
        return self.accepted()
