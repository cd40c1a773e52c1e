"""Signing in and out, "forgot password", and setting a password from a link (invitation or
reset). Wrong credentials get one message whether or not the email exists; failures are
slowed per address and per client IP (``feedserver.throttle``)."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from feedserver.domain import accounts, sign_in
from feedserver.errors import FeedserverError, InvalidInput
from feedserver.model import Role, User
from feedserver.passwords import verify_password
from feedserver.store import Store
from feedserver.tokens import InvalidToken
from feedserver.web.pages.base import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    WEBKIT,
    PageRefused,
    Visitor,
    page,
    read_form,
    render,
    secure_cookies,
    see_other,
)
from feedserver.web.state import CONFIG, RUNNER, SECRETS

routes = web.RouteTableDef()

WRONG = "Wrong email or password."
SLOW_DOWN = "Too many attempts. Try again in a few minutes."


def client_ip(request: web.Request) -> str:
    return request.remote or "-"


async def first_run(request: web.Request) -> bool:
    """Whether no admin account exists yet (the bootstrap page is open)."""
    return not await request.app[RUNNER].run(lambda s: s.users.list(Role.ADMIN))


@routes.get("/")
@page
async def home(request: web.Request, who: Visitor) -> web.StreamResponse:
    if who.user is not None:
        return see_other("/links")
    context = {"email": "", "error": "", "first_run": await first_run(request)}
    return render(request, who, "sign_in.html", context)


def signed_in_response(request: web.Request, session_id: str, location: str) -> web.Response:
    """Redirect with the new session's cookie (the sign-in form's CSRF cookie dropped)."""
    response = see_other(location)
    days = request.app[CONFIG].web.session_days
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=days * 86400,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def password_matches(request: web.Request, email: str, password: str) -> User | None:
    found = await request.app[RUNNER].run(lambda s: s.users.password_hash(email))
    loop = asyncio.get_running_loop()
    # scrypt even for an unknown email: the answer takes as long either way.
    ok = await loop.run_in_executor(None, verify_password, password, found[1] if found else None)
    if not ok or found is None:
        return None
    return await request.app[RUNNER].run(lambda s: s.users.get(found[0]))


@routes.post("/sign-in")
@page
async def sign_in_post(request: web.Request, who: Visitor) -> web.StreamResponse:
    form = await read_form(request, who)
    email = form.get("email", "").strip().lower()[:320]
    password = form.get("password", "")[:1024]
    throttle, run = request.app[WEBKIT].throttle, request.app[RUNNER].run
    address = client_ip(request)
    wait = await run(lambda s: throttle.on(s.limits).sign_in_wait(address, email))
    if wait > 0:
        await asyncio.sleep(min(wait, request.app[CONFIG].security.login_tarpit_seconds))
        context = {"email": email, "error": who._(SLOW_DOWN), "first_run": False}
        response = render(request, who, "sign_in.html", context, 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = await password_matches(request, email, password)
    if user is None:
        await run(lambda s: throttle.on(s.limits).sign_in_failed(address, email))
        context = {"email": email, "error": who._(WRONG), "first_run": False}
        return render(request, who, "sign_in.html", context, 401)
    await run(lambda s: throttle.on(s.limits).sign_in_succeeded(address, email))
    lifetime = request.app[WEBKIT].session_lifetime
    old = request.cookies.get(SESSION_COOKIE, "")
    session_id = await request.app[RUNNER].run(
        lambda s: sign_in.start_session(s, user.id, lifetime, replaces=old)
    )
    return signed_in_response(request, session_id, "/links")


@routes.post("/sign-out")
@page
async def sign_out(request: web.Request, who: Visitor) -> web.StreamResponse:
    if who.user is not None:
        await read_form(request, who)
        await request.app[RUNNER].run(lambda s: sign_in.end_session(s, who.session_id))
    response = see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/forgot")
@page
async def forgot(request: web.Request, who: Visitor) -> web.StreamResponse:
    return render(request, who, "forgot.html", {"sent": False})


@routes.post("/forgot")
@page
async def forgot_post(request: web.Request, who: Visitor) -> web.StreamResponse:
    form = await read_form(request, who)
    email = form.get("email", "").strip().lower()[:320]
    throttle, run = request.app[WEBKIT].throttle, request.app[RUNNER].run
    keys = (f"reset:{email}", f"reset-ip:{client_ip(request)}")

    def charge(store: Store) -> bool:
        """Each request counts: a flood of reset emails is slowed."""
        shared = throttle.on(store.limits)
        if shared.retry_after(*keys) > 0:
            return False
        shared.failed(*keys)
        return True

    if not await run(charge):
        return render(request, who, "forgot.html", {"sent": False, "error": who._(SLOW_DOWN)}, 429)

    mail = request.app[WEBKIT].account_mail
    await request.app[RUNNER].run(lambda s: mail.request_reset(s, email))
    return render(request, who, "forgot.html", {"sent": True})


async def _link_user(request: web.Request) -> User | None:
    links = request.app[WEBKIT].account_mail.links(request.match_info["kind"])
    if links is None:
        raise PageRefused(404, "The page does not exist, or it is not yours.")
    token = request.match_info["token"]
    try:
        return await request.app[RUNNER].run(lambda s: sign_in.user_of_link(s, links, token))
    except InvalidToken:
        return None


@routes.get("/set-password/{kind}/{token}")
@page
async def set_password(request: web.Request, who: Visitor) -> web.StreamResponse:
    user = await _link_user(request)
    if user is None:
        return render(request, who, "set_password.html", {"person": None}, 410)
    return render(request, who, "set_password.html", {"person": user, "error": ""})


@routes.post("/set-password/{kind}/{token}")
@page
async def set_password_post(request: web.Request, who: Visitor) -> web.StreamResponse:
    form = await read_form(request, who)
    user = await _link_user(request)
    if user is None:
        return render(request, who, "set_password.html", {"person": None}, 410)
    try:
        password = sign_in.check_new_password(
            form.get("password", ""), form.get("password_again", "")
        )
    except InvalidInput as exc:
        context = {"person": user, "error": exc.message}
        return render(request, who, "set_password.html", context, 422)
    loop = asyncio.get_running_loop()
    new_hash = await loop.run_in_executor(None, sign_in.new_hash, password)
    lifetime = request.app[WEBKIT].session_lifetime

    def apply(store: Store) -> str:
        sign_in.set_password(store, user.id, new_hash)
        return sign_in.start_session(store, user.id, lifetime)

    session_id = await request.app[RUNNER].run(apply)
    return signed_in_response(request, session_id, "/links?notice=welcome")


@routes.get("/bootstrap")
@page
async def bootstrap(request: web.Request, who: Visitor) -> web.StreamResponse:
    """While no admin account exists: the admin token, once, makes the first one."""
    if not await first_run(request):
        raise PageRefused(404, "The page does not exist, or it is not yours.")
    return render(request, who, "bootstrap.html", {"error": "", "values": {}})


@routes.post("/bootstrap")
@page
async def bootstrap_post(request: web.Request, who: Visitor) -> web.StreamResponse:
    form = await read_form(request, who)
    if not await first_run(request):
        raise PageRefused(404, "The page does not exist, or it is not yours.")
    values = {k: form.get(k, "").strip() for k in ("name", "email", "timezone")}
    context = {"values": values}
    throttle, run = request.app[WEBKIT].throttle, request.app[RUNNER].run
    key = f"ip:{client_ip(request)}"
    if await run(lambda s: throttle.on(s.limits).retry_after(key)) > 0:
        return render(request, who, "bootstrap.html", {**context, "error": who._(SLOW_DOWN)}, 429)
    expected = request.app[SECRETS].admin_token.encode()
    if not hmac.compare_digest(form.get("token", "").strip().encode(), expected):
        await run(lambda s: throttle.on(s.limits).failed(key))
        error = who._("Admin token") + ": " + who._(WRONG)
        return render(request, who, "bootstrap.html", {**context, "error": error}, 401)
    try:
        password = sign_in.check_new_password(form.get("password", ""))
    except InvalidInput as exc:
        return render(request, who, "bootstrap.html", {**context, "error": exc.message}, 422)
    data = {**values, "timezone": values["timezone"] or "UTC", "role": "admin"}
    data["password"] = password
    lifetime = request.app[WEBKIT].session_lifetime

    def create(store: Store) -> str:
        made = accounts.create_user(store, data)
        return sign_in.start_session(store, made.id, lifetime)

    try:
        session_id = await request.app[RUNNER].run(create)
    except FeedserverError as exc:
        return render(request, who, "bootstrap.html", {**context, "error": exc.message}, 422)
    return signed_in_response(request, session_id, "/links?notice=welcome")
