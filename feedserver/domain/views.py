"""The JSON form of the model's values, as the API shows them and events carry them."""

from __future__ import annotations

from typing import Any

from feedserver.domain.meetings import MeetingService
from feedserver.model import (
    AccountLogEntry,
    Booking,
    CalendarAccount,
    Location,
    Meeting,
    ReservationType,
    User,
    Webhook,
    WebhookDelivery,
)
from feedserver.times import iso_utc


def location_json(location: Location) -> dict[str, Any]:
    return {
        "code": location.code,
        "name": location.name,
        "address": location.address,
        "timezone": location.timezone,
        "external_id": location.external_id,
        "created_at": iso_utc(location.created_at),
        "updated_at": iso_utc(location.updated_at),
    }


def type_json(rtype: ReservationType) -> dict[str, Any]:
    return {
        "key": rtype.key,
        "name": rtype.name,
        "duration_minutes": rtype.duration_minutes,
        "buffer_before_minutes": rtype.buffer_before_minutes,
        "buffer_after_minutes": rtype.buffer_after_minutes,
        "online": rtype.online,
        "color": rtype.color,
        "attendees_visible": rtype.attendees_visible,
        "title_visible": rtype.title_visible,
        "on_site": rtype.on_site,
        "reminders": None
        if rtype.reminders is None
        else [{"before_minutes": m, "to": list(to)} for m, to in rtype.reminders],
        "external_id": rtype.external_id,
        "created_at": iso_utc(rtype.created_at),
        "updated_at": iso_utc(rtype.updated_at),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "timezone": user.timezone,
        "primary_location": user.primary_location,
        "language": user.language,
        "external_id": user.external_id,
        "active": user.active,
        "deactivated_at": iso_utc(user.deactivated_at) if user.deactivated_at else None,
        "created_at": iso_utc(user.created_at),
        "updated_at": iso_utc(user.updated_at),
    }


def meeting_json(meeting: Meeting, meetings: MeetingService) -> dict[str, Any]:
    return {
        "provider": meeting.provider,
        "provider_link": meeting.room_url,
        "attendee_links": [
            {
                "id": link.id,
                "attendee": link.attendee_email,
                "url": None if link.revoked_at else meetings.urls.attendee(link.id, link.nonce),
                "clicks": link.clicks,
                "last_click_at": iso_utc(link.last_click_at) if link.last_click_at else None,
                "revoked": link.revoked_at is not None,
            }
            for link in meeting.links
        ],
    }


def booking_json(
    booking: Booking, meeting: Meeting | None = None, meetings: MeetingService | None = None
) -> dict[str, Any]:
    if booking.all_day:
        start, end = booking.start_date.isoformat(), booking.end_date.isoformat()
    else:
        start, end = booking.local_start.isoformat(), booking.local_end.isoformat()
    return {
        "id": booking.id,
        "uid": booking.uid,
        "type": booking.type_key,
        "location": booking.location_code,
        "staff": booking.staff_id,
        "attendees": [
            {
                "email": a.email,
                "name": a.name,
                "language": a.language,
                "timezone": a.timezone,
                "partstat": a.partstat.lower(),
            }
            for a in booking.attendees
        ],
        "start": start,
        "end": end,
        "all_day": booking.all_day,
        "timezone": booking.timezone,
        "rrule": booking.rrule,
        "exdates": [
            x.astimezone(booking.zone).date().isoformat()
            if booking.all_day
            else x.astimezone(booking.zone).isoformat()
            for x in booking.exdates
        ],
        "status": booking.status.value,
        "title": booking.title,
        "notes": booking.notes,
        "sequence": booking.sequence,
        "source": booking.source,
        "external_id": booking.external_id,
        "created_at": iso_utc(booking.created_at),
        "updated_at": iso_utc(booking.updated_at),
        "online_meeting": meeting_json(meeting, meetings) if meeting and meetings else None,
    }


def webhook_json(webhook: Webhook, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the API shows it; its secret only when just made (``secret``)."""
    shown: dict[str, Any] = {
        "id": webhook.id,
        "url": webhook.url,
        "description": webhook.description,
        "events": list(webhook.event_types),
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason or None,
        "rotating_until": iso_utc(webhook.previous_until)
        if webhook.previous_secret and webhook.previous_until
        else None,
        "created_at": iso_utc(webhook.created_at),
        "updated_at": iso_utc(webhook.updated_at),
    }
    if secret is not None:
        shown["secret"] = secret
    return shown


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook": delivery.webhook_id,
        "event": f"evt_{delivery.event_id}",
        "subject": delivery.subject,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso_utc(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error or None,
        "created_at": iso_utc(delivery.created_at),
        "delivered_at": iso_utc(delivery.delivered_at) if delivery.delivered_at else None,
        "history": [
            {
                "at": iso_utc(a.at),
                "status": a.status,
                "error": a.error or None,
                "duration_ms": a.duration_ms,
                "response": a.response,
            }
            for a in delivery.history
        ],
    }


def calendar_account_json(
    account: CalendarAccount, log: list[AccountLogEntry] | None = None
) -> dict[str, Any]:
    """A connected calendar account (never its password or tokens)."""
    f = account.filters

    def when(moment: Any) -> str | None:
        return iso_utc(moment) if moment is not None else None

    found: dict[str, Any] = {
        "id": account.id,
        "user": account.user_id,
        "provider": account.provider,
        "name": account.name,
        "url": account.server_url,
        "username": account.username,
        "calendar": {"url": account.calendar_url, "name": account.calendar_name},
        "busy": account.busy,
        "types": list(f.types),
        "locations": list(f.locations),
        "include_pending": f.include_pending,
        "include_buffers": f.include_buffers,
        "show_attendees": f.show_attendees,
        "kind": "busy" if f.busy_only else "events",
        "status": account.status,
        "last_error": account.last_error or None,
        "failing_since": when(account.failing_since),
        "retry_at": when(account.retry_at),
        "last_written_at": when(account.last_written_at),
        "events_written": account.written,
        "bookings_waiting": account.waiting,
        "created_at": iso_utc(account.created_at),
    }
    if log is not None:
        found["log"] = [
            {
                "at": iso_utc(entry.at),
                "booking": entry.booking_id,
                "kind": entry.kind,
                "detail": entry.detail,
            }
            for entry in log
        ]
    return found
