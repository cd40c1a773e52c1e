"""The Availability page of staff members and admins: their working hours, and their own
calendars read for busy times (the same domain functions as the API)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from feedserver.domain import availability, busy
from feedserver.errors import FeedserverError
from feedserver.model import Hours, Role, User, WorkingHours
from feedserver.netguard import Refused
from feedserver.store import Store
from feedserver.web.pages.base import (
    PageRefused,
    Visitor,
    path_id,
    read_form,
    render,
    see_other,
    signed_in,
    unconfirmed,
)
from feedserver.web.state import BUSY, RUNNER

routes = web.RouteTableDef()

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _staff(user: User) -> None:
    if user.role is Role.CUSTOMER:
        raise PageRefused(403, "This page is for staff members.")


def hours_text(hours: WorkingHours | None) -> dict[str, Any]:
    """The working hours as the form shows them: '09:00-12:00, 13:00-17:00' per day."""
    if hours is None:
        return {"timezone": "", "days": {}, "exceptions": ""}

    def words(ranges: Hours) -> str:
        return ", ".join(f"{a}-{b}" for a, b in availability.ranges_text(ranges))

    days = {d: words(r) for d, r in hours.weekly.items()}
    lines = [f"{d.isoformat()} {words(r)}".rstrip() for d, r in sorted(hours.exceptions.items())]
    return {"timezone": hours.timezone, "days": days, "exceptions": "\n".join(lines)}


def _ranges(text: str) -> list[list[str]]:
    found = []
    for part in text.replace(";", ",").split(","):
        if part.strip():
            start, _, end = part.strip().partition("-")
            found.append([start.strip(), end.strip()])
    return found


def hours_from_form(form: MultiDictProxy[str]) -> dict[str, Any]:
    """The API body of the working-hours form."""
    weekly = {d: _ranges(form.get(d, "")) for d in availability.DAYS if form.get(d, "").strip()}
    exceptions = []
    for line in form.get("exceptions", "").splitlines():
        if line.strip():
            day, _, ranges = line.strip().partition(" ")
            exceptions.append({"date": day, "hours": _ranges(ranges)})
    return {"timezone": form.get("timezone", ""), "weekly": weekly, "exceptions": exceptions}


async def _page(
    request: web.Request, who: Visitor, user: User, error: str = "", status: int = 200
) -> web.Response:
    def load(store: Store) -> dict[str, Any]:
        return {
            "hours": hours_text(store.working_hours.get(user.id)),
            "calendars": store.busy_calendars.list(user.id),
        }

    days = zip(availability.DAYS, DAY_NAMES, strict=True)
    context = {**(await request.app[RUNNER].run(load)), "days": list(days), "error": error}
    return render(request, who, "availability.html", context, status)


@routes.get("/availability")
@signed_in
async def page(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    _staff(user)
    return await _page(request, who, user)


@routes.post("/availability/hours")
@signed_in
async def save_hours(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    _staff(user)
    form = await read_form(request, who)
    try:
        if form.get("always") == "on":
            hours = None
        else:
            hours = availability.parse_working_hours(hours_from_form(form))
    except FeedserverError as exc:
        return await _page(request, who, user, exc.message, 422)

    await request.app[RUNNER].run(lambda s: availability.save_working_hours(s, user.id, hours))
    return see_other("/availability", "saved")


@routes.post("/availability/calendars")
@signed_in
async def add_calendar(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    _staff(user)
    form = await read_form(request, who)
    data = {"name": form.get("name", "").strip(), "url": form.get("url", "").strip()}
    if form.get("username", "").strip():  # a CalDAV account: every calendar of it is read
        data = {
            "name": data["name"],
            "caldav_url": data["url"],
            "username": form.get("username", "").strip(),
            "password": form.get("password", ""),
        }
    try:
        await request.app[BUSY].check(busy.calendar_url(data))
        box = request.app[BUSY].box
        made = await request.app[RUNNER].run(lambda s: busy.add_calendar(s, user, data, box))
    except Refused as exc:
        return await _page(request, who, user, str(exc), 422)
    except FeedserverError as exc:
        return await _page(request, who, user, exc.message, 422)
    await request.app[BUSY].refresh(made)
    return see_other("/availability", "saved")


@routes.post("/availability/calendars/{id}/refresh")
@signed_in
async def refresh(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    _staff(user)
    await read_form(request, who)
    calendar_id = path_id(request, "busy calendar")
    calendar = await request.app[RUNNER].run(lambda s: busy.own_calendar(s, user, calendar_id))
    await request.app[BUSY].refresh(calendar)
    return see_other("/availability", "saved")


@routes.post("/availability/calendars/{id}/remove")
@signed_in
async def remove(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    _staff(user)
    form = await read_form(request, who)
    calendar_id = path_id(request, "busy calendar")
    await request.app[RUNNER].run(lambda s: busy.own_calendar(s, user, calendar_id))
    question = "Remove this calendar? Its busy times are forgotten."
    ask = unconfirmed(request, who, form, question, "Remove", "/availability")
    if ask is not None:
        return ask

    await request.app[RUNNER].run(lambda s: busy.remove_calendar(s, user, calendar_id))
    return see_other("/availability", "saved")
