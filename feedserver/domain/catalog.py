"""Locations and reservation types: what an organisation offers, and where; and the
``Catalog`` a rendering of bookings reads them from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from feedserver.calendar.templates import TemplateSet
from feedserver.calendar.values import Catalog
from feedserver.domain import schemas
from feedserver.domain.inputs import Body, check_external_id, external_id
from feedserver.errors import AlreadyExists, InUse, InvalidInput, NotFound
from feedserver.model import (
    REMINDER_AUDIENCES,
    Location,
    LocationSettings,
    ReservationType,
    TypeSettings,
)
from feedserver.store import Store
from feedserver.times import zone

LOCATION_CODE = re.compile(r"^[A-Z0-9]{2,12}$")
TYPE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_TYPE_FIELDS = {
    "key",
    "name",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "online",
    "color",
    "attendees_visible",
    "title_visible",
    "on_site",
    "reminders",
}


def load_catalog(store: Store, staff_ids: Iterable[int]) -> Catalog:
    """Every location and type, the feed templates, and the staff members named."""
    return Catalog(
        locations={loc.code: loc for loc in store.locations.list()},
        types={t.key: t for t in store.types.list()},
        staff=store.users.get_many(sorted(set(staff_ids))),
        templates=TemplateSet.from_saved(store.feed_templates.list()),
        version=store.bookings.catalog_version(),
    )


def normalise_code(value: object, field: str = "code") -> str:
    if not isinstance(value, str):
        raise InvalidInput("a location code must be a string", field=field)
    code = value.strip().upper()
    if not LOCATION_CODE.match(code):
        raise InvalidInput(
            f"{value!r} is not a location code: 2 to 12 letters A-Z or digits", field=field
        )
    return code


def get_location(store: Store, code: str) -> Location:
    location = store.locations.get(normalise_code(code))
    if location is None:
        raise NotFound(f"no location with code {code.upper()!r}")
    return location


def _location_values(body: Body, partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not partial or "code" in body:
        values["code"] = normalise_code(body.raw("code") or "")
    if not partial or "name" in body:
        values["name"] = body.text("name", required=True)
    if "address" in body or not partial:
        values["address"] = body.text("address")
    if not partial or "timezone" in body:
        values["timezone"] = body.text("timezone", required=True)
        zone(values["timezone"])
    if not partial or "external_id" in body:
        values["external_id"] = external_id(body)
    return values


def create_location(store: Store, data: object) -> Location:
    values = _location_values(Body(data, schemas.LOCATION), partial=False)
    with store.transaction():
        if store.locations.get(values["code"]) is not None:
            raise AlreadyExists(f"location {values['code']} already exists", field="code")
        found = values["external_id"]
        check_external_id(found, store.locations.id_of_external, None, "location")
        return store.locations.create(LocationSettings(**values))


def update_location(store: Store, code: str, data: object) -> Location:
    values = _location_values(Body(data, schemas.LOCATION_PATCH), partial=True)
    with store.transaction():
        location = get_location(store, code)
        found = values.get("external_id")
        check_external_id(found, store.locations.id_of_external, location.id, "location")
        new_code = values.get("code", location.code)
        if new_code != location.code:
            if store.locations.get(new_code) is not None:
                raise AlreadyExists(f"location {new_code} already exists", field="code")
            store.feed_links.rename_in_filters("locations", location.code, new_code)
        return store.locations.update(location.id, replace(location.settings, **values))


def delete_location(store: Store, code: str) -> None:
    with store.transaction():
        location = get_location(store, code)
        bookings, people = store.locations.usage(location.id)
        if bookings:
            raise InUse(
                f"{location.name} ({location.code}) has {bookings} bookings and cannot be "
                "deleted; they keep its name and address"
            )
        if people:
            raise InUse(
                f"{location.name} ({location.code}) is the primary location of {people} "
                "people; choose another one for them first"
            )
        store.locations.delete(location.id)


def get_type(store: Store, key: str) -> ReservationType:
    found = store.types.get(key.strip().lower())
    if found is None:
        raise NotFound(f"no reservation type {key!r}")
    return found


def _type_values(body: Body, partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not partial or "key" in body:
        key = body.text("key", required=True).lower()
        if not TYPE_KEY.match(key):
            raise InvalidInput(
                f"{key!r} is not a key: lowercase letters, digits, '-' and '_'", field="key"
            )
        values["key"] = key
    if not partial or "name" in body:
        values["name"] = body.text("name", required=True)
    if not partial or "duration_minutes" in body:
        values["duration_minutes"] = body.integer("duration_minutes", required=True)
    for name in ("buffer_before_minutes", "buffer_after_minutes"):
        if not partial or name in body:
            values[name] = body.integer(name)
    for flag in ("online", "attendees_visible", "title_visible", "on_site"):
        if not partial or flag in body:
            values[flag] = body.flag(flag)
    if "reminders" in body:
        values["reminders"] = reminder_rules(body.raw("reminders"))
    if not partial or "color" in body:
        color = body.text("color")
        if color and not COLOR.match(color):
            raise InvalidInput(f"{color!r} is not a colour like #1e88e5", field="color")
        values["color"] = color
    if not partial or "external_id" in body:
        values["external_id"] = external_id(body)
    return values


def reminder_rules(value: object) -> tuple[tuple[int, tuple[str, ...]], ...] | None:
    """``[{"before_minutes": 1440, "to": ["attendees"]}, ...]``; None: the default reminders."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 10:
        raise InvalidInput(
            'reminders is a list (at most 10) of {"before_minutes", "to"}, or null',
            field="reminders",
        )
    rules: dict[int, tuple[str, ...]] = {}
    for index, item in enumerate(value):
        where = f"reminders[{index}]"
        if not isinstance(item, dict) or set(item) - {"before_minutes", "to"}:
            raise InvalidInput('each reminder is {"before_minutes", "to"}', field=where)
        minutes = item.get("before_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 44640:
            raise InvalidInput("before_minutes is 1 to 44640 (31 days)", field=where)
        to = item.get("to", ["attendees"])
        if not isinstance(to, list) or not to or set(to) - set(REMINDER_AUDIENCES):
            raise InvalidInput(f"to is a list of {', '.join(REMINDER_AUDIENCES)}", field=where)
        rules[minutes] = tuple(sorted(set(to)))
    return tuple(sorted(rules.items(), reverse=True))


def create_type(store: Store, data: object) -> ReservationType:
    values = _type_values(Body(data, schemas.TYPE), partial=False)
    with store.transaction():
        if store.types.get(values["key"]) is not None:
            raise AlreadyExists(f"reservation type {values['key']} already exists", field="key")
        mine = values["external_id"]
        check_external_id(mine, store.types.id_of_external, None, "reservation type")
        return store.types.create(TypeSettings(**values))


def update_type(store: Store, key: str, data: object) -> ReservationType:
    values = _type_values(Body(data, schemas.TYPE_PATCH), partial=True)
    with store.transaction():
        found = get_type(store, key)
        mine = values.get("external_id")
        check_external_id(mine, store.types.id_of_external, found.id, "reservation type")
        new_key = values.get("key", found.key)
        if new_key != found.key:
            if store.types.get(new_key) is not None:
                raise AlreadyExists(f"reservation type {new_key} already exists", field="key")
            store.feed_links.rename_in_filters("types", found.key, new_key)
        return store.types.update(found.id, replace(found.settings, **values))


def delete_type(store: Store, key: str) -> None:
    with store.transaction():
        found = get_type(store, key)
        if store.types.usage(found.id):
            raise InUse(f"reservation type {found.key} has bookings; it cannot be deleted")
        store.types.delete(found.id)
