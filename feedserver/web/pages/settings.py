"""A person's own settings: notification switches and profile (name, time zone, language,
password). A password change ends the person's other sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import web

from feedserver.domain import accounts, notification_settings, sign_in
from feedserver.domain.notification_settings import SWITCHES
from feedserver.errors import FeedserverError, InvalidInput
from feedserver.model import Role, User
from feedserver.store import Store
from feedserver.web.pages.account import password_matches
from feedserver.web.pages.base import Visitor, read_form, render, see_other, signed_in
from feedserver.web.pages.i18n import N_, PERSON_LANGUAGES
from feedserver.web.state import CONFIG, RUNNER

routes = web.RouteTableDef()

SWITCH_LABELS = {
    "booked": N_("a booking is made"),
    "cancelled": N_("a booking is cancelled"),
    "rejected": N_("a booking is rejected"),
    "short_notice": N_("a booking is made less than an hour before it starts"),
    "changed": N_("a booking is moved or changed"),
    "reminder": N_("a booking is coming up (reminders)"),
}
# What an attendee is sent (``[notifications] attendee_kinds``), in words.
ATTENDEE_LABELS = {
    "booked": N_("a booking is made for you (with the calendar invitation)"),
    "requested": N_("your booking request is received and waits for confirmation"),
    "confirmed": N_("your booking request is confirmed"),
    "changed": N_("your booking is moved or changed"),
    "cancelled": N_("your booking is cancelled"),
    "rejected": N_("your booking request is declined"),
}


@routes.get("/notifications")
@signed_in
async def notifications(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    current = await request.app[RUNNER].run(lambda s: notification_settings.get(s, user))
    kinds = request.app[CONFIG].notifications.attendee_kinds
    if user.role is Role.CUSTOMER:
        # A customer is only ever an attendee: what comes with each booking, and reminders.
        switches = [("reminder", SWITCH_LABELS["reminder"], current.reminder)]
        switches = switches if "reminder" in kinds else []
        always = [ATTENDEE_LABELS[k] for k in kinds if k in ATTENDEE_LABELS]
    else:
        switches = [(name, SWITCH_LABELS[name], getattr(current, name)) for name in SWITCHES]
        always = []
    context = {"switches": switches, "always": always}
    return render(request, who, "notifications.html", context)


@routes.post("/notifications")
@signed_in
async def notifications_post(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    shown = ("reminder",) if user.role is Role.CUSTOMER else SWITCHES
    data = {name: form.get(name) == "on" for name in shown}
    await request.app[RUNNER].run(lambda s: notification_settings.patch(s, user, data))
    return see_other("/notifications", "saved")


async def profile_page(
    request: web.Request,
    who: Visitor,
    user: User,
    error: str = "",
    status: int = 200,
    sent: Mapping[str, str] | None = None,
) -> web.Response:
    """The profile; ``sent``: refused values, shown again instead of the stored ones."""
    shown = {"name": user.name, "timezone": user.timezone, "language": user.language}
    context = {
        "person": user,
        "shown": {**shown, **(sent or {})},
        "languages": PERSON_LANGUAGES,
        "error": error,
    }
    return render(request, who, "profile.html", context, status)


@routes.get("/profile")
@signed_in
async def profile(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await profile_page(request, who, user)


@routes.post("/profile")
@signed_in
async def profile_post(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    data = {
        "name": form.get("name", "").strip(),
        "timezone": form.get("timezone", user.timezone),
        "language": form.get("language", ""),
    }
    try:
        await request.app[RUNNER].run(lambda s: accounts.update_user(s, user.id, data))
    except FeedserverError as exc:
        return await profile_page(request, who, user, who._(exc.message), 422, sent=data)
    return see_other("/profile", "saved")


@routes.post("/profile/password")
@signed_in
async def password_post(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    if await password_matches(request, user.email, form.get("current", "")[:1024]) is None:
        return await profile_page(request, who, user, who._("The current password is wrong."), 422)
    try:
        password = sign_in.check_new_password(form.get("password", ""), form.get("password_again"))
    except InvalidInput as exc:
        return await profile_page(request, who, user, exc.message, 422)
    loop = asyncio.get_running_loop()
    new_hash = await loop.run_in_executor(None, sign_in.new_hash, password)

    def apply(store: Store) -> None:
        sign_in.set_password(store, user.id, new_hash, keep_session=who.session_id)

    await request.app[RUNNER].run(apply)
    return see_other("/profile", "password_changed")
