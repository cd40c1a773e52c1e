"""The Availability page of staff members and admins: their working hours, and their own
calendars read for busy times (the same domain functions as the API)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from multidict import MultiDictProxy

from feedserver.domain import availability, busy
from feedserver.errors import FeedserverError
from feedserver.model import BusyCalendar, Role, User, WorkingHours
from feedserver.netguard import Refused
from feedserver.store import Store
from feedserver.times import find_zone
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
from feedserver.web.pages.i18n import N_
from feedserver.web.state import BUSY, RUNNER

routes = web.RouteTableDef()

DAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


def _staff(user: User) -> None:
    if user.role is Role.CUSTOMER:
        raise PageRefused(403, "This page is for staff members.")


@dataclass
class HoursForm:
    """The working-hours form as shown: what is stored, or what was just sent (kept as typed
    when it is refused), with the errors by field (a day, ``timezone``, ``exceptions``,
    ``mode``)."""

    always: bool
    timezone: str
    days: dict[str, list[tuple[str, str]]]  # day: [(start, end)], "HH:MM" as typed
    exceptions: list[tuple[str, str, str]]  # (date, start, end); no times: not worked
    errors: dict[str, str] = field(default_factory=dict)

    def has_hours(self) -> bool:
        return any(self.days.values()) or bool(self.exceptions)


def _shown(moment: str) -> str:
    """A time input cannot say 24:00: midnight at the end of a day is 00:00 there."""
    return "00:00" if moment == "24:00" else moment


def stored_form(hours: WorkingHours | None, timezone: str) -> HoursForm:
    if hours is None:
        return HoursForm(True, timezone, {}, [])
    days = {
        day: [(_shown(a), _shown(b)) for a, b in availability.ranges_text(ranges)]
        for day, ranges in hours.weekly.items()
    }
    exceptions: list[tuple[str, str, str]] = []
    for day, ranges in sorted(hours.exceptions.items()):
        pairs = availability.ranges_text(ranges)
        if not pairs:
            exceptions.append((day.isoformat(), "", ""))
        exceptions += [(day.isoformat(), _shown(a), _shown(b)) for a, b in pairs]
    return HoursForm(False, hours.timezone, days, exceptions)


def _rows(form: MultiDictProxy[str], *names: str) -> list[tuple[str, ...]]:
    """The rows of repeated inputs, in order, without the rows left empty."""
    columns = [[value.strip() for value in form.getall(name, [])] for name in names]
    rows = itertools.zip_longest(*columns, fillvalue="")
    return [row for row in rows if any(row)]


def sent_form(form: MultiDictProxy[str]) -> HoursForm:
    days = {day: _rows(form, f"{day}-start", f"{day}-end") for day in availability.DAYS}
    return HoursForm(
        form.get("mode") == "always",
        form.get("timezone", "").strip(),
        {day: [(a, b) for a, b in rows] for day, rows in days.items() if rows},
        [
            (d, a, b)
            for d, a, b in _rows(form, "exception-date", "exception-start", "exception-end")
        ],
    )


def _end(moment: str, start: str) -> str:
    return "24:00" if moment == "00:00" and start != "00:00" else moment


def checked(sent: HoursForm, _: Callable[[str], str]) -> WorkingHours | None:
    """The working hours the form says, or None (always available); the refusals go into
    ``sent.errors``, each naming its day or date and row."""
    errors = sent.errors
    if sent.always:
        if sent.has_hours():
            errors["mode"] = _(
                "You entered working hours but chose “Always available”: choose “Only "
                "during my working hours” to keep them, or clear them."
            )
        return None
    if find_zone(sent.timezone) is None:
        errors["timezone"] = _("Choose a time zone from the list.")
    names = dict(zip(availability.DAYS, DAY_NAMES, strict=True))
    weekly: dict[str, list[list[str]]] = {}
    for day, rows in sent.days.items():
        for number, (start, end) in enumerate(rows, 1):
            if not start or not end:
                errors.setdefault(
                    day,
                    _("{day}, hours {n}: give both a start and an end").format(
                        day=_(names[day]), n=number
                    ),
                )
        weekly[day] = [[a, _end(b, a)] for a, b in rows]
    dated: dict[str, list[list[str]]] = {}
    for number, (when, start, end) in enumerate(sent.exceptions, 1):
        if not when:
            errors.setdefault("exceptions", _("Exception {n}: which date?").format(n=number))
        elif bool(start) != bool(end):
            errors.setdefault(
                "exceptions",
                _("{date}: give both a start and an end, or neither (not worked)").format(
                    date=when
                ),
            )
        ranges = dated.setdefault(when, [])
        if start and end:
            ranges.append([start, _end(end, start)])
    if errors:
        return None
    body = {
        "timezone": sent.timezone,
        "weekly": weekly,
        "exceptions": [{"date": d, "hours": r} for d, r in dated.items()],
    }
    try:
        return availability.parse_working_hours(body)
    except FeedserverError as exc:
        where = exc.field or ""
        problem = _(exc.message)
        if where.startswith("weekly."):
            day, _sep, rest = where[len("weekly.") :].partition("[")
            if rest:
                errors[day] = _("{day}, hours {n}: {problem}").format(
                    day=_(names[day]), n=int(rest.split("]")[0]) + 1, problem=problem
                )
            else:
                errors[day] = _("{day}: {problem}").format(day=_(names[day]), problem=problem)
        elif where.startswith("exceptions["):
            index = int(where[len("exceptions[") :].split("]")[0])
            errors["exceptions"] = _("{date}: {problem}").format(
                date=list(dated)[index], problem=problem
            )
        elif where == "timezone":
            errors["timezone"] = problem
        else:
            errors["mode"] = problem
        return None


async def _page(
    request: web.Request,
    who: Visitor,
    user: User,
    hours: HoursForm | None = None,
    calendar: Mapping[str, str] | None = None,
    calendar_error: str = "",
    status: int = 200,
) -> web.Response:
    def load(store: Store) -> tuple[WorkingHours | None, list[BusyCalendar]]:
        return store.working_hours.get(user.id), store.busy_calendars.list(user.id)

    stored, calendars = await request.app[RUNNER].run(load)
    context = {
        "hours": hours or stored_form(stored, user.timezone),
        "calendars": calendars,
        "calendar": calendar or {},
        "calendar_error": calendar_error,
        "days": list(zip(availability.DAYS, DAY_NAMES, strict=True)),
    }
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
    sent = sent_form(form)
    hours = checked(sent, who._)
    if sent.errors:
        return await _page(request, who, user, hours=sent, status=422)
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
    except (Refused, FeedserverError) as exc:
        kept = {k: form.get(k, "") for k in ("name", "url", "username")}  # never the password
        message = who._(exc.message if isinstance(exc, FeedserverError) else str(exc))
        return await _page(request, who, user, calendar=kept, calendar_error=message, status=422)
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
