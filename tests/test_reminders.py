"""Reminders: planned in the store when a booking changes (moved: new times; cancelled:
none), sent once when due, even after a restart, skipped when their occurrence has begun, per
type or by the organisation's default, to attendees and staff, with a real SMTP sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedserver.app import create_app
from feedserver.config import Config, ConfigError, load
from feedserver.web.state import OUTBOX, REMINDERS, RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org
from tests.smtp_sink import SmtpServer
from tests.test_notifications import notify_config  # noqa: F401 - fixture shared by import


def soon(days: int, hour: int = 10) -> datetime:
    """A start ``days`` from now at ``hour``:00 UTC (reminders are planned from the real now)."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def reminders_of(app: Any, booking_id: int) -> list[tuple[int, str, str, datetime]]:
    found = await app[RUNNER].run(lambda s: s.reminders.list(booking_id))
    return [(r.before_minutes, r.audience, r.state, r.due_at) for r in found]


@pytest.fixture
async def app_api(aiohttp_client: Any, notify_config: Config) -> tuple[Any, Api]:
    client = await aiohttp_client(create_app(notify_config))
    api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return client.app, api


async def test_a_booking_plans_its_reminders_and_a_move_or_cancel_replans(
    app_api: tuple[Any, Api],
) -> None:
    app, api = app_api
    start = soon(3)
    made = await book(api, start=start.isoformat())
    planned = await reminders_of(app, made["id"])
    assert [(m, a, s) for m, a, s, _ in planned] == [
        (1440, "attendees", "pending"),
        (60, "attendees", "pending"),
    ]
    assert planned[0][3] == start - timedelta(days=1)
    moved = start + timedelta(days=1, hours=2)
    await api.patch(f"/api/bookings/{made['id']}", {"start": moved.isoformat()})
    assert [due for *_, due in await reminders_of(app, made["id"])] == [
        moved - timedelta(days=1),
        moved - timedelta(hours=1),
    ]
    await api.post(f"/api/bookings/{made['id']}/cancel", status=200)
    assert await reminders_of(app, made["id"]) == []


async def test_a_due_reminder_is_sent_once_and_a_late_one_skipped(
    app_api: tuple[Any, Api], smtp: SmtpServer
) -> None:
    app, api = app_api
    start = soon(3)
    made = await book(api, start=start.isoformat())
    worker = app[REMINDERS]
    # The server was down: a day before has passed, the hour before not yet.
    sent, skipped = await worker.run_once(start - timedelta(hours=20))
    assert (sent, skipped) == (1, 0)
    assert (await worker.run_once(start - timedelta(hours=19))) == (0, 0)  # never twice
    await app[OUTBOX].deliver_due()
    (mail,) = [m for m in smtp.sink.to("alice@example.com") if "Reminder" in m["Subject"]]
    assert mail["Subject"].startswith("Reminder: Haircut on ")
    # Down again until after the start: the hour-before reminder is no use any more.
    assert (await worker.run_once(start + timedelta(minutes=5))) == (0, 1)
    states = [s for _, _, s, _ in await reminders_of(app, made["id"])]
    assert states == ["sent", "skipped"]


async def test_reminders_survive_a_restart(
    aiohttp_client: Any,
    notify_config: Config,
    smtp: SmtpServer,
) -> None:
    first = await aiohttp_client(create_app(notify_config))
    api = Api(first, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    start = soon(2)
    await book(api, start=start.isoformat())
    await first.close()  # the server stops before anything is due
    second = await aiohttp_client(create_app(notify_config))
    assert (await second.app[REMINDERS].run_once(start - timedelta(minutes=59))) == (2, 0)
    await second.app[OUTBOX].deliver_due()
    reminders = [m for m in smtp.sink.to("alice@example.com") if "Reminder" in m["Subject"]]
    assert len(reminders) == 2


async def test_a_type_reminds_staff_too_and_a_person_can_turn_reminders_off(
    app_api: tuple[Any, Api], smtp: SmtpServer
) -> None:
    app, api = app_api
    rules = [{"before_minutes": 120, "to": ["attendees", "staff"]}]
    found = await api.patch("/api/types/haircut", {"reminders": rules})
    assert found["reminders"] == rules
    await api.patch(
        "/api/me/notification-settings",
        {"reminder": False},
        headers={"Authorization": basic_auth("bob@example.com", "bob-password")},
    )
    start = soon(4)
    made = await book(
        api,
        start=start.isoformat(),
        attendees=[
            {"email": "alice@example.com", "name": "Alice"},
            {"email": "bob@example.com", "name": "Bob"},
            {"email": "guest@example.net", "name": "Guest"},
        ],
    )
    assert [(m, a) for m, a, _, _ in await reminders_of(app, made["id"])] == [
        (120, "attendees"),
        (120, "staff"),
    ]
    assert (await app[REMINDERS].run_once(start - timedelta(minutes=90))) == (2, 0)
    await app[OUTBOX].deliver_due()

    def reminded(address: str) -> int:
        return len([m for m in smtp.sink.to(address) if "Reminder" in m["Subject"]])

    assert reminded("alice@example.com") == 1 and reminded("guest@example.net") == 1
    assert reminded("bob@example.com") == 0  # his own switch
    assert reminded("camille@example.org") == 1  # the staff member
    bad = await api.patch("/api/types/haircut", {"reminders": [{"before_minutes": 0}]}, status=422)
    assert bad["field"] == "reminders[0]"


async def test_series_are_planned_ahead_and_topped_up(app_api: tuple[Any, Api]) -> None:
    app, api = app_api
    start = soon(1, hour=9)
    made = await book(api, start=start.isoformat(), rrule="FREQ=WEEKLY;COUNT=10")
    planned = await reminders_of(app, made["id"])
    # Two weeks ahead: this occurrence and the next two (two reminders each, some due
    # already past when planned are not written).
    assert 4 <= len(planned) <= 6
    assert max(due for *_, due in planned) <= datetime.now(UTC) + timedelta(days=14, minutes=1)
    worker = app[REMINDERS]
    worker.topped_up = None  # as if an hour had passed
    await worker.run_once(start + timedelta(days=21))
    later = await reminders_of(app, made["id"])
    assert max(due for *_, due in later) > max(due for *_, due in planned)


def test_default_reminders_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "feedserver.toml"
    path.write_text('[notifications]\ndefault_reminders = ["soon attendees"]\n')
    with pytest.raises(ConfigError, match="default_reminders"):
        load(path, environ={})
    path.write_text('[notifications]\ndefault_reminders = ["30 staff attendees"]\n')
    assert load(path, environ={}).notifications.default_reminders == ["30 staff attendees"]


async def test_notifications_page_with_a_cursor(app_api: tuple[Any, Api]) -> None:
    _, api = app_api
    for day in range(3, 8):
        await book(api, start=soon(day).isoformat())
    seen: list[int] = []
    after = ""
    while True:
        page = await api.get(f"/api/notifications?limit=3{after}")
        seen += [m["id"] for m in page["notifications"]]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    everything = (await api.get("/api/notifications?limit=1000"))["notifications"]
    assert seen == [m["id"] for m in everything] and len(seen) >= 10
    assert len(set(seen)) == len(seen)
    bad = await api.get("/api/notifications?limit=0", status=422)
    assert bad["field"] == "limit"
