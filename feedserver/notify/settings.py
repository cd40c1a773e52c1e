"""Per-user notification switches: booked, cancelled, rejected, short_notice."""

from __future__ import annotations

import dataclasses

from feedserver.domain.inputs import Body
from feedserver.model import NotificationSettings, User
from feedserver.notify.planner import settings_for
from feedserver.store import Store

SWITCHES = tuple(f.name for f in dataclasses.fields(NotificationSettings))


def get(store: Store, user: User) -> NotificationSettings:
    return settings_for(store, user)


def patch(store: Store, user: User, data: object) -> NotificationSettings:
    body = Body(data, set(SWITCHES))
    with store.transaction():
        current = settings_for(store, user)
        changed = {name: body.flag(name) for name in SWITCHES if name in body}
        updated = dataclasses.replace(current, **changed)
        store.notification_settings.put(user.id, updated)
        return updated
