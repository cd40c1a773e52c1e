"""Per-device app passwords for CalDAV clients: shown once, stored as a digest, revocable."""

from __future__ import annotations

import secrets

from feedserver.domain import schemas
from feedserver.domain.inputs import Body
from feedserver.errors import NotFound
from feedserver.model import AppPassword, User
from feedserver.passwords import token_digest
from feedserver.store import Store


def new_secret() -> str:
    """24 random URL-safe characters in groups of four (144 bits), easy to type on a phone."""
    raw = secrets.token_urlsafe(18)
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def create(store: Store, user: User, data: object) -> tuple[AppPassword, str]:
    name = Body(data, schemas.APP_PASSWORD).text("name", required=True)
    secret = new_secret()
    with store.transaction():
        created = store.app_passwords.create(user.id, name, token_digest(secret))
    return created, secret


def get_own(store: Store, user: User, app_password_id: int) -> AppPassword:
    found = store.app_passwords.get(app_password_id)
    if found is None or found.user_id != user.id:
        raise NotFound(f"no app password {app_password_id}")
    return found


def revoke(store: Store, user: User, app_password_id: int) -> AppPassword:
    with store.transaction():
        found = get_own(store, user, app_password_id)
        if found.revoked_at is None:
            store.app_passwords.revoke(found.id)
        return get_own(store, user, app_password_id)


def device_login(store: Store, user_id: int, secret: str) -> bool:
    """Whether ``secret`` is one of the user's live app passwords (recording its use)."""
    with store.transaction():
        device = store.app_passwords.find_active(user_id, token_digest(secret))
        if device is None:
            return False
        store.app_passwords.touch(device.id)
        return True
