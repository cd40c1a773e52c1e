"""Per-user notification switches: booked, cancelled, rejected, short_notice, changed,
reminder. Staff members start with every switch on; admins and customers with every switch
off except reminders (the message people value most)."""

from __future__ import annotations

import dataclasses

from feedserver.domain import schemas
from feedserver.domain.inputs import Body
from feedserver.model import NotificationSettings, Role, User
from feedserver.store import Store

SWITCHES = schemas.SWITCHES
STAFF_DEFAULTS = NotificationSettings(
    booked=True, cancelled=True, rejected=True, short_notice=True, changed=True, reminder=True
)
QUIET = NotificationSettings(
    booked=False, cancelled=False, rejected=False, short_notice=False, changed=False, reminder=True
)


def get(store: Store, user: User) -> NotificationSettings:
    """A user's switches: as saved, or the defaults of their role."""
    saved = store.notification_settings.get(user.id)
    if saved is not None:
        return saved
    return STAFF_DEFAULTS if user.role is Role.STAFF else QUIET


def patch(store: Store, user: User, data: object) -> NotificationSettings:
    body = Body(data, schemas.NOTIFICATION_SETTINGS)
    with store.transaction():
        current = get(store, user)
        changed = {name: body.flag(name) for name in SWITCHES if name in body}
        updated = dataclasses.replace(current, **changed)
        store.notification_settings.put(user.id, updated)
        return updated
