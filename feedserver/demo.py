"""A realistic demo organisation: a small salon-and-coaching chain in France and New York."""

from __future__ import annotations

import os
import random
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feedserver.domain import accounts, bookings, catalog
from feedserver.domain.bookings import Effects
from feedserver.domain.commands import BookingDraft
from feedserver.domain.imports import Importer, Row, import_rows
from feedserver.model import Attendee, Status
from feedserver.store import Store

LOCATIONS = [
    {
        "code": "ANHQ",
        "name": "Annecy HQ",
        "address": "12 rue Royale, 74000 Annecy",
        "timezone": "Europe/Paris",
    },
    {
        "code": "LYON",
        "name": "Lyon Presqu'île",
        "address": "5 place Bellecour, 69002 Lyon",
        "timezone": "Europe/Paris",
    },
    {
        "code": "NYC1",
        "name": "New York Midtown",
        "address": "350 5th Ave, New York, NY 10118",
        "timezone": "America/New_York",
    },
]
TYPES = [
    {
        "key": "haircut",
        "name": "Haircut",
        "duration_minutes": 45,
        "buffer_after_minutes": 15,
        "color": "#8e24aa",
    },
    {
        "key": "coloring",
        "name": "Colouring",
        "duration_minutes": 90,
        "buffer_before_minutes": 15,
        "buffer_after_minutes": 15,
        "color": "#d81b60",
    },
    {
        "key": "consultation",
        "name": "Consultation",
        "duration_minutes": 30,
        "buffer_after_minutes": 10,
        "color": "#1e88e5",
    },
    {
        "key": "video-coaching",
        "name": "Video coaching",
        "duration_minutes": 30,
        "online": True,
        "color": "#43a047",
    },
    {
        "key": "yoga-class",
        "name": "Yoga class (group)",
        "duration_minutes": 60,
        "buffer_after_minutes": 15,
        "color": "#fb8c00",
    },
    {
        "key": "massage",
        "name": "Massage",
        "duration_minutes": 60,
        "buffer_after_minutes": 15,
        "color": "#00897b",
    },
]
STAFF = [
    ("camille.martin@demo.feedserver.test", "Camille Martin", "ANHQ", "Europe/Paris"),
    ("lukas.weber@demo.feedserver.test", "Lukas Weber", "LYON", "Europe/Berlin"),
    ("maya.johnson@demo.feedserver.test", "Maya Johnson", "NYC1", "America/New_York"),
]
ADMIN = ("owner@demo.feedserver.test", "Élodie Dupont", "ANHQ", "Europe/Paris")
CUSTOMERS = [
    "Amélie Roux",
    "Hugo Bernard",
    "Chloé Petit",
    "Louis Durand",
    "Inès Moreau",
    "Jules Laurent",
    "Léa Simon",
    "Nathan Michel",
    "Zoé Lefebvre",
    "Gabriel Garcia",
    "Sofia Rossi",
    "Noah Smith",
    "Emma Brown",
    "Liam Davis",
    "Olivia Wilson",
    "Mateo Lopez",
    "Anna Müller",
    "Jonas Schmidt",
    "Yuki Tanaka",
    "Aïcha Diallo",
]


SINGLE_TYPES = ["haircut", "coloring", "consultation", "video-coaching", "massage"]
NOTES = [
    "",
    "",
    "First visit.",
    "Prefers the window seat.",
    "Allergic to ammonia — use the gentle range.",
]


@dataclass
class Summary:
    locations: int = 0
    types: int = 0
    users: int = 0
    bookings: int = 0
    refused: int = 0  # import rows refused
    passwords: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)


def _email(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower())
    ascii_name = decomposed.encode("ascii", "ignore").decode()
    return ascii_name.replace(" ", ".").replace("'", "") + "@example.com"


def _at(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(tz))


STAFF_LOAD = 1_000  # bookings per staff member: beyond, the demo adds staff members
_SLOTS = ((9, 0), (11, 30), (14, 0), (16, 30))  # a type and its buffers fit between two


def _extra_staff(count: int) -> list[tuple[str, str, str, str]]:
    """Staff members beyond the three named ones, one per ``STAFF_LOAD`` bookings."""
    wanted = -(-count // STAFF_LOAD) - len(STAFF)
    extra = []
    for n in range(1, wanted + 1):
        location = LOCATIONS[n % len(LOCATIONS)]
        extra.append(
            (
                f"staff{n:03d}@demo.feedserver.test",
                f"Demo Staff {n:03d}",
                str(location["code"]),
                str(location["timezone"]),
            )
        )
    return extra


def _rows(
    rng: random.Random,
    count: int,
    staff: list[tuple[str, str]],
    customers: list[tuple[str, str]],
    today: date,
    zones: dict[str, str],
) -> Iterator[Row]:
    """``count`` single bookings as import rows, shared among ``staff`` (email, location
    code): each staff member's in distinct slots of their working days (Monday to Saturday)
    from a month ago on, over at least four months, so that none is a double booking."""
    per_staff = -(-count // len(staff))
    days = max(120, per_staff * 7 // (6 * 2) + 30)  # about two bookings a working day
    line = 0
    for index, (email, code) in enumerate(staff):
        wanted = min(per_staff, count - index * per_staff)
        if wanted <= 0:
            return
        slots = [
            (day, slot)
            for offset in range(-30, days - 30)
            if (day := today + timedelta(days=offset)).weekday() != 6
            for slot in _SLOTS
        ]
        for day, (hour, minute) in sorted(rng.sample(slots, min(wanted, len(slots)))):
            line += 1
            customer = rng.choice(customers)
            start = _at(day, hour, minute + rng.choice((0, 15)), zones[code])
            data = {
                "type": rng.choice(SINGLE_TYPES),
                "location": code,
                "staff": email,
                "start": start.isoformat(),
                "timezone": zones[code],
                "attendees": [{"email": customer[0], "name": customer[1]}],
                "status": "pending" if rng.random() < 0.1 else "confirmed",
                "notes": rng.choice(NOTES),
            }
            yield Row(line, f"demo-{line}@demo.feedserver.test", data)


def load(
    store: Store,
    seed: int = 2026,
    count: int = 300,
    effects: Effects | None = None,
    progress: Callable[[int], object] = lambda n: None,
) -> Summary:
    """Create the organisation; ``count`` single bookings from a month ago on (the bulk
    importer writes them, in chunked transactions), a few of them cancelled, and three
    series. One more staff member per 1,000 bookings beyond the first 3,000."""
    rng = random.Random(seed)
    summary = Summary()
    for location in LOCATIONS:
        catalog.create_location(store, location)
        summary.locations += 1
    for rtype in TYPES:
        catalog.create_type(store, rtype)
        summary.types += 1

    def account(email: str, name: str, role: str, location: str | None, tz: str) -> int:
        password = secrets.token_urlsafe(12)
        user = accounts.create_user(
            store,
            {
                "email": email,
                "name": name,
                "role": role,
                "password": password,
                "timezone": tz,
                "primary_location": location,
            },
        )
        summary.passwords[email] = password
        summary.roles[email] = role
        summary.users += 1
        return user.id

    account(ADMIN[0], ADMIN[1], "admin", ADMIN[2], ADMIN[3])
    members = [*STAFF, *_extra_staff(count)]
    staff = [(account(e, n, "staff", loc, tz), loc) for e, n, loc, tz in members]
    customers = [(_email(n), n) for n in CUSTOMERS]
    for address, name in customers[:8]:  # some customers have accounts, others only book
        account(address, name, "customer", None, "Europe/Paris")

    today = date.today()
    zones = {str(loc["code"]): str(loc["timezone"]) for loc in LOCATIONS}
    importer = Importer(store, effects)
    rows = _rows(rng, count, [(e, loc) for e, _, loc, _ in members], customers, today, zones)
    cancelled: list[str] = []

    def kept(row: Row) -> Row:
        if rng.random() < 0.07:  # cancelled later, as a customer would
            cancelled.append(row.uid)
        return row

    report = import_rows(importer, map(kept, rows), progress)
    summary.refused = len(report.refused)
    with store.transaction():
        for uid in cancelled:
            booking = store.bookings.get_by_uid(uid)
            if booking is not None:
                bookings.set_status(store, booking.id, Status.CANCELLED, effects=effects)
    summary.bookings = report.imported + _series(store, staff, customers, today, zones, effects)
    return summary


def _series(
    store: Store,
    staff: list[tuple[int, str]],
    customers: list[tuple[str, str]],
    today: date,
    zones: dict[str, str],
    effects: Effects | None,
) -> int:
    """Recurring and all-day bookings: a weekly group class with one week off, a fortnightly
    video coaching without end, and an all-day training day."""
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=2)
    anhq_staff = staff[0][0]
    group = tuple(Attendee(e, n) for e, n in customers[:6])
    yoga = bookings.create_booking(
        store,
        BookingDraft(
            type_key="yoga-class",
            location_code="ANHQ",
            staff=anhq_staff,
            start=_at(monday, 7, 0, zones["ANHQ"]),
            attendees=group,
            title="Morning yoga",
            rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=16",
            exdates=(_at(monday + timedelta(weeks=4), 7, 0, zones["ANHQ"]),),
        ),
        effects=effects,
    ).after
    coaching = bookings.create_booking(
        store,
        BookingDraft(
            type_key="video-coaching",
            location_code="NYC1",
            staff=staff[2][0],
            start=_at(monday + timedelta(days=4), 8, 0, zones["NYC1"]),
            attendees=(Attendee(customers[11][0], customers[11][1]),),
            rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
        ),
        effects=effects,
    ).after
    training = bookings.create_booking(
        store,
        BookingDraft(
            type_key="consultation",
            location_code="LYON",
            staff=staff[1][0],
            all_day=True,
            start=monday + timedelta(weeks=5, days=2),
            title="Team training day",
            status=Status.PENDING,
        ),
        effects=effects,
    ).after
    return len([yoga, coaching, training])


def write_credentials(
    path: Path, passwords: dict[str, str], roles: dict[str, str] | None = None
) -> None:
    """The demo accounts, one a line: ``email password`` (sign in to the web app), under a
    comment line naming their role."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# demo personal accounts: email password\n")
        role = None
        for email, password in passwords.items():
            if (roles or {}).get(email) != role:
                role = (roles or {}).get(email)
                handle.write(f"# {role}\n")
            handle.write(f"{email} {password}\n")
