"""Slot search benchmark: free slots of one type at one location over 90 days for 50 staff
members with working hours and bookings, as ``GET /api/availability`` computes them
(in-process, on a real SQLite store).

Usage: python bench/slots.py [--staff 50] [--days 90] [--bookings-per-day 4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedserver.domain import accounts, availability, bookings, catalog  # noqa: E402
from feedserver.domain.commands import BookingDraft  # noqa: E402
from feedserver.errors import StaffDoubleBooked  # noqa: E402
from feedserver.store import Store  # noqa: E402


def build(store: Store, staff: int, days: int, per_day: int, start: datetime) -> None:
    catalog.create_location(
        store, {"code": "BENCH", "name": "Bench", "address": "", "timezone": "Europe/Paris"}
    )
    catalog.create_type(
        store,
        {"key": "cut", "name": "Cut", "duration_minutes": 45, "buffer_after_minutes": 15},
    )
    hours = availability.parse_working_hours(
        {
            "timezone": "Europe/Paris",
            "weekly": {d: [["09:00", "12:30"], ["13:30", "18:00"]] for d in availability.DAYS[:6]},
        }
    )
    rng = random.Random(7)
    for index in range(staff):
        user = accounts.create_user(
            store,
            {
                "email": f"staff{index}@bench.test",
                "name": f"Staff {index}",
                "role": "staff",
                "password": "bench-password",
                "primary_location": "BENCH",
                "timezone": "Europe/Paris",
            },
        )
        with store.transaction():
            store.working_hours.put(user.id, hours)
        for day in range(days):
            for _ in range(per_day):
                at = start + timedelta(
                    days=day, hours=8 + rng.randrange(9), minutes=15 * rng.randrange(4)
                )
                draft = BookingDraft(type_key="cut", location_code="BENCH", staff=user.id, start=at)
                with contextlib.suppress(StaffDoubleBooked):  # a random clash: skipped
                    bookings.create_booking(store, draft)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--bookings-per-day", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    with tempfile.TemporaryDirectory() as work:
        store = Store(Path(work) / "bench.db")
        began = time.perf_counter()
        build(store, args.staff, args.days, args.bookings_per_day, start)
        print(f"built {args.staff} staff x {args.days} days in {time.perf_counter() - began:.1f} s")
        params = {
            "type": "cut",
            "location": "BENCH",
            "start": start.isoformat(),
            "end": (start + timedelta(days=args.days)).isoformat(),
        }
        timings, found = [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            found = availability.slots(store, params, start - timedelta(days=1), 15, 60)
            timings.append((time.perf_counter() - began) * 1000)
        print(
            f"slot search, {args.staff} staff x {args.days} days: {len(found)} slots, "
            f"median {statistics.median(timings):.0f} ms (min {min(timings):.0f}, "
            f"max {max(timings):.0f}) over {args.repeats} runs"
        )
        store.close()


if __name__ == "__main__":
    main()
