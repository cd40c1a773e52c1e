"""Radicale built from feedserver's configuration and served by aiohttp under ``/dav/``.

Radicale is a WSGI application whose storage takes blocking file locks, so a request runs in a
bounded thread pool, and only once the event loop has let it through (``handle``):

- OPTIONS and requests without credentials are answered here (no thread is touched);
- logins are checked here (``auth.AccountLogins``): remembered ones at once, others after the
  throttle per account and client address (429 with Retry-After); a failure waits in the event
  loop before its 401. Radicale gets a one-time ticket instead of the password, and its own
  failure delays are off;
- writes that would delete, move or overwrite a principal or its read-only ``bookings``
  calendar get 403 (``guard``); a PUT whose recurrence is over the budget gets 403 with the
  CalDAV ``max-instances`` precondition;
- each account has ``caldav.max_requests_per_user`` requests in Radicale at once, so one
  account cannot take every thread.

The body is read by aiohttp with its own limit (Radicale does not enforce one when embedded).
Headers that would let a client rewrite the hrefs Radicale returns (``X-Script-Name``,
``X-Forwarded-*``, ``Forwarded``...) are removed unless the peer is a trusted proxy, in every
spelling: a header name with an underscore is dropped, as Apache and nginx do, since WSGI would
read ``X_Script_Name`` as ``X-Script-Name``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import io
import logging
import math
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast
from xml.sax.saxutils import escape

import radicale.config
from aiohttp import web
from multidict import CIMultiDict
from radicale import httputils
from radicale.app import REQUEST_METHODS, Application

from feedserver.caldav_bridge import push
from feedserver.caldav_bridge.auth import AccountLogins, Tickets, ticket_auth
from feedserver.caldav_bridge.bookings import BookingsCalendars
from feedserver.caldav_bridge.guard import protected
from feedserver.caldav_bridge.notifier import current_token
from feedserver.caldav_bridge.push import PushKeys
from feedserver.caldav_bridge.reports import ReportBudget, ReportPlan, ReportScope
from feedserver.caldav_bridge.rights import OwnTreeRights
from feedserver.caldav_bridge.storage import Capture, DatabaseStorage, storage_class
from feedserver.calendar.rrules import RecurrenceBudget, calendar_problem
from feedserver.config import Config
from feedserver.errors import TooLarge
from feedserver.store import Store, StoreRunner
from feedserver.throttle import RateLimits, Refusal
from feedserver.times import utcnow

PREFIX = "/dav"
_PROXY_HEADERS = ("x-script-name", "forwarded", "x-remote-user", "x-remote-addr")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="feedserver CalDAV", charset="UTF-8"'}
_OPTIONS = {"Allow": ", ".join(sorted(REQUEST_METHODS)), "DAV": httputils.DAV_HEADERS}
_PUSH_OPTIONS = {**_OPTIONS, "DAV": f"{httputils.DAV_HEADERS}, webdav-push"}
_MAX_INSTANCES = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<C:max-instances/><D:responsedescription>{}</D:responsedescription></D:error>\n"
)

log = logging.getLogger(__name__)


def radicale_configuration(
    config: Config,
    runner: StoreRunner,
    tickets: Tickets,
    capture: Capture | None,
    budget: RecurrenceBudget,
    bookings: BookingsCalendars | None,
    reports: ReportScope,
) -> Any:
    """Radicale's configuration, built in code (no Radicale config file is read)."""
    configuration = radicale.config.load()
    configuration.update(
        {
            # Logins are checked before Radicale (see ``handle``): it never sleeps on one.
            "auth": {"type": ticket_auth(tickets), "delay": "0"},
            "server": {"delay_on_error": "0"},
            "rights": {"type": OwnTreeRights},
            "storage": {
                "type": storage_class(runner, capture, budget, bookings, reports),
            },
            "web": {"type": "none"},
            # Radicale's own caps on one expansion (its 400), behind ``reports`` (our 403).
            "reporting": {
                "max_expand_occurrence": str(config.recurrence.max_occurrences),
                "max_freebusy_occurrence": str(config.recurrence.max_occurrences),
            },
        },
        "feedserver",
        privileged=True,
    )
    return configuration


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep and login else None


def _max_instances(reason: str) -> web.Response:
    """403 with the CalDAV ``max-instances`` precondition (RFC 4791 §5.2.8, §9.6)."""
    return web.Response(
        status=403,
        body=_MAX_INSTANCES.format(escape(reason)).encode(),
        content_type="application/xml",
        charset="utf-8",
    )


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


class RadicaleServer:
    """Radicale's application, its storage and the thread pool both are used from."""

    def __init__(
        self,
        config: Config,
        runner: StoreRunner,
        logins: AccountLogins,
        capture: Capture | None = None,
        budget: RecurrenceBudget | None = None,
        bookings: BookingsCalendars | None = None,
        inbound_limits: RateLimits | None = None,
        push: PushKeys | None = None,
    ) -> None:
        """``push``: the keys of WebDAV-Push, when it is on."""
        self.config = config
        self.push = push
        self.runner = runner
        self.logins = logins
        self.capture = capture
        self.inbound_limits = inbound_limits
        self.budget = budget or RecurrenceBudget()
        self.tickets = Tickets()
        self.reports = ReportScope()
        self.report_budget = ReportBudget(
            config.recurrence.max_report_occurrences, config.recurrence.max_report_instances
        )
        logging.getLogger("radicale").setLevel(config.caldav.log_level.upper())
        self.application = Application(
            radicale_configuration(
                config, runner, self.tickets, capture, self.budget, bookings, self.reports
            )
        )
        self.executor = ThreadPoolExecutor(config.caldav.threads, thread_name_prefix="radicale")
        self.trusted = frozenset(config.server.trusted_proxies)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._active = 0

    @property
    def storage(self) -> DatabaseStorage:
        return cast(DatabaseStorage, self.application._storage)  # the instance Radicale uses

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    @property
    def busy(self) -> bool:
        """Whether a CalDAV request is being served (feeds then wait: ``FeedGate``)."""
        return self._active > 0

    async def run(self, fn: Any, *args: Any) -> Any:
        self._active += 1  # on the event loop's thread only
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self._active -= 1

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

    def _environ(
        self, request: web.Request, body: bytes, principal: str, ticket: str
    ) -> dict[str, Any]:
        path_info = request.match_info.get("path_info", "")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": PREFIX,
            # As Radicale's own server hands it: percent-decoded, a str of the UTF-8 text.
            "PATH_INFO": path_info,
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
            if "_" in lowered or lowered in ("content-type", "content-length", "authorization"):
                continue
            if not trusted and (lowered in _PROXY_HEADERS or lowered.startswith("x-forwarded-")):
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        pair = f"{principal}:{ticket}".encode()
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return environ

    def _call(
        self, environ: dict[str, Any], plan: ReportPlan | None = None
    ) -> tuple[str, list[tuple[str, str]], bytes, str]:
        """Radicale's answer (status, headers, body), and why a REPORT following ``plan`` was
        refused for its expansion ("" when it was not)."""
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            started["status"], started["headers"] = status, headers

        self.reports.begin(plan, self.report_budget)
        try:
            result = self.application(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            refused = self.reports.end()
        return started["status"], started["headers"], body, refused

    async def _login(self, request: web.Request) -> str | web.Response:
        """The principal of the request's credentials, or the response that refuses them."""
        credentials = _credentials(request.headers.get("Authorization", ""))
        if credentials is None:
            return _text(
                401, "sign in with your email and password (or an app password)", _CHALLENGE
            )
        login, password = credentials
        attempt = await self.logins.attempt(login, password, request.remote or "")
        if attempt.retry_after > 0:
            return _text(
                429,
                "too many failed sign-ins; try again later",
                {"Retry-After": str(math.ceil(attempt.retry_after))},
            )
        if not attempt.principal:
            await asyncio.sleep(self.config.caldav.failed_login_delay_ms / 1000)
            return _text(401, "wrong email or password", _CHALLENGE)
        return attempt.principal

    async def _limit(self, principal: str, text: str) -> Refusal | None:
        """A PUT the bridge will read (the capture's rule: it names the invite address) is an
        inbound item of the account's, as its sender and its source: refused before Radicale
        stores it past the bridge's rate limits."""
        if self.inbound_limits is None or self.capture is None:
            return None
        if not self.capture.concerns_bridge(text):
            return None
        limits, keys = self.inbound_limits, [("sender", principal), ("source", principal)]
        return await self.runner.run(lambda s: limits.on(s.limits).take(keys))

    @asynccontextmanager
    async def _slot(self, principal: str) -> AsyncIterator[None]:
        slot = self._slots.get(principal)
        if slot is None:
            slot = self._slots[principal] = asyncio.Semaphore(
                self.config.caldav.max_requests_per_user
            )
        async with slot:
            yield

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return web.Response(status=200, headers=_PUSH_OPTIONS if self.push else _OPTIONS)
        principal = await self._login(request)
        if isinstance(principal, web.Response):
            return principal
        path_info = request.match_info.get("path_info", "")
        if self.push is not None:
            if request.method == "DELETE" and path_info.startswith(push.REGISTRATIONS):
                return await self._unregister(principal, path_info)
            if request.method == "POST":
                return await self._register(request, principal, path_info)
        refusal = protected(request.method, path_info, request.headers.get("Destination"), PREFIX)
        if refusal is not None:
            return _text(403, refusal)
        body = await self._body(request)
        if request.method == "PUT" and body:
            text = body.decode("utf-8", "replace")
            problem = calendar_problem(text, self.budget)
            if problem is not None:
                return _max_instances(problem)
            limited = await self._limit(principal, text)
            if limited is not None:
                return _text(429, limited.message, {"Retry-After": str(limited.seconds)})
        plan = ReportPlan.read(body) if request.method == "REPORT" and body else None
        if plan is not None:
            body = plan.body
        async with self._slot(principal):
            ticket = self.tickets.issue(principal)
            try:
                environ = self._environ(request, body, principal, ticket)
                status, headers, payload, refused = await self.run(self._call, environ, plan)
            finally:
                self.tickets.cancel(ticket)
        if refused:
            return _max_instances(refused)
        code, _, reason = status.partition(" ")
        pushing = self.push is not None and request.method == "PROPFIND"
        if pushing and code == "207" and push.asks_for_push(body):
            assert self.push is not None
            if any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers):
                payload = gzip.decompress(payload)  # aiohttp compresses it again if asked
                headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
            payload = push.with_properties(payload, self.push, PREFIX, principal)
        kept = CIMultiDict((k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP)
        if self.push is not None and "DAV" in kept:
            kept["DAV"] = f"{kept['DAV']}, webdav-push"
        # For HEAD, aiohttp sends the headers (with the length of ``payload``) and no body.
        return web.Response(status=int(code), reason=reason or None, headers=kept, body=payload)

    # -- WebDAV-Push ---------------------------------------------------------------------------

    async def _register(self, request: web.Request, principal: str, path_info: str) -> web.Response:
        """``POST <push-register>`` to one of the principal's calendars."""
        assert self.push is not None
        body = await self._body(request)
        path = path_info.strip("/")
        if not push.is_register(body):
            return _text(405, "POST takes a WebDAV-Push push-register here")
        if not push.push_capable(path, principal):
            return _push_error(403, "push-not-available", "push is offered on your calendars")
        config = self.config.push
        try:
            asked = push.parse_register(body, not config.allow_private_networks)
        except push.BadRegistration as exc:
            return _push_error(403, exc.condition, str(exc))
        now = utcnow()
        expires = push.expiry(asked.expires, now, timedelta(days=config.subscription_days))

        def register(store: Store) -> tuple[str, bool] | None:
            with store.transaction():
                token = current_token(store, path)
                user = store.users.get_by_email(principal)
                if token is None or user is None:
                    return None
                found, new = store.push.register(
                    user.id,
                    path,
                    push.new_registration(),
                    asked.push_resource,
                    asked.public_key,
                    asked.auth_secret,
                    expires,
                    token,
                )
                return found.registration, new

        made = await self.runner.run(register)
        if made is None:
            return _text(404, f"no calendar {path}")
        registration, new = made
        location = f"{request.scheme}://{request.host}{PREFIX}{push.REGISTRATIONS}{registration}"
        return web.Response(
            status=201 if new else 200,
            headers={"Location": location, "Expires": push.http_date(expires)},
        )

    async def _unregister(self, principal: str, path_info: str) -> web.Response:
        registration = path_info.removeprefix(push.REGISTRATIONS).strip("/")

        def remove(store: Store) -> bool:
            with store.transaction():
                found = store.push.get(registration)
                user = store.users.get_by_email(principal)
                if found is None or user is None or found.user_id != user.id:
                    return False
                store.push.delete(found.id)
                return True

        if not await self.runner.run(remove):
            return _text(404, "no such push subscription")
        return web.Response(status=204)


def _push_error(status: int, condition: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=push.error_body(condition, message),
        content_type="application/xml",
        charset="utf-8",
    )


async def well_known(request: web.Request) -> web.Response:
    """``/.well-known/caldav`` (RFC 6764), for any method: clients often PROPFIND it."""
    return web.Response(status=301, headers={"Location": f"{PREFIX}/"})
