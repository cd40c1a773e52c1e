"""Admin pages for running the organisation: people (invite, password links), feed links of
anyone, locations, reservation types, templates (feed %shortcodes% and email [variables], with a
preview on a real booking), the bridge's inbox, the notification outbox and the online
meetings report (with a CSV export). Each form calls the domain function the JSON API calls."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from feedserver.calendar import templates as text_templates
from feedserver.calendar.render import Viewer, shortcode_values
from feedserver.calendar.templates import SHORTCODES
from feedserver.domain import accounts, catalog
from feedserver.domain import feed_links as links
from feedserver.domain import meetings as meeting_links
from feedserver.domain.catalog import load_catalog
from feedserver.errors import FeedserverError, InvalidInput
from feedserver.model import FeedFilters, Location, Reminders, ReservationType, Role, User
from feedserver.notify import messages, outbox
from feedserver.numbers import is_whole
from feedserver.store import BookingQuery, Store
from feedserver.times import zone
from feedserver.web.errors import status_of
from feedserver.web.pages.base import (
    SECURITY_HEADERS,
    WEBKIT,
    Visitor,
    admin_only,
    path_id,
    read_form,
    render,
    see_other,
    unconfirmed,
)
from feedserver.web.pages.i18n import N_, PERSON_LANGUAGES
from feedserver.web.pages.links import (
    change_link,
    edit_link,
    form_choices,
    link_cards,
    link_form_data,
)
from feedserver.web.state import CONFIG, FEED_URLS, FEEDS, INBOX, MEETINGS, RUNNER, SERVICES

routes = web.RouteTableDef()

ROLES = [r.value for r in Role]


# -- people ------------------------------------------------------------------------------------


async def _people_page(
    request: web.Request,
    who: Visitor,
    error: str = "",
    status: int = 200,
    sent: Mapping[str, str] | None = None,
) -> web.Response:
    """The people page; ``sent``: a refused invitation's values, shown again."""
    people = await request.app[RUNNER].run(lambda s: s.users.list())
    context = {"people": people, "roles": ROLES, "error": error, "sent": sent or {}}
    return render(request, who, "admin/people.html", context, status)


@routes.get("/admin/people")
@admin_only
async def people(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _people_page(request, who)


@routes.post("/admin/people")
@admin_only
async def invite(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """A new account without a password; the person sets one from the emailed link."""
    form = await read_form(request, who)
    data = {
        "email": form.get("email", "").strip(),
        "name": form.get("name", "").strip(),
        "role": form.get("role", Role.CUSTOMER.value),
        "timezone": form.get("timezone", "").strip() or "UTC",
    }

    mail = request.app[WEBKIT].account_mail
    try:
        await request.app[RUNNER].run(lambda s: mail.invite(s, data))
    except FeedserverError as exc:
        return await _people_page(request, who, who._(exc.message), 422, sent=data)
    return see_other("/admin/people", "invited")


async def _person_changed(
    request: web.Request, who: Visitor, person_id: int, change: Callable[[Store], User]
) -> web.StreamResponse:
    """Apply a change to a person; back to the list, or the list with why it was refused."""
    try:
        await request.app[RUNNER].run(change)
    except FeedserverError as exc:
        if status_of(exc) == 404:
            raise
        return await _people_page(request, who, who._(exc.message), status_of(exc))
    return see_other(f"/admin/people#person-{person_id}", "saved")


@routes.post("/admin/people/{id}/role")
@admin_only
async def change_role(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    person_id = path_id(request, "person")
    role = form.get("role", "")
    return await _person_changed(
        request, who, person_id, lambda s: accounts.change_role(s, person_id, role, user)
    )


@routes.post("/admin/people/{id}/{action:deactivate|reactivate}")
@admin_only
async def set_active(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    person_id = path_id(request, "person")
    active = request.match_info["action"] == "reactivate"
    await request.app[RUNNER].run(lambda s: accounts.find_user(s, person_id))  # 404 first
    if not active:
        question = (
            "Deactivate this person? They are signed out, cannot sign in, and their calendar "
            "links and app passwords stop working until they are reactivated. Their bookings "
            "stay."
        )
        ask = unconfirmed(request, who, form, question, "Deactivate", "/admin/people")
        if ask is not None:
            return ask
    return await _person_changed(
        request, who, person_id, lambda s: accounts.set_active(s, person_id, active, user)
    )


@routes.post("/admin/people/{id}/password-link")
@admin_only
async def password_link(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """Email a person a link to set their password: an invitation if they never had one
    (customers made by the API or the bridge), else a reset."""
    await read_form(request, who)
    person_id = path_id(request, "person")

    mail = request.app[WEBKIT].account_mail
    await request.app[RUNNER].run(lambda s: mail.send_password_link(s, person_id))
    return see_other("/admin/people", "reset_sent")


# -- feed links of anyone ----------------------------------------------------------------------


async def _feed_links_page(
    request: web.Request,
    who: Visitor,
    error: str = "",
    status: int = 200,
    editing: Mapping[str, Any] | None = None,
) -> web.Response:
    raw = request.query.get("user", "")
    person_id = int(raw) if is_whole(raw) else None
    await request.app[FEEDS].flush_usage()

    def load(store: Store) -> dict[str, Any]:
        found = store.feed_links.list(person_id) if person_id else []
        return {"people": store.users.list(), "found": found}

    loaded = await request.app[RUNNER].run(load)
    choices = await form_choices(request)
    context = {
        "people": loaded["people"],
        "person_id": person_id,
        "links": link_cards(loaded["found"], request.app[FEED_URLS], choices, who._),
        "error": error,
        "editing": editing or {},
        **choices,
    }
    return render(request, who, "admin/feed_links.html", context, status)


@routes.get("/admin/feed-links")
@admin_only
async def feed_links(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _feed_links_page(request, who)


@routes.post("/admin/feed-links")
@admin_only
async def create_feed_link(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    person = form.get("user", "")
    data = {**link_form_data(form, user), "user": int(person) if is_whole(person) else None}
    try:
        await request.app[RUNNER].run(lambda s: links.create_link(s, data))
    except FeedserverError as exc:
        return await _feed_links_page(request, who, exc.message, 422)
    return see_other(f"/admin/feed-links?user={data['user']}", "link_created")


@routes.post("/admin/feed-links/{id}/edit")
@admin_only
async def edit_feed_link(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    done = await edit_link(request, who, None, user)
    if isinstance(done, dict):
        return await _feed_links_page(request, who, status=422, editing=done)
    return see_other(f"/admin/feed-links?user={done.user_id}#link-{done.id}", "saved")


@routes.post("/admin/feed-links/{id}/{action:rotate|revoke}")
@admin_only
async def change_feed_link(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await change_link(request, who, None, "/admin/feed-links?user={user}")


# -- locations and reservation types -----------------------------------------------------------


UNITS = {"minutes": 1, "hours": 60, "days": 1440}
AUDIENCES = {"attendees": ["attendees"], "staff": ["staff"], "both": ["attendees", "staff"]}
FIELDS_OF = {
    "locations": ("code", "name", "address", "timezone"),
    "types": (
        "key",
        "name",
        "duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "color",
    ),
}


def location_values(location: Location | None, timezone: str) -> dict[str, Any]:
    if location is None:
        return {"code": "", "name": "", "address": "", "timezone": timezone}
    return {
        "code": location.code,
        "name": location.name,
        "address": location.address,
        "timezone": location.timezone,
    }


def reminder_rows(rules: Reminders) -> list[tuple[str, str, str]]:
    """(amount, unit, audience) of each rule, in the largest whole unit."""
    rows = []
    for minutes, to in rules:
        unit = next(u for u in ("days", "hours", "minutes") if minutes % UNITS[u] == 0)
        audience = "both" if set(to) == {"attendees", "staff"} else to[0]
        rows.append((str(minutes // UNITS[unit]), unit, audience))
    return rows


def type_values(rtype: ReservationType | None) -> dict[str, Any]:
    if rtype is None:
        return {
            "key": "",
            "name": "",
            "duration_minutes": "30",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "0",
            "color": "",
            "reminders_mode": "default",
            "reminders": [],
            "online": False,
            "on_site": False,
            "attendees_visible": False,
            "title_visible": False,
        }
    mode = "default" if rtype.reminders is None else ("none" if not rtype.reminders else "custom")
    return {
        "key": rtype.key,
        "name": rtype.name,
        "duration_minutes": str(rtype.duration_minutes),
        "buffer_before_minutes": str(rtype.buffer_before_minutes),
        "buffer_after_minutes": str(rtype.buffer_after_minutes),
        "color": rtype.color,
        "reminders_mode": mode,
        "reminders": reminder_rows(rtype.reminders or ()),
        "online": rtype.online,
        "on_site": rtype.on_site,
        "attendees_visible": rtype.attendees_visible,
        "title_visible": rtype.title_visible,
    }


def sent_type_values(form: MultiDictProxy[str]) -> dict[str, Any]:
    """The type form as sent (shown again when it is refused)."""
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in FIELDS_OF["types"]}
    if form.get("no_color") == "on":
        values["color"] = ""
    for flag in ("online", "on_site", "attendees_visible", "title_visible"):
        values[flag] = form.get(flag) == "on"
    values["reminders_mode"] = form.get("reminders_mode", "default")
    rows = zip(
        form.getall("reminder_amount", []),
        form.getall("reminder_unit", []),
        form.getall("reminder_to", []),
        strict=False,
    )
    values["reminders"] = [(a.strip(), u, t) for a, u, t in rows if a.strip()]
    return values


def type_body(values: Mapping[str, Any], _: Callable[[str], str]) -> dict[str, Any]:
    """The domain's type body from the form's values; InvalidInput naming the reminder row
    for a reminder that cannot be read."""
    data: dict[str, Any] = {"key": values["key"], "name": values["name"]}
    for name in ("duration_minutes", "buffer_before_minutes", "buffer_after_minutes"):
        value = values[name] or "0"
        data[name] = int(value) if is_whole(value) else value
    for flag in ("online", "on_site", "attendees_visible", "title_visible"):
        data[flag] = values[flag]
    data["color"] = values["color"]
    mode = values["reminders_mode"]
    if mode == "default":
        data["reminders"] = None
    elif mode == "none":
        data["reminders"] = []
    else:
        rules = []
        for number, (amount, unit, to) in enumerate(values["reminders"], 1):
            if not is_whole(amount) or unit not in UNITS or to not in AUDIENCES:
                raise InvalidInput(
                    _("Reminder {n}: a whole number, a unit and who is reminded").format(n=number),
                    field="reminders",
                )
            rules.append({"before_minutes": int(amount) * UNITS[unit], "to": AUDIENCES[to]})
        if not rules:
            raise InvalidInput(
                _("Add a reminder, or choose the default or none."), field="reminders"
            )
        data["reminders"] = rules
    return data


async def _catalog_page(
    request: web.Request,
    who: Visitor,
    what: str,
    error: str = "",
    status: int = 200,
    sent: tuple[str, dict[str, Any]] | None = None,
) -> web.Response:
    """The locations or types page (``what``): a form per one and one for a new one; after a
    refusal, the form sent (``sent``: its key, "" for the new one, and its values) keeps
    them, with the error beside it."""
    user = who.user

    def load(store: Store) -> dict[str, Any]:
        if what == "locations":
            timezone = user.timezone if user else "UTC"
            found = store.locations.list()
            forms = [(x.code, location_values(x, timezone)) for x in found]
            forms.append(("", location_values(None, timezone)))
        else:
            kinds = store.types.list()
            forms = [(t.key, type_values(t)) for t in kinds]
            forms.append(("", type_values(None)))
        return {"forms": forms}

    context = await request.app[RUNNER].run(load)
    if sent is not None:
        context["forms"] = [(key, sent[1] if key == sent[0] else v) for key, v in context["forms"]]
    context |= {"error": error, "error_for": sent[0] if sent else None}
    return render(request, who, f"admin/{what}.html", context, status)


@routes.get("/admin/locations")
@admin_only
async def locations(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _catalog_page(request, who, "locations")


@routes.post("/admin/locations")
@admin_only
async def save_location(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    original = form.get("original", "")
    data = {key: form.get(key, "").strip() for key in FIELDS_OF["locations"]}

    def save(store: Store) -> None:
        if original:
            catalog.update_location(store, original, data)
        else:
            catalog.create_location(store, data)

    try:
        await request.app[RUNNER].run(save)
    except FeedserverError as exc:
        message = who._(exc.message)
        return await _catalog_page(request, who, "locations", message, 422, (original, data))
    return see_other("/admin/locations", "saved")


@routes.post("/admin/locations/{code}/delete")
@admin_only
async def delete_location(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    code = request.match_info["code"]
    await request.app[RUNNER].run(lambda s: catalog.get_location(s, code))  # 404 first
    question = "Delete this location? It cannot be undone."
    ask = unconfirmed(request, who, form, question, "Delete", "/admin/locations")
    if ask is not None:
        return ask
    try:
        await request.app[RUNNER].run(lambda s: catalog.delete_location(s, code))
    except FeedserverError as exc:
        if status_of(exc) == 404:
            raise
        return await _catalog_page(request, who, "locations", who._(exc.message), 409)
    return see_other("/admin/locations", "deleted")


@routes.get("/admin/types")
@admin_only
async def types(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _catalog_page(request, who, "types")


@routes.post("/admin/types")
@admin_only
async def save_type(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    original = form.get("original", "")
    values = sent_type_values(form)
    try:
        data = type_body(values, who._)

        def save(store: Store) -> None:
            if original:
                catalog.update_type(store, original, data)
            else:
                catalog.create_type(store, data)

        await request.app[RUNNER].run(save)
    except FeedserverError as exc:
        message = who._(exc.message)
        return await _catalog_page(request, who, "types", message, 422, (original, values))
    return see_other("/admin/types", "saved")


# -- templates ----------------------------------------------------------------------------------


def _preview(store: Store, type_key: str, summary: str, description: str) -> dict[str, str]:
    """The SUMMARY and DESCRIPTION a staff member's feed would show for the latest booking of
    the type (any booking when the type has none), with the given templates."""
    query = BookingQuery(types=[type_key] if type_key else None, limit=1)
    found = store.bookings.list(query) or store.bookings.list(BookingQuery(limit=1))
    if not found:
        return {}
    booking = found[0]
    known = load_catalog(store, [booking.staff_id])
    staff = known.staff.get(booking.staff_id)
    if staff is None:
        return {}
    viewer = Viewer(staff, FeedFilters(show_attendees=True))
    values = shortcode_values(booking, known, viewer)
    return {
        "booking": f"#{booking.id}, {booking.local_start:%Y-%m-%d %H:%M}",
        "summary": text_templates.render(summary, values) or values["service_name"],
        "description": text_templates.render(description, values),
    }


# The email templates' groups and what each one is, in words (the page's message ids).
AUDIENCE_LABELS = {
    "attendee": N_("To attendees"),
    "staff": N_("To staff members and admins"),
    "organizer": N_("To organizers (calendar invitations)"),
    "account": N_("Account emails"),
}
KIND_LABELS = {
    ("attendee", "booked"): N_("A booking is made"),
    ("attendee", "requested"): N_("A booking request waits for confirmation"),
    ("attendee", "confirmed"): N_("A booking request is confirmed"),
    ("attendee", "changed"): N_("A booking is moved or changed"),
    ("attendee", "cancelled"): N_("A booking is cancelled"),
    ("attendee", "rejected"): N_("A booking request is declined"),
    ("attendee", "reminder"): N_("Reminder before a booking"),
    ("staff", "booked"): N_("A booking is made"),
    ("staff", "changed"): N_("A booking is moved or changed"),
    ("staff", "cancelled"): N_("A booking is cancelled"),
    ("staff", "rejected"): N_("A booking request is declined"),
    ("staff", "short_notice"): N_("A booking is made at short notice"),
    ("staff", "reminder"): N_("Reminder before a booking"),
    ("staff", "declined"): N_("An attendee declined"),
    ("organizer", "unknown_code"): N_("The event names no known location"),
    ("organizer", "busy"): N_("The organizer's calendar is busy then"),
    ("account", "invitation"): N_("Invitation to set a password"),
    ("account", "password_reset"): N_("Password reset"),
}


@dataclass(frozen=True)
class EmailPick:
    audience: str
    kind: str
    language: str

    @classmethod
    def of(cls, email: str, language: str, fallback_language: str) -> EmailPick:
        audience, _, kind = email.partition("/")
        if kind not in messages.AUDIENCES.get(audience, ()):
            audience, kind = "attendee", "booked"
        if language not in messages.LANGUAGES:
            language = fallback_language if fallback_language in messages.LANGUAGES else "en"
        return cls(audience, kind, language)

    @property
    def key(self) -> str:
        return f"{self.audience}/{self.kind}"


def _email_preview(
    request: web.Request, store: Store, pick: EmailPick, subject: str, body: str
) -> dict[str, str]:
    notifier = request.app[SERVICES].notifier
    if notifier is None:
        return {}
    found = notifier.preview(store, pick.audience, pick.kind, pick.language, subject, body)
    if found is None:
        return {}
    booking, subject_text, body_text = found
    return {
        "booking": f"#{booking.id}",
        "booking_link": f"/admin/bookings/{booking.id}",
        "subject": subject_text,
        "body": body_text,
    }


async def _templates_page(
    request: web.Request,
    who: Visitor,
    picked: str,
    draft: tuple[str, str] | None = None,
    error: str = "",
    status: int = 200,
    email: EmailPick | None = None,
    email_draft: tuple[str, str] | None = None,
    email_error: str = "",
) -> web.Response:
    email = email or EmailPick.of(
        request.query.get("email", ""), request.query.get("language", ""), who.language
    )

    def load(store: Store) -> dict[str, Any]:
        saved = text_templates.TemplateSet.from_saved(store.feed_templates.list())
        current = saved.for_type(picked) if picked else saved.default
        summary, description = draft or (current.summary, current.description)
        kept = store.email_templates.all()
        key = (email.audience, email.kind, email.language)
        subject, body = email_draft or messages.choose(kept, *key)
        return {
            "types": store.types.list(),
            "summary": summary,
            "description": description,
            "preview": _preview(store, picked, summary, description),
            "customised": {(a, k) for a, k, lang in kept if lang == email.language},
            "email_customised": key in kept,
            "email_subject": subject,
            "email_body": body,
            "email_preview": _email_preview(request, store, email, subject, body),
        }

    context = await request.app[RUNNER].run(load)
    context.update(
        picked=picked,
        shortcodes=SHORTCODES,
        variables=messages.VARIABLES,
        error=error,
        email=email,
        email_error=email_error,
        audiences=[(a, AUDIENCE_LABELS[a], kinds) for a, kinds in messages.AUDIENCES.items()],
        kind_labels=KIND_LABELS,
        languages=PERSON_LANGUAGES,
    )
    return render(request, who, "admin/templates.html", context, status)


@routes.get("/admin/templates")
@admin_only
async def templates_page(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _templates_page(request, who, request.query.get("type", ""))


@routes.post("/admin/templates")
@admin_only
async def save_template(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """Preview (``action=preview``) or save the feed template of a type or the default."""
    form = await read_form(request, who)
    picked = form.get("type", "")
    draft = (form.get("summary", ""), form.get("description", ""))
    if form.get("action") == "preview":
        return await _templates_page(request, who, picked, draft)
    data = {"summary": draft[0], "description": draft[1]}
    try:
        await request.app[RUNNER].run(lambda s: links.save_template(s, picked or None, data))
    except FeedserverError as exc:
        return await _templates_page(request, who, picked, draft, exc.message, 422)
    return see_other(f"/admin/templates?type={picked}", "saved")


@routes.post("/admin/email-templates")
@admin_only
async def save_email_template(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """Save, preview (``action=preview``) or reset to the default (``action=reset``) one
    email template: (audience, kind, language)."""
    form = await read_form(request, who)
    email = EmailPick.of(
        f"{form.get('audience', '')}/{form.get('kind', '')}", form.get("language", ""), ""
    )
    draft = (form.get("subject", ""), form.get("body", ""))
    action = form.get("action", "save")
    back = f"/admin/templates?email={email.key}&language={email.language}#email"
    if action == "preview":
        return await _templates_page(request, who, "", email=email, email_draft=draft)
    key = (email.audience, email.kind, email.language)
    if action == "reset":
        question = "Put this email back to its default wording? Your changes are lost."
        ask = unconfirmed(request, who, form, question, "Reset to default", back)
        if ask is not None:
            return ask
        await request.app[RUNNER].run(lambda s: messages.reset(s, *key))
        return see_other(back, "saved")
    data = {"subject": draft[0], "body": draft[1]}
    try:
        await request.app[RUNNER].run(lambda s: messages.save(s, *key, data))
    except FeedserverError as exc:
        message = who._(exc.message)
        return await _templates_page(
            request, who, "", None, "", 422, email, draft, email_error=message
        )
    return see_other(back, "saved")


@routes.post("/admin/email-templates/preview")
@admin_only
async def preview_email(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """The live preview (app.js, as the admin types): the draft worded for a real booking."""
    form = await read_form(request, who)
    email = EmailPick.of(
        f"{form.get('audience', '')}/{form.get('kind', '')}", form.get("language", ""), ""
    )
    subject, body = form.get("subject", ""), form.get("body", "")
    try:
        messages.validate(subject, "subject")
        messages.validate(body, "body")
    except FeedserverError as exc:
        return web.json_response({"error": who._(exc.message)}, headers=SECURITY_HEADERS)
    found = await request.app[RUNNER].run(
        lambda s: _email_preview(request, s, email, subject, body)
    )
    return web.json_response(found, headers=SECURITY_HEADERS)


# -- inbox and outbox ----------------------------------------------------------------------------


@routes.get("/admin/inbox")
@admin_only
async def inbox(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    status = request.query.get("status") or None
    items = await request.app[RUNNER].run(lambda s: s.inbox.list(status))
    bridge = request.app[CONFIG].bridge

    def codes(store: Store) -> list[tuple[str, str]]:
        return [(x.code, x.name) for x in store.locations.list()]

    context = {
        "items": items,
        "status": status or "",
        "invite_address": bridge.invite_address,
        "codes": await request.app[RUNNER].run(codes),
    }
    return render(request, who, "admin/inbox.html", context)


@routes.post("/admin/inbox/{id}/retry")
@admin_only
async def retry_inbox(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    item_id = path_id(request, "inbox item")
    await request.app[RUNNER].run(lambda s: s.inbox.one(item_id))
    await request.app[INBOX].process(item_id)
    return see_other("/admin/inbox", "saved")


@routes.get("/admin/outbox")
@admin_only
async def outbox_page(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    status = request.query.get("status") or None
    found = await request.app[RUNNER].run(lambda s: s.outbox.list(status))
    return render(request, who, "admin/outbox.html", {"messages": found, "status": status or ""})


@routes.post("/admin/outbox/{id}/retry")
@admin_only
async def retry_message(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    message_id = path_id(request, "notification")
    await request.app[RUNNER].run(lambda s: outbox.retry(s, message_id))
    return see_other("/admin/outbox", "saved")


@routes.post("/admin/outbox/retry-failed")
@admin_only
async def retry_failed(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    await request.app[RUNNER].run(outbox.retry_failed)
    return see_other("/admin/outbox", "saved")


# -- online meetings -----------------------------------------------------------------------------


def _period(request: web.Request) -> tuple[date, date]:
    def day(name: str, default: date) -> date:
        try:
            return date.fromisoformat(request.query.get(name, ""))
        except ValueError:
            return default

    start = day("start", date.today())
    return start, day("end", start + timedelta(days=30))


async def _meeting_rows(request: web.Request) -> tuple[date, date, list[dict[str, Any]]]:
    first, last = _period(request)
    start = datetime.combine(first, time(0), zone("UTC"))
    end = datetime.combine(last + timedelta(days=1), time(0), zone("UTC"))

    def load(store: Store) -> list[dict[str, Any]]:
        found = meeting_links.in_period(store, start, end)
        names = {u.id: u.name for u in store.users.list()}
        service = request.app[MEETINGS]
        rows = []
        for booking, meeting in found:
            for link in meeting.links:
                rows.append(
                    {
                        "booking": booking,
                        "staff": names.get(booking.staff_id, ""),
                        "room": meeting.room_url,
                        "attendee": link.attendee_email,
                        "url": ""
                        if link.revoked_at
                        else service.urls.attendee(link.id, link.nonce),
                        "clicks": link.clicks,
                        "last_click": link.last_click_at,
                    }
                )
        return rows

    return first, last, await request.app[RUNNER].run(load)


@routes.get("/admin/meetings")
@admin_only
async def meetings(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    first, last, rows = await _meeting_rows(request)
    context = {"rows": rows, "start": first, "end": last}
    return render(request, who, "admin/meetings.html", context)


@routes.get("/admin/meetings.csv")
@admin_only
async def meetings_csv(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    first, last, rows = await _meeting_rows(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["booking", "start", "type", "staff", "attendee", "attendee_link", "room", "clicks"]
    )
    for row in rows:
        booking = row["booking"]
        writer.writerow(
            [
                booking.id,
                booking.local_start.isoformat(),
                booking.type_key,
                row["staff"],
                row["attendee"],
                row["url"],
                row["room"],
                row["clicks"],
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="online-meetings-{first}-{last}.csv"',
            "Cache-Control": "no-store",
        },
    )
