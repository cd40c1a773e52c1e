"""What a booking offers to templates, whatever the channel (feed, CalDAV, email).

``Catalog`` is everything besides the booking that a rendering needs (locations, types, staff
members, feed templates), loaded once per rendering by ``feedserver.domain.catalog``.
``booking_values`` builds the values every channel shares; the feed renderer and the email
planner add their own (the viewer's meeting link, dates in words...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feedserver.calendar.templates import TemplateSet
from feedserver.model import Attendee, Booking, Location, ReservationType, User


@dataclass(frozen=True)
class Catalog:
    locations: dict[str, Location]
    types: dict[str, ReservationType]
    staff: dict[int, User]
    templates: TemplateSet
    version: int = 0  # the store's catalog version: part of every fragment's cache key


def booking_values(
    booking: Booking, catalog: Catalog, people: Sequence[Attendee], for_attendee: bool
) -> dict[str, str]:
    """The booking's service, place, staff member and status, and the attendees in
    ``people`` (those this reader may see). A booking's own title (for a bridged booking, the
    calendar event's SUMMARY) is for staff: an attendee reads it only when the type has
    ``title_visible``."""
    rtype = catalog.types.get(booking.type_key)
    title_shown = not for_attendee or bool(rtype and rtype.title_visible)
    location = catalog.locations.get(booking.location_code)
    staff = catalog.staff.get(booking.staff_id)
    return {
        "service_name": rtype.name if rtype else booking.type_key,
        "booking_title": booking.title if title_shown else "",
        "location_name": location.name if location else booking.location_code,
        "location_code": booking.location_code,
        "location_address": location.address if location else "",
        "staff_name": staff.name if staff else "",
        "attendees": ", ".join(a.name or a.email for a in people),
        "booking_status": booking.status.value,
    }
