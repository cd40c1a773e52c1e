"""What every page shares: the signed-in visitor (session cookie), the language, CSRF and
Origin checks on forms, security headers, and rendering with Jinja2.

Forms POST ``application/x-www-form-urlencoded`` with a hidden ``csrf`` field: the session's
token when signed in, else the double-submit token of the ``feedserver_csrf`` cookie. A POST
without the right token, or whose Origin is another site, is answered 403. Domain errors are
shown on the page with the status ``web.errors.status_of`` gives them (the one mapping).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from babel.dates import format_date
from multidict import MultiDict, MultiDictProxy

from feedserver.domain import sign_in
from feedserver.errors import FeedserverError, NotFound, TooManyAttempts
from feedserver.model import User
from feedserver.notify.accounts import AccountMail
from feedserver.notify.messages import LOCALES
from feedserver.numbers import is_whole
from feedserver.throttle import LoginThrottle
from feedserver.times import find_zone
from feedserver.web.errors import status_of
from feedserver.web.pages import i18n, zones
from feedserver.web.pages.i18n import N_
from feedserver.web.state import CONFIG, RUNNER

log = logging.getLogger(__name__)

SESSION_COOKIE = "feedserver_session"
CSRF_COOKIE = "feedserver_csrf"
HERE = Path(__file__).parent

# No inline script, no third party: every script and style ships in /static.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # pages show feed URLs, which are credentials
    "Cache-Control": "no-store",
}


# Messages shown once after a redirect (``?notice=<code>``): codes, never free text.
NOTICES = {
    "welcome": N_("Your password is set. Welcome!"),
    "link_created": N_("The link was created."),
    "link_rotated": N_("The link was rotated: subscribe again with the new address."),
    "link_revoked": N_("The link was revoked."),
    "saved": N_("Saved."),
    "deleted": N_("Deleted."),
    "password_changed": N_("The password was changed; your other sessions were signed out."),
    "invited": N_("The invitation is on its way."),
    "reset_sent": N_("The password link is on its way."),
}


@dataclass(frozen=True)
class WebKit:
    """The web app's tools, built once per application."""

    jinja: jinja2.Environment
    account_mail: AccountMail
    throttle: LoginThrottle
    session_lifetime: timedelta
    static: dict[str, tuple[bytes, str, str]]  # name: (bytes, content type, version)


WEBKIT = web.AppKey("webkit", WebKit)


@dataclass(frozen=True)
class Visitor:
    user: User | None
    session_id: str
    csrf: str
    language: str

    @property
    def _(self) -> Callable[[str], str]:
        return i18n.translator(self.language)


Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PageRefused(Exception):
    """A page answer that is not the page: 403 (admin only, CSRF) or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def load_static() -> dict[str, tuple[bytes, str, str]]:
    types = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
    out = {}
    for path in sorted((HERE / "static").iterdir()):
        if path.suffix in types:
            data = path.read_bytes()
            out[path.name] = (data, types[path.suffix], hashlib.sha256(data).hexdigest()[:10])
    return out


def make_jinja(static: Mapping[str, tuple[bytes, str, str]]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = lambda name: f"/static/{name}?v={static[name][2]}"
    env.globals["local"] = local_time
    env.globals["fmt_date"] = lambda day, language, form: format_date(
        day, form, locale=LOCALES.get(language, "en_GB")
    )
    env.globals["zone_regions"] = zones.regions
    env.globals["zone_label"] = lambda name, language: (
        "UTC" if name == "UTC" else zones.label_of(name, language)
    )
    return env


def local_time(moment: datetime, timezone: str) -> str:
    """An instant as a person reads it: "2026-12-05 14:30" in their zone."""
    where = find_zone(timezone) or UTC
    return moment.astimezone(where).strftime("%Y-%m-%d %H:%M")


async def visitor(request: web.Request) -> Visitor:
    """Who is looking: a signed-in person, or nobody (with the sign-in forms' CSRF token)."""
    config = request.app[CONFIG]
    accept = request.headers.get("Accept-Language", "")
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id:
        found = await request.app[RUNNER].run(lambda s: sign_in.find_session(s, session_id))
        if found is not None:
            language = i18n.pick(found.user.language, accept, config.web.default_language)
            return Visitor(found.user, session_id, found.session.csrf, language)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if len(csrf) != 43:
        csrf = secrets.token_urlsafe(32)
    return Visitor(None, "", csrf, i18n.pick("", accept, config.web.default_language))


def secure_cookies(request: web.Request) -> bool:
    return request.app[CONFIG].public_url.startswith("https://")


def render(
    request: web.Request,
    who: Visitor,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    kit = request.app[WEBKIT]
    html = kit.jinja.get_template(template).render(
        {
            "_": who._,
            "lang": who.language,
            "me": who.user,
            "csrf": who.csrf,
            "path": request.path,
            "notice": who._(NOTICES.get(request.query.get("notice", ""), "")),
            "error": "",
            **(context or {}),
        }
    )
    response = web.Response(
        text=html, content_type="text/html", status=status, headers=SECURITY_HEADERS
    )
    if who.user is None and request.cookies.get(CSRF_COOKIE) != who.csrf:
        response.set_cookie(
            CSRF_COOKIE,
            who.csrf,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(request),
            path="/",
        )
    return response


def see_other(location: str, notice: str = "") -> web.Response:
    """303 to ``location`` (a path of ours), with a one-time notice code."""
    if notice:
        location, hash_, fragment = location.partition("#")
        location += ("&" if "?" in location else "?") + "notice=" + notice + hash_ + fragment
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


def _same_origin(request: web.Request) -> bool:
    """Whether the form comes from this site. Browsers send ``Origin: null`` from pages with
    ``Referrer-Policy: no-referrer`` (ours: they show feed URLs), and no Origin at all outside a
    browser: then the token decides alone (the cookies are SameSite=Lax, so a cross-site POST
    carries no session and no form token cookie either)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    allowed = {f"{request.scheme}://{request.host}"}
    public = urlsplit(request.app[CONFIG].public_url)
    allowed.add(f"{public.scheme}://{public.netloc}")
    return origin in allowed


async def read_form(request: web.Request, who: Visitor) -> MultiDictProxy[str]:
    """The POSTed form, after the CSRF and Origin checks (403 otherwise)."""
    form = await request.post()
    sent = form.get("csrf", "")
    if (
        not isinstance(sent, str)
        or not _same_origin(request)
        or not hmac.compare_digest(sent.encode(), who.csrf.encode())
        or (who.user is None and request.cookies.get(CSRF_COOKIE) != who.csrf)
    ):
        raise PageRefused(
            403, "The form expired or came from another site. Reload the page and try again."
        )
    fields: MultiDict[str] = MultiDict()
    for key, value in form.items():
        if isinstance(value, str):  # no form takes files
            fields.add(key, value)
    return MultiDictProxy(fields)


def path_id(request: web.Request, what: str) -> int:
    """The ``{id}`` of the path as a number; NotFound (404) for anything else."""
    raw = request.match_info["id"]
    if not is_whole(raw):
        raise NotFound(f"no {what} {raw!r}")
    return int(raw)


def unconfirmed(
    request: web.Request,
    who: Visitor,
    form: MultiDictProxy[str],
    message: str,
    label: str,
    back: str,
) -> web.Response | None:
    """The confirmation page of a button that asks first, unless the form says "confirmed"
    (app.js asked already, or this page was answered)."""
    if form.get("confirmed") == "1":
        return None
    context = {"message": who._(message), "label": who._(label), "action": request.path}
    return render(request, who, "confirm.html", {**context, "back": back})


# The heading and the message of an error page, by status; the English text is the message id.
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The browser sent something this page cannot read.")),
    403: (N_("Forbidden"), N_("You are not allowed to do this.")),
    404: (N_("Not found"), N_("The page does not exist, or it is not yours.")),
    405: (N_("Not allowed"), N_("This page cannot be used that way.")),
    409: (N_("Conflict"), N_("This clashes with something that changed in the meantime.")),
    413: (N_("Too large"), N_("What was sent is larger than this server accepts.")),
    422: (N_("Not accepted"), N_("Some of what was entered cannot be used.")),
    429: (N_("Too many attempts"), N_("Too many attempts. Try again in a few minutes.")),
    500: (
        N_("Something went wrong"),
        N_("Something went wrong on our side. Nothing was changed; try again later."),
    ),
}


def error_page(
    request: web.Request,
    who: Visitor,
    status: int,
    message: str = "",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The error page for ``status`` in the visitor's language, with a way back: the
    message says what happened (a domain error's own words, else the status's)."""
    heading, default = ERROR_PAGES.get(status, ERROR_PAGES[400 if status < 500 else 500])
    context = {
        "heading": who._(heading),
        "message": who._(message or default),
        "status": status,
        "back": "/links" if who.user is not None else "/",
    }
    response = render(request, who, "error.html", context, status)
    response.headers.update(headers or {})
    return response


def page(handler: Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]) -> Page:
    """A page for anyone; refusals, domain errors, HTTP errors and failures become an error
    page in the visitor's language (the JSON API keeps its JSON errors)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = await visitor(request)
        return await _answered(request, who, handler)

    return wrapped


async def _answered(
    request: web.Request,
    who: Visitor,
    handler: Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    try:
        return await handler(request, who)
    except PageRefused as refused:
        return error_page(request, who, refused.status, refused.message)
    except FeedserverError as exc:
        status = status_of(exc)
        message = "" if status == 404 else str(exc)
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return error_page(request, who, status, message, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return error_page(request, who, exc.status, headers=allow)
    except Exception:
        log.exception("page failed", extra={"path": request.path})
        return error_page(request, who, 500)


_NOT_PAGES = (
    *("/api/", "/dav", "/feeds/", "/.well-known/", "/meet/"),
    *("/metrics", "/healthz", "/readyz"),
)


def wants_page(request: web.Request) -> bool:
    """Whether a browser asked for a page: HTML accepted, on a path of the web app."""
    return "text/html" in request.headers.get("Accept", "") and not request.path.startswith(
        _NOT_PAGES
    )


def pages_for_browsers(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Page:
    """``handler`` (the catch-all that answers 404 and 405 as JSON) with its errors as pages
    when a browser asks for a page of the web app."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not wants_page(request):
            return await handler(request)
        return await _answered(request, await visitor(request), lambda r, _: handler(r))

    return wrapped


def signed_in(
    handler: Callable[[web.Request, Visitor, User], Awaitable[web.StreamResponse]],
) -> Page:
    """A page for personal accounts; signed-out visitors go to the sign-in page."""

    async def inner(request: web.Request, who: Visitor) -> web.StreamResponse:
        if who.user is None:
            return see_other("/")
        return await handler(request, who, who.user)

    return page(functools.wraps(handler)(inner))


def admin_only(
    handler: Callable[[web.Request, Visitor, User], Awaitable[web.StreamResponse]],
) -> Page:
    """A page for admins; anyone else signed in gets 403."""

    async def inner(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
        if not user.is_admin:
            raise PageRefused(403, "This page is for admins.")
        return await handler(request, who, user)

    return signed_in(functools.wraps(handler)(inner))
