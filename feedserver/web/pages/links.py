"""The Calendar links page: a person makes, rotates and revokes their subscription links,
with one-click subscribe links for Apple, Google and Outlook and a QR code for phones.

Admins also hand out links to anyone (``/admin/feed-links``): the same domain function
(``feed_links.create_link``), with the person picked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import segno
from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy

from feedserver.domain import events
from feedserver.domain import feed_links as links
from feedserver.domain.feed_links import FeedUrls
from feedserver.errors import FeedserverError
from feedserver.model import FeedLink, Role, Scope, User
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.web.errors import status_of
from feedserver.web.pages.base import (
    Visitor,
    path_id,
    read_form,
    render,
    see_other,
    signed_in,
    unconfirmed,
)
from feedserver.web.state import FEED_URLS, FEEDS, RUNNER

routes = web.RouteTableDef()

ROTATE_QUESTION = "Rotate this link? Calendars subscribed to the old one stop updating."
REVOKE_QUESTION = "Revoke this link? It stops working at once."


def qr_svg(text: str) -> Markup:
    """A QR code of ``text`` as inline SVG (made here: no image service sees the link)."""
    code = segno.make(text, error="m")
    return Markup(  # noqa: S704 - segno writes the SVG from the code's modules, no input text
        code.svg_inline(scale=4, border=2, dark="#111", light="#fff", title="QR code")
    )


def subscribe_links(link: FeedLink, urls: FeedUrls) -> dict[str, Any]:
    https = urls.https(link)
    webcal = urls.webcal(link)
    name = quote(link.name, safe="")
    return {
        "https": https,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?url="
        + quote(https, safe="")
        + "&name="
        + name,
        "office": "https://outlook.office.com/calendar/0/addfromweb?url="
        + quote(https, safe="")
        + "&name="
        + name,
        "qr": qr_svg(webcal),
    }


def in_words(link: FeedLink, choices: Mapping[str, Any], _: Callable[[str], str]) -> str:
    """What a link shows, in words: "Haircut, Massage · Headquarters · with pending · free/busy
    only" (``choices``: the types, locations and staff of ``form_choices``)."""
    filters = link.filters
    types = {t.key: t.name for t in choices["types"]}
    places = {p.code: p.name for p in choices["locations"]}
    people = {p.id: p.name for p in choices["staff"]}
    parts = [
        ", ".join(types.get(k, k) for k in filters.types) or _("All types"),
        ", ".join(places.get(c, c) for c in filters.locations) or _("All locations"),
    ]
    if filters.staff:
        names = ", ".join(people.get(i, str(i)) for i in filters.staff)
        parts.append(_("with {names}").format(names=names))
    if link.scope is Scope.ALL:
        parts.append(_("whole organisation"))
    if filters.include_pending or "pending" in filters.statuses:
        parts.append(_("with pending"))
    if filters.show_cancelled or "cancelled" in filters.statuses:
        parts.append(_("with cancelled"))
    if filters.show_attendees:
        parts.append(_("attendees shown"))
    if filters.busy_only:
        parts.append(_("free/busy only"))
    return " · ".join(parts)


def link_cards(
    found: list[FeedLink], urls: FeedUrls, choices: Mapping[str, Any], _: Callable[[str], str]
) -> list[dict[str, Any]]:
    """What a page shows of each link: its words, its filters (the edit form's values) and,
    while it works, its subscribe links and QR code."""
    return [
        {
            "link": x,
            "words": in_words(x, choices, _),
            "values": {"name": x.name, **links.filters_body(x.filters)},
            **(subscribe_links(x, urls) if x.revoked_at is None else {}),
        }
        for x in found
    ]


def link_form_data(form: MultiDictProxy[str], chooser: User) -> dict[str, Any]:
    """The domain's link body from the form; options beyond types and locations only for
    staff and admins (``chooser`` is who fills the form in)."""
    data: dict[str, Any] = {
        "name": form.get("name", "").strip() or "Bookings",
        "types": form.getall("types", []),
        "locations": form.getall("locations", []),
    }
    if chooser.role in (Role.STAFF, Role.ADMIN):
        data["staff"] = [int(x) for x in form.getall("staff", []) if is_whole(x)]
        data["include_pending"] = form.get("include_pending") == "on"
        data["show_attendees"] = form.get("show_attendees") == "on"
        data["kind"] = "busy" if form.get("kind") == "busy" else "events"
    return data


async def form_choices(request: web.Request) -> dict[str, Any]:
    def load(store: Store) -> dict[str, Any]:
        return {
            "types": store.types.list(),
            "locations": store.locations.list(),
            "staff": [u for u in store.users.list() if u.role is not Role.CUSTOMER],
        }

    return await request.app[RUNNER].run(load)


async def links_page(
    request: web.Request,
    who: Visitor,
    user: User,
    error: str = "",
    status: int = 200,
    editing: Mapping[str, Any] | None = None,
    sent: Mapping[str, Any] | None = None,
) -> web.Response:
    """The page; ``error`` is the new link form's (``sent``: what it sent), ``editing`` a
    refused edit (``id``, ``values`` as sent, ``error``), shown open on its card."""
    await request.app[FEEDS].flush_usage()
    found = await request.app[RUNNER].run(lambda s: links.list_links(s, owner=user))
    choices = await form_choices(request)
    cards = link_cards(found, request.app[FEED_URLS], choices, who._)
    context = {
        "links": cards,
        "error": error,
        "editing": editing or {},
        "sent": sent or {},
        **choices,
    }
    return render(request, who, "links.html", context, status)


def edited(form: MultiDictProxy[str], chooser: User) -> dict[str, Any]:
    """The PATCH body of a link's edit form: everything the form shows replaces the link's."""
    data = link_form_data(form, chooser)
    data["name"] = form.get("name", "").strip() or None
    return data


async def edit_link(
    request: web.Request, who: Visitor, owner: User | None, chooser: User
) -> dict[str, Any] | FeedLink:
    """Apply the edit form of link ``{id}`` (of ``owner``; admins: None); the link, or what
    the page needs to show the refusal."""
    form = await read_form(request, who)
    link_id = path_id(request, "feed link")
    data = edited(form, chooser)
    try:
        return await request.app[RUNNER].run(lambda s: links.update_link(s, link_id, data, owner))
    except FeedserverError as exc:
        if status_of(exc) == 404:
            raise
        values = {**data, "name": form.get("name", "")}
        return {"id": link_id, "values": values, "error": who._(exc.message)}


@routes.get("/links")
@signed_in
async def links_get(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await links_page(request, who, user)


@routes.post("/links")
@signed_in
async def links_post(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    data = link_form_data(form, user)
    if user.is_admin and form.get("scope") == "all":
        data["scope"] = Scope.ALL.value
    try:
        await request.app[RUNNER].run(lambda s: links.create_link(s, data, user))
    except FeedserverError as exc:
        kept = {**data, "name": form.get("name", "")}
        return await links_page(request, who, user, who._(exc.message), 422, sent=kept)
    return see_other("/links", "link_created")


CHANGES = {
    "rotate": (links.rotate_link, ROTATE_QUESTION, "Rotate", "link_rotated"),
    "revoke": (links.revoke_link, REVOKE_QUESTION, "Revoke", "link_revoked"),
}


async def change_link(
    request: web.Request, who: Visitor, owner: User | None, back: str
) -> web.StreamResponse:
    """Rotate or revoke (``{action}``) link ``{id}``: of ``owner``, or of anyone (admins,
    ``owner`` None); asks first; then back to ``back`` (a function of the link)."""
    form = await read_form(request, who)
    link_id = path_id(request, "feed link")
    change, question, label, notice = CHANGES[request.match_info["action"]]
    link = await request.app[RUNNER].run(lambda s: links.get_link(s, link_id, owner))  # 404 first
    page = back.format(user=link.user_id)
    ask = unconfirmed(request, who, form, question, label, page)
    if ask is not None:
        return ask
    if change is links.revoke_link:
        web_origin = events.Origin("web", user=who.user.id if who.user else None)
        await request.app[RUNNER].run(
            lambda s: links.revoke_link(s, link_id, owner, origin=web_origin)
        )
    else:
        await request.app[RUNNER].run(lambda s: change(s, link_id, owner))
    return see_other(page, notice)


@routes.post("/links/{id}/edit")
@signed_in
async def edit(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    done = await edit_link(request, who, user, user)
    if isinstance(done, dict):
        return await links_page(request, who, user, status=422, editing=done)
    return see_other(f"/links#link-{done.id}", "saved")


@routes.post("/links/{id}/{action:rotate|revoke}")
@signed_in
async def rotate_or_revoke(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await change_link(request, who, user, "/links")
