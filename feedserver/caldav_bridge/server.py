"""Radicale built from feedserver's configuration and served by aiohttp under ``/dav/``.

Radicale is a WSGI application whose storage takes blocking file locks, so every request runs
in a bounded thread pool. The body is read by aiohttp with its own limit (Radicale does not
enforce one when embedded). Headers that would let a client rewrite the hrefs Radicale returns
(``X-Script-Name``, ``X-Forwarded-*``) are removed unless the peer is a trusted proxy.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import radicale.config
from aiohttp import web
from multidict import CIMultiDict
from radicale.app import Application

from feedserver.caldav_bridge.auth import AccountLogins, auth_class
from feedserver.caldav_bridge.rights import OwnTreeRights
from feedserver.caldav_bridge.storage import Capture, IndexedStorage, storage_class
from feedserver.config import Config
from feedserver.errors import TooLarge

PREFIX = "/dav"
_PROXY_HEADERS = ("x-script-name", "forwarded", "x-remote-user", "x-remote-addr")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def radicale_configuration(
    config: Config, logins: AccountLogins, capture: Capture | None = None
) -> Any:
    """Radicale's configuration, built in code (no Radicale config file is read)."""
    configuration = radicale.config.load()
    configuration.update(
        {
            "auth": {
                "type": auth_class(logins),
                "delay": str(config.caldav.failed_login_delay_ms / 1000),
            },
            "rights": {"type": OwnTreeRights},
            "storage": {
                "type": storage_class(capture),
                "filesystem_folder": str(config.data_dir / "caldav"),
            },
            "web": {"type": "none"},
        },
        "feedserver",
        privileged=True,
    )
    return configuration


class RadicaleServer:
    """Radicale's application, its storage and the thread pool both are used from."""

    def __init__(
        self, config: Config, logins: AccountLogins, capture: Capture | None = None
    ) -> None:
        self.config = config
        logging.getLogger("radicale").setLevel(config.caldav.log_level.upper())
        self.application = Application(radicale_configuration(config, logins, capture))
        self.executor = ThreadPoolExecutor(config.caldav.threads, thread_name_prefix="radicale")
        self.trusted = frozenset(config.server.trusted_proxies)

    @property
    def storage(self) -> IndexedStorage:
        return cast(IndexedStorage, self.application._storage)  # the instance Radicale uses

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> bytes:
        limit = self.config.caldav.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        chunks = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _environ(self, request: web.Request, body: bytes) -> dict[str, Any]:
        path_info = request.match_info.get("path_info", "")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": PREFIX,
            "PATH_INFO": path_info.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": request.url.host or "localhost",
            "SERVER_PORT": str(request.url.port or ""),
            "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
            "REMOTE_ADDR": request.remote or "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        trusted = request.remote in self.trusted
        for name, value in request.headers.items():
            lowered = name.lower()
            if lowered in ("content-type", "content-length"):
                continue
            if not trusted and (lowered in _PROXY_HEADERS or lowered.startswith("x-forwarded-")):
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            started["status"], started["headers"] = status, headers

        result = self.application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], body

    async def handle(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        status, headers, payload = await self.run(self._call, self._environ(request, body))
        code, _, reason = status.partition(" ")
        kept = CIMultiDict((k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP)
        # For HEAD, aiohttp sends the headers (with the length of ``payload``) and no body.
        return web.Response(status=int(code), reason=reason or None, headers=kept, body=payload)


async def well_known(request: web.Request) -> web.Response:
    """``/.well-known/caldav`` (RFC 6764), for any method: clients often PROPFIND it."""
    return web.Response(status=301, headers={"Location": f"{PREFIX}/"})
