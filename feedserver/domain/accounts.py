"""User accounts: staff, customers and admins with a personal account."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from feedserver.domain import schemas
from feedserver.domain.catalog import get_location
from feedserver.domain.inputs import Body, check_external_id, email, external_id
from feedserver.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from feedserver.model import MESSAGE_LANGUAGES, AccountSettings, Role, User
from feedserver.numbers import is_whole
from feedserver.passwords import hash_password
from feedserver.store import Store
from feedserver.times import utcnow, zone

MIN_PASSWORD = 8
LANGUAGES = ("", *MESSAGE_LANGUAGES)  # '' = the browser's (pages) or the organisation's (email)


def find_user(store: Store, ref: object, field: str = "user") -> User:
    """A user by id (int or digits) or by email; NotFound otherwise."""
    user: User | None = None
    if isinstance(ref, int) and not isinstance(ref, bool):
        user = store.users.get(ref)
    elif isinstance(ref, str) and is_whole(ref.strip()):
        user = store.users.get(int(ref))
    elif isinstance(ref, str) and "@" in ref:
        user = store.users.get_by_email(ref.strip().lower())
    else:
        raise InvalidInput(f"{field} must be a user id or an email address", field=field)
    if user is None:
        raise NotFound(f"no user {ref!r}")
    return user


def _values(
    store: Store, body: Body, partial: bool, own_id: int | None = None
) -> tuple[dict[str, Any], str | None]:
    """The account settings the body gives (by field of ``AccountSettings``), and the hash
    of the password it sets (None: none)."""
    values: dict[str, Any] = {}
    password_hash = None
    if not partial or "email" in body:
        values["email"] = email(body.text("email", required=True))
    if not partial or "name" in body:
        values["name"] = body.text("name", required=True)
    if not partial or "role" in body:
        role = body.text("role", default=Role.CUSTOMER.value)
        if role not in {r.value for r in Role}:
            raise InvalidInput(
                f"role must be one of admin, staff, customer, not {role!r}", field="role"
            )
        values["role"] = Role(role)
    if "password" in body:
        password = body.text("password", required=True)
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                f"password must have at least {MIN_PASSWORD} characters", field="password"
            )
        password_hash = hash_password(password)
    if not partial or "timezone" in body:
        values["timezone"] = body.text("timezone", default="UTC")
        zone(values["timezone"])
    if "language" in body:
        values["language"] = body.text("language", default="")
        if values["language"] not in LANGUAGES:
            raise InvalidInput(
                f"language must be one of {', '.join(MESSAGE_LANGUAGES)} or ''", field="language"
            )
    if "primary_location" in body:
        code = body.raw("primary_location")
        values["primary_location"] = (
            get_location(store, code).code if code not in (None, "") else None
        )
    if not partial or "external_id" in body:
        values["external_id"] = external_id(body)
        check_external_id(values["external_id"], store.users.id_of_external, own_id, "person")
    return values, password_hash


def create_user(store: Store, data: object) -> User:
    body = Body(data, schemas.USER)
    with store.transaction():
        values, password_hash = _values(store, body, partial=False)
        if store.users.get_by_email(values["email"]) is not None:
            raise AlreadyExists(f"a user with email {values['email']} exists", field="email")
        return store.users.create(AccountSettings(**values), password_hash)


def update_user(store: Store, ref: object, data: object) -> User:
    body = Body(data, schemas.USER_PATCH)
    with store.transaction():
        user = find_user(store, ref)
        values, password_hash = _values(store, body, partial=True, own_id=user.id)
        new_email = values.get("email", user.email)
        other = store.users.get_by_email(new_email)
        if other is not None and other.id != user.id:
            raise AlreadyExists(f"a user with email {new_email} exists", field="email")
        if password_hash is not None:
            store.users.set_password_hash(user.id, password_hash)
        return store.users.update(user.id, replace(user.settings, **values))


def _oneself(user: User, actor: User | None) -> bool:
    return actor is not None and actor.id == user.id


def set_active(store: Store, ref: object, active: bool, actor: User | None = None) -> User:
    """Deactivate a person (they sign in no more, their sessions end, their feed links and
    app passwords answer no more, their bookings stay) or reactivate them (links and app
    passwords work again; they sign in again). ``actor``: the admin doing it, who cannot
    deactivate themselves."""
    with store.transaction():
        user = find_user(store, ref)
        if active == user.active:
            return user
        if not active and _oneself(user, actor):
            raise Conflict("you cannot deactivate your own account; another admin can")
        changed = store.users.set_deactivated(user.id, None if active else utcnow())
        if not active:
            store.sessions.delete_for_user(user.id)
        store.feed_links.owner_changed(user.id)
        return changed


def change_role(store: Store, ref: object, role: str, actor: User | None = None) -> User:
    """A person's new role (customer, staff, admin); an admin cannot change their own."""
    with store.transaction():
        user = find_user(store, ref)
        if role != user.role.value and _oneself(user, actor):
            raise Conflict("you cannot change your own role; another admin can")
        return update_user(store, user.id, {"role": role})
