"""The "My calendar accounts" page: connect a calendar account (iCloud, Fastmail, Nextcloud,
any CalDAV server, or Google) so that one's bookings are written into it within seconds, see
how writing goes, resync, change what is written, disconnect. The same services as
``/api/me/calendar-accounts``; a failed connection shows the form again with what was typed
(never the password) and the error by its field."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from feedserver.domain import calendar_accounts as rules
from feedserver.errors import FeedserverError
from feedserver.model import User
from feedserver.store import Store
from feedserver.web.pages.base import (
    Visitor,
    path_id,
    read_form,
    render,
    see_other,
    signed_in,
    unconfirmed,
)
from feedserver.web.pages.i18n import N_
from feedserver.web.state import ACCOUNTS, CONFIG, RUNNER

routes = web.RouteTableDef()

# What people know their account by, and where its CalDAV server is.
PRESETS = (
    ("icloud", "iCloud", "https://caldav.icloud.com/"),
    ("fastmail", "Fastmail", "https://caldav.fastmail.com/"),
    ("nextcloud", "Nextcloud", ""),
    ("other", N_("Other CalDAV server"), ""),
)
# What the log of an account says happened, in words.
LOG_WORDS = {
    "edit_replaced": N_("your edit was replaced by the booking"),
    "edit_removed": N_("an event you changed was removed"),
    "removed": N_("event removed"),
    "refused": N_("refused by the server"),
    "error": N_("error"),
}
NAMED = {"icloud": "iCloud", "fastmail": "Fastmail", "nextcloud": "Nextcloud"}
EMPTY_FORM: dict[str, Any] = {
    "preset": "icloud",
    "url": "",
    "username": "",
    "name": "",
    "calendar": "",
    "types": [],
    "include_pending": False,
    "show_attendees": False,
    "busy": True,
}
REMOVE_QUESTION = (
    "Disconnect this account and remove the events feedserver wrote into it? Your own events stay."
)
KEEP_QUESTION = "Disconnect this account? The events written stay, and are no longer updated."


def connect_body(form: MultiDictProxy[str]) -> dict[str, Any]:
    """The API body of the connect form."""
    preset = form.get("preset", "other")
    url = form.get("url", "").strip() or dict((k, u) for k, _, u in PRESETS).get(preset, "")
    return {
        # Named after the provider, or (another server) after its host.
        "name": form.get("name", "").strip() or NAMED.get(preset, ""),
        "url": url,
        "username": form.get("username", "").strip(),
        "password": form.get("password", ""),
        "calendar": form.get("calendar", "").strip() or "new",
        "types": form.getall("types", []),
        "include_pending": form.get("include_pending") == "on",
        "show_attendees": form.get("show_attendees") == "on",
        "busy": form.get("busy") == "on",
    }


async def _page(
    request: web.Request,
    who: Visitor,
    user: User,
    error: str = "",
    field: str = "",
    sent: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    def load(store: Store) -> dict[str, Any]:
        accounts = store.calendar_accounts.list(user.id)
        return {
            "accounts": [(a, store.calendar_accounts.log_entries(a.id, 5)) for a in accounts],
            "types": store.types.list(),
        }

    context = await request.app[RUNNER].run(load)
    context.update(
        {
            "presets": PRESETS,
            "log_words": LOG_WORDS,
            "error": error,
            "field": field,
            "sent": sent or EMPTY_FORM,
            "google": bool(request.app[CONFIG].google.client_id),
            "connected": request.query.get("connected", ""),
        }
    )
    return render(request, who, "calendars.html", context, status)


@routes.get("/calendars")
@signed_in
async def page(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _page(request, who, user)


@routes.post("/calendars")
@signed_in
async def connect(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    body = connect_body(form)
    try:
        await request.app[ACCOUNTS].connect(body, user)
    except FeedserverError as exc:
        kept = {**EMPTY_FORM, **body, "password": "", "preset": form.get("preset", "other")}
        if kept["calendar"] == "new":
            kept["calendar"] = ""
        return await _page(request, who, user, exc.message, exc.field or "", kept, 422)
    return see_other("/calendars", "saved")


@routes.post("/calendars/google")
@signed_in
async def google(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    url = await request.app[ACCOUNTS].begin_google({}, user)
    raise web.HTTPSeeOther(url)


@routes.post("/calendars/{id}/resync")
@signed_in
async def resync(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    account_id = path_id(request, "calendar account")

    def queue(store: Store) -> None:
        rules.resync(store, rules.get_account(store, account_id, user))

    await request.app[RUNNER].run(queue)
    return see_other("/calendars", "saved")


@routes.post("/calendars/{id}/password")
@signed_in
async def password(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    account_id = path_id(request, "calendar account")
    account = await request.app[RUNNER].run(lambda s: rules.get_account(s, account_id, user))
    try:
        await request.app[ACCOUNTS].update(account, {"password": form.get("password", "")})
    except FeedserverError as exc:
        return await _page(request, who, user, exc.message, "password", None, 422)
    return see_other("/calendars", "saved")


async def _disconnect(
    request: web.Request, who: Visitor, user: User, remove: bool
) -> web.StreamResponse:
    form = await read_form(request, who)
    account_id = path_id(request, "calendar account")
    account = await request.app[RUNNER].run(lambda s: rules.get_account(s, account_id, user))
    question = REMOVE_QUESTION if remove else KEEP_QUESTION
    ask = unconfirmed(request, who, form, question, "Disconnect", "/calendars")
    if ask is not None:
        return ask
    await request.app[ACCOUNTS].disconnect(account, remove)
    return see_other("/calendars", "saved")


@routes.post("/calendars/{id}/disconnect")
@signed_in
async def disconnect(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """Disconnect and leave the events written where they are."""
    return await _disconnect(request, who, user, False)


@routes.post("/calendars/{id}/remove")
@signed_in
async def remove(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """Disconnect and delete the events written (only those) from the calendar."""
    return await _disconnect(request, who, user, True)
