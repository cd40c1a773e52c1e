"""My bookings: what a person is booked into (as an attendee, or as the staff member), the
coming ones first, then the past ones; the time in the person's zone, the place, who, the
person's own online-meeting link, and an "Add to calendar" file per booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from feedserver.calendar.render import Viewer, render_item
from feedserver.domain import bookings
from feedserver.domain.catalog import load_catalog
from feedserver.model import Booking, FeedFilters, Location, User
from feedserver.store import Store
from feedserver.times import utcnow, zone
from feedserver.web.pages.base import Visitor, path_id, render, signed_in
from feedserver.web.state import MEETINGS, RUNNER

routes = web.RouteTableDef()

PAST_SHOWN = 20


@dataclass(frozen=True)
class Row:
    booking: Booking
    start: datetime  # the next occurrence (or the booking), in the reader's zone
    end: datetime
    type_name: str
    location: Location | None
    staff_name: str
    meeting_link: str


@routes.get("/bookings")
@signed_in
async def my_bookings(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    meetings = request.app[MEETINGS]
    where = zone(user.timezone)
    now = utcnow()

    def load(store: Store) -> dict[str, Any]:
        coming = bookings.bookings_of(store, user, now, upcoming=True)
        past = bookings.bookings_of(store, user, now, upcoming=False, limit=PAST_SHOWN)
        found = coming + past
        catalog = load_catalog(store, (b.staff_id for b in found))
        rooms = store.meetings.for_bookings([b.id for b in found])

        def row(booking: Booking, upcoming: bool) -> Row:
            start, end = booking.start, booking.end
            if upcoming:
                start, end = bookings.next_occurrence(booking, now) or (start, end)
            rtype = catalog.types.get(booking.type_key)
            staff = catalog.staff.get(booking.staff_id)
            return Row(
                booking,
                start.astimezone(where),
                end.astimezone(where),
                rtype.name if rtype else booking.type_key,
                catalog.locations.get(booking.location_code),
                staff.name if staff else "",
                meetings.link_for_viewer(rooms.get(booking.id), booking, user),
            )

        return {
            "coming": [row(b, True) for b in coming],
            "past": [row(b, False) for b in past],
        }

    context = await request.app[RUNNER].run(load)
    return render(request, who, "my_bookings.html", context)


@routes.get(r"/bookings/{id:\d+}.ics")
@signed_in
async def booking_file(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    """One booking as an iCalendar file, to add to any calendar (the same event as in the
    person's feeds, with their own meeting link)."""
    booking_id = path_id(request, "booking")
    meetings = request.app[MEETINGS]

    def load(store: Store) -> bytes:
        booking = bookings.own_booking(store, user, booking_id)
        catalog = load_catalog(store, [booking.staff_id])
        link = meetings.link_for_viewer(store.meetings.for_booking(booking.id), booking, user)
        viewer = Viewer(user, FeedFilters(show_attendees=True))
        return render_item(booking, catalog, viewer, link)

    body = await request.app[RUNNER].run(load)
    return web.Response(
        body=body,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
