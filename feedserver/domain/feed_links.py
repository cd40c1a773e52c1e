"""Feed links: who owns them, what they show, how their URLs are built; and the feed
templates (SUMMARY and DESCRIPTION with ``%shortcodes%``) that word their events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feedserver.calendar import templates
from feedserver.domain import events, schemas
from feedserver.domain.accounts import find_user
from feedserver.domain.catalog import get_type, normalise_code
from feedserver.domain.inputs import Body
from feedserver.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    UnknownReference,
)
from feedserver.model import FeedFilters, FeedLink, FeedTemplate, Role, Scope, Status, User
from feedserver.store import BookingQuery, Store
from feedserver.times import iso_utc, utcnow
from feedserver.tokens import LinkSigner, new_nonce

_STATUSES = {Status.CONFIRMED.value, Status.PENDING.value, Status.CANCELLED.value}


@dataclass(frozen=True)
class FeedUrls:
    public_url: str
    signer: LinkSigner

    def https(self, link: FeedLink) -> str:
        return f"{self.public_url}/feeds/{self.signer.sign(link.id, link.nonce)}.ics"

    def webcal(self, link: FeedLink) -> str:
        return "webcal://" + self.https(link).split("://", 1)[1]


def _kind(body: Body) -> str:
    kind = body.text("kind", default="events")
    if kind not in ("events", "busy"):
        raise InvalidInput(
            "kind is 'events' (the bookings) or 'busy' (free/busy only: 'Busy' events without "
            "titles, places or people)",
            field="kind",
        )
    return kind


def parse_filters(store: Store, body: Body) -> FeedFilters:
    """The filters a body names (a feed link's, a calendar account's)."""
    types = body.texts("types") or []
    for key in types:
        if store.types.get(key.lower()) is None:
            raise UnknownReference(f"unknown reservation type {key!r}", field="types")
    codes = [normalise_code(c, "locations") for c in body.texts("locations") or []]
    for code in codes:
        if store.locations.get(code) is None:
            raise UnknownReference(f"unknown location code {code!r}", field="locations")
    staff_refs = body.raw("staff") or []
    if not isinstance(staff_refs, list):
        staff_refs = [staff_refs]
    staff_ids = []
    for ref in staff_refs:
        try:
            staff_ids.append(find_user(store, ref, "staff").id)
        except NotFound as exc:
            raise UnknownReference(f"unknown staff member {ref!r}", field="staff") from exc
    statuses = body.texts("statuses")
    if statuses is not None:
        bad = sorted(set(statuses) - _STATUSES)
        if bad or not statuses:
            raise InvalidInput(
                "statuses is a non-empty list of confirmed, pending, cancelled", field="statuses"
            )
    return FeedFilters(
        types=tuple(sorted({t.lower() for t in types})),
        locations=tuple(sorted(set(codes))),
        staff=tuple(sorted(set(staff_ids))),
        statuses=tuple(sorted(set(statuses))) if statuses else ("confirmed",),
        include_pending=body.flag("include_pending"),
        show_cancelled=body.flag("show_cancelled"),
        include_buffers=body.flag("include_buffers"),
        show_attendees=body.flag("show_attendees"),
        busy_only=_kind(body) == "busy",
    )


def create_link(store: Store, data: object, owner: User | None = None) -> FeedLink:
    """A new link for ``owner`` (``/api/me/feeds``) or for the body's ``user`` (admins)."""
    body = Body(data, schemas.FEED_LINK if owner is None else schemas.OWN_FEED_LINK)
    with store.transaction():
        if owner is None:
            if body.raw("user") is None:
                raise InvalidInput(
                    "user is required: a feed link belongs to a personal account (the admin "
                    "token is the bootstrap super-admin, which has no feed)",
                    field="user",
                )
            try:
                owner = find_user(store, body.raw("user"))
            except NotFound as exc:
                raise UnknownReference(str(exc), field="user") from exc
        scope_name = body.text("scope", default=Scope.OWN.value)
        if scope_name not in {s.value for s in Scope}:
            raise InvalidInput("scope must be 'own' or 'all'", field="scope")
        scope = Scope(scope_name)
        if scope is Scope.ALL and owner.role is not Role.ADMIN:
            raise PermissionDenied(
                f"scope 'all' shows the whole organisation and is for admins; {owner.email} "
                f"is {owner.role.value}"
            )
        name = body.text("name", default="Bookings")
        return store.feed_links.create(
            owner.id, name, scope, parse_filters(store, body), new_nonce()
        )


def get_link(store: Store, link_id: int, owner: User | None = None) -> FeedLink:
    link = store.feed_links.get(link_id)
    if link is None or (owner is not None and link.user_id != owner.id):
        raise NotFound(f"no feed link {link_id}")
    return link


def list_links(
    store: Store, user_ref: str | None = None, owner: User | None = None
) -> list[FeedLink]:
    if owner is not None:
        return store.feed_links.list(owner.id)
    if user_ref:
        return store.feed_links.list(find_user(store, user_ref).id)
    return store.feed_links.list()


def filters_body(filters: FeedFilters) -> dict[str, object]:
    """A link's filters as a request body says them (what an edit starts from)."""
    return {
        "types": list(filters.types),
        "locations": list(filters.locations),
        "staff": list(filters.staff),
        "statuses": list(filters.statuses),
        "include_pending": filters.include_pending,
        "show_cancelled": filters.show_cancelled,
        "include_buffers": filters.include_buffers,
        "show_attendees": filters.show_attendees,
        "kind": "busy" if filters.busy_only else "events",
    }


def update_link(store: Store, link_id: int, data: object, owner: User | None = None) -> FeedLink:
    """A link's new name or filters (the fields sent replace the link's); the URL stays, and
    calendars subscribed to it show the new selection at their next poll."""
    body = Body(data, schemas.FEED_LINK_PATCH)
    with store.transaction():
        link = get_link(store, link_id, owner)
        if link.revoked_at is not None:
            raise Conflict(f"feed link {link_id} is revoked; create a new link instead")
        sent = {k: v for k, v in body.data.items() if k != "name" and v is not None}
        merged = Body({**filters_body(link.filters), **sent}, schemas.FEED_LINK_PATCH)
        name = body.text("name") or link.name
        return store.feed_links.update(link.id, name, parse_filters(store, merged))


def rotate_link(store: Store, link_id: int, owner: User | None = None) -> FeedLink:
    with store.transaction():
        link = get_link(store, link_id, owner)
        if link.revoked_at is not None:
            raise Conflict(f"feed link {link_id} is revoked; create a new link instead")
        return store.feed_links.rotate(link.id, new_nonce())


def revoke_link(
    store: Store, link_id: int, owner: User | None = None, origin: events.Origin = events.API
) -> FeedLink:
    with store.transaction():
        link = get_link(store, link_id, owner)
        if link.revoked_at is not None:
            return link
        revoked = store.feed_links.revoke(link.id)
        events.record(
            store,
            "feed_link.revoked",
            f"feed_link {link.id}",
            origin,
            {
                "feed_link": {
                    "id": revoked.id,
                    "user": revoked.user_id,
                    "name": revoked.name,
                    "revoked_at": iso_utc(revoked.revoked_at or utcnow()),
                }
            },
        )
        return revoked


def link_query(
    link: FeedLink, owner: User, start: datetime | None, end: datetime | None
) -> BookingQuery:
    """The bookings a link shows. Scope ``all`` needs the owner to still be an admin."""
    involving = None
    if link.scope is not Scope.ALL or owner.role is not Role.ADMIN:
        involving = (owner.id, owner.email)
    f = link.filters
    return BookingQuery(
        types=f.types or None,
        locations=f.locations or None,
        staff_ids=f.staff or None,
        statuses=f.effective_statuses,
        start=start,
        end=end,
        involving_user=involving,
    )


# -- templates ------------------------------------------------------------------------------


def save_template(store: Store, type_key: str | None, data: object) -> FeedTemplate:
    body = Body(data, schemas.FEED_TEMPLATE)
    summary = templates.validate_feed_template(body.text("summary", required=True), "summary")
    description = templates.validate_feed_template(body.text("description"), "description")
    with store.transaction():
        type_id = get_type(store, type_key).id if type_key else None
        store.feed_templates.save(type_id, summary, description)
    return FeedTemplate(type_key, summary, description)


def delete_template(store: Store, type_key: str | None) -> None:
    """Remove a type's own template (it falls back to the default), or, with None, the saved
    organisation default (the built-in one applies again)."""
    with store.transaction():
        rtype = get_type(store, type_key) if type_key else None
        if not store.feed_templates.delete(rtype.id if rtype else None) and rtype:
            raise NotFound(f"reservation type {rtype.key} has no template of its own")
