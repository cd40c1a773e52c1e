"""The OpenAPI 3.1 document of the JSON API (``GET /api/openapi.json``) and its reference page
(``GET /api/docs``).

Request bodies are the schemas of ``feedserver.domain.schemas``, the ones ``Body`` enforces, so
the document cannot promise a body the server refuses for its shape. ``OPERATIONS`` describes
each route once (what it does, who may call it, what it answers); the document is built from
it and from the application's router, and a test checks that every ``/api`` route is in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from feedserver import __version__
from feedserver.domain import events, schemas
from feedserver.domain.schemas import JSON, MAX_ID, Schema
from feedserver.model import EVENT_TYPES
from feedserver.web.state import CONFIG

ADMIN = "admin"  # the admin token, or an admin's HTTP Basic sign-in
ACCOUNT = "account"  # a personal account's HTTP Basic sign-in
ANYONE = "anyone"  # no sign-in (the token in the path is the credential)
WEBHOOK = "webhook"  # the webhook secret, or an admin


@dataclass(frozen=True)
class Param:
    name: str
    schema: JSON
    description: str = ""


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: str = ADMIN
    description: str = ""
    body: Schema | None = None
    files: tuple[str, ...] = ()  # media types of a raw (non-JSON) body
    query: tuple[Param, ...] = ()
    ok: int = 200
    returns: str = "object"  # a component name, "list", "calendar" or "none"
    errors: tuple[int, ...] = ()


def _q(name: str, description: str, max_len: int = 200) -> Param:
    return Param(name, {"type": "string", "maxLength": max_len}, description)


PAGE = (
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size (100)"),
    Param("after", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "the previous 'next'"),
)
RANGE = (_q("start", "ISO 8601 date-time with offset", 64), _q("end", "the end, exclusive", 64))

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation("Liveness and store check", auth=ANYONE),
    ("GET", "/readyz"): Operation(
        "Readiness for load balancers: store, schema, not draining", auth=ANYONE, errors=(503,)
    ),
    ("GET", "/metrics"): Operation("Prometheus metrics (text format)", returns="text"),
    ("GET", "/api/openapi.json"): Operation("This document", auth=ANYONE),
    ("GET", "/api/docs"): Operation("This document as an HTML page", auth=ANYONE, returns="html"),
    ("GET", "/feeds/{token}.ics"): Operation(
        "A signed subscription feed (ETag, 304, gzip)",
        auth=ANYONE,
        returns="calendar",
        errors=(404, 410),
    ),
    ("GET", "/meet/{token}"): Operation(
        "An attendee's online meeting link (redirect)", auth=ANYONE, ok=302, errors=(404,)
    ),
    # -- people --
    ("POST", "/api/users"): Operation(
        "Create a personal account", body=schemas.USER, ok=201, returns="User", errors=(409,)
    ),
    ("GET", "/api/users"): Operation(
        "List accounts", query=(_q("role", "admin, staff or customer", 16),), returns="list"
    ),
    ("GET", "/api/users/{id}"): Operation("Read an account", returns="User", errors=(404,)),
    ("PATCH", "/api/users/{id}"): Operation(
        "Change an account", body=schemas.USER_PATCH, returns="User", errors=(404, 409)
    ),
    ("POST", "/api/users/{id}/deactivate"): Operation(
        "Deactivate an account: its sign-ins, sessions, feed links and app passwords stop at "
        "once; its bookings stay",
        returns="User",
        errors=(404, 409),
    ),
    ("POST", "/api/users/{id}/reactivate"): Operation(
        "Reactivate an account: its feed links and app passwords work again",
        returns="User",
        errors=(404,),
    ),
    ("GET", "/api/me"): Operation("Your account", auth=ACCOUNT, returns="User"),
    ("POST", "/api/me/app-passwords"): Operation(
        "Create a device password for CalDAV (shown once)",
        auth=ACCOUNT,
        body=schemas.APP_PASSWORD,
        ok=201,
    ),
    ("GET", "/api/me/app-passwords"): Operation(
        "List your device passwords", auth=ACCOUNT, returns="list"
    ),
    ("DELETE", "/api/me/app-passwords/{id}"): Operation(
        "Revoke a device password", auth=ACCOUNT, ok=204, returns="none", errors=(404,)
    ),
    # -- bookings --
    ("POST", "/api/bookings"): Operation(
        "Create a booking", body=schemas.BOOKING, ok=201, returns="Booking", errors=(409,)
    ),
    ("POST", "/api/bookings/import"): Operation(
        "Import bookings from a CSV or iCalendar file",
        files=("text/csv", "text/calendar"),
        query=(
            _q("dry_run", "1: check without writing", 5),
            _q("type", "default reservation type", 64),
            _q("location", "default location code", 12),
            _q("staff", "default staff member (id or email)", 254),
        ),
    ),
    ("GET", "/api/bookings"): Operation(
        "List bookings",
        query=(
            _q("type", "reservation type keys, comma-separated"),
            _q("location", "location codes, comma-separated"),
            _q("staff", "staff ids or emails, comma-separated", 2000),
            _q("status", "statuses, comma-separated", 64),
            *RANGE,
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "(500)"),
            Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
        ),
        returns="list",
    ),
    ("GET", "/api/bookings/{id}"): Operation("Read a booking", returns="Booking", errors=(404,)),
    ("PUT", "/api/bookings/external/{external_id}"): Operation(
        "Create or replace the booking you know by your own id",
        description=(
            "201 when it was made, 200 when it was there (replaced: a field left out takes "
            "its default). The same body again changes nothing: no event, no email."
        ),
        body=schemas.BOOKING_REPLACE,
        returns="Booking",
        errors=(201, 409),
    ),
    ("GET", "/api/bookings/external/{external_id}"): Operation(
        "Read the booking you know by your own id", returns="Booking", errors=(404,)
    ),
    ("PATCH", "/api/bookings/{id}"): Operation(
        "Change a booking", body=schemas.BOOKING_PATCH, returns="Booking", errors=(404, 409)
    ),
    ("POST", "/api/bookings/{id}/confirm"): Operation(
        "Confirm a pending booking", returns="Booking", errors=(404, 409)
    ),
    ("POST", "/api/bookings/{id}/cancel"): Operation(
        "Cancel a booking", returns="Booking", errors=(404, 409)
    ),
    ("POST", "/api/bookings/{id}/reject"): Operation(
        "Reject a pending booking", returns="Booking", errors=(404, 409)
    ),
    # -- feeds --
    ("POST", "/api/feeds"): Operation(
        "Create a feed link for an account", body=schemas.FEED_LINK, ok=201, returns="FeedLink"
    ),
    ("GET", "/api/feeds"): Operation(
        "List feed links", query=(_q("user", "an account's id or email", 254),), returns="list"
    ),
    ("GET", "/api/feeds/{id}"): Operation("Read a feed link", returns="FeedLink", errors=(404,)),
    ("PATCH", "/api/feeds/{id}"): Operation(
        "Change a feed link's name or filters (its URL stays)",
        body=schemas.FEED_LINK_PATCH,
        returns="FeedLink",
        errors=(404, 409),
    ),
    ("POST", "/api/feeds/{id}/rotate"): Operation(
        "New URL for a feed link (the old one stops working)",
        returns="FeedLink",
        errors=(404, 409),
    ),
    ("DELETE", "/api/feeds/{id}"): Operation(
        "Revoke a feed link at once", ok=204, returns="none", errors=(404,)
    ),
    ("POST", "/api/me/feeds"): Operation(
        "Create one of your feed links",
        auth=ACCOUNT,
        body=schemas.OWN_FEED_LINK,
        ok=201,
        returns="FeedLink",
    ),
    ("GET", "/api/me/feeds"): Operation("List your feed links", auth=ACCOUNT, returns="list"),
    ("GET", "/api/me/feeds/{id}"): Operation(
        "Read one of your feed links", auth=ACCOUNT, returns="FeedLink", errors=(404,)
    ),
    ("PATCH", "/api/me/feeds/{id}"): Operation(
        "Change one of your feed links' name or filters (its URL stays)",
        auth=ACCOUNT,
        body=schemas.FEED_LINK_PATCH,
        returns="FeedLink",
        errors=(404, 409),
    ),
    ("POST", "/api/me/feeds/{id}/rotate"): Operation(
        "New URL for one of your feed links", auth=ACCOUNT, returns="FeedLink", errors=(404, 409)
    ),
    ("DELETE", "/api/me/feeds/{id}"): Operation(
        "Revoke one of your feed links", auth=ACCOUNT, ok=204, returns="none", errors=(404,)
    ),
    ("GET", "/api/feed-templates"): Operation("Feed event wording", returns="list"),
    ("PUT", "/api/feed-templates/{type}"): Operation(
        "Set the wording of a type's feed events ('default' for all)",
        body=schemas.FEED_TEMPLATE,
        errors=(404,),
    ),
    ("DELETE", "/api/feed-templates/{type}"): Operation(
        "Reset a feed template", ok=204, returns="none", errors=(404,)
    ),
    # -- notifications --
    ("GET", "/api/notifications"): Operation(
        "The outbox: emails sent, queued and failed",
        query=(
            _q("status", "queued, sent or failed", 16),
            _q("booking", "a booking id", 20),
            *PAGE,
        ),
        returns="list",
    ),
    ("POST", "/api/notifications/retry"): Operation("Send failed emails again"),
    ("POST", "/api/notifications/{id}/retry"): Operation(
        "Send one failed email again", errors=(404, 409)
    ),
    ("GET", "/api/me/notification-settings"): Operation("Your notification switches", auth=ACCOUNT),
    ("PATCH", "/api/me/notification-settings"): Operation(
        "Change your notification switches", auth=ACCOUNT, body=schemas.NOTIFICATION_SETTINGS
    ),
    ("GET", "/api/users/{id}/notification-settings"): Operation(
        "An account's notification switches", errors=(404,)
    ),
    ("PATCH", "/api/users/{id}/notification-settings"): Operation(
        "Change an account's notification switches",
        body=schemas.NOTIFICATION_SETTINGS,
        errors=(404,),
    ),
    ("GET", "/api/templates"): Operation("Email templates", returns="list"),
    ("PUT", "/api/templates/{audience}/{kind}/{language}"): Operation(
        "Set an email template", body=schemas.EMAIL_TEMPLATE, errors=(404,)
    ),
    ("DELETE", "/api/templates/{audience}/{kind}/{language}"): Operation(
        "Reset an email template to the default", ok=204, returns="none", errors=(404,)
    ),
    ("GET", "/api/reports/online-meetings"): Operation(
        "Online meetings in a period", query=RANGE, returns="list"
    ),
    ("DELETE", "/api/meeting-links/{id}"): Operation(
        "Remove an attendee's meeting link", ok=204, returns="none", errors=(404,)
    ),
    # -- availability --
    ("GET", "/api/availability"): Operation(
        "Free slots for a type at a location",
        query=(
            _q("type", "reservation type key", 64),
            _q("location", "location code", 12),
            _q("staff", "one staff member (id or email)", 254),
            *RANGE,
        ),
        returns="list",
    ),
    ("GET", "/api/me/availability"): Operation(
        "Your free slots",
        auth=ACCOUNT,
        query=(_q("type", "reservation type key", 64), _q("location", "code", 12), *RANGE),
        returns="list",
    ),
    # -- bridge --
    ("POST", "/api/inbound"): Operation(
        "Hand the bridge an event (text/calendar) or an invitation email (message/rfc822)",
        description=(
            "The item is kept raw in the inbox first. A small one is applied before the "
            "answer (200 with its outcome); one over bridge.inline_max_events or "
            "bridge.inline_max_bytes, one that would wait over 5 s behind items being "
            "applied, or any sent with 'Prefer: respond-async', is answered 202 and applied "
            "in the background: follow its Location (/api/inbox/ID). 429: "
            "too many items from one sender or client address (bridge.*_items_per_hour)."
        ),
        auth=WEBHOOK,
        files=("text/calendar", "application/ics", "message/rfc822"),
        returns="InboxItem",
        ok=200,
        errors=(202, 415),
    ),
    # -- webhooks and the change feed --
    ("POST", "/api/webhooks"): Operation(
        "Add a webhook endpoint (its secret is in this answer only)",
        body=schemas.WEBHOOK,
        ok=201,
        returns="Webhook",
    ),
    ("GET", "/api/webhooks"): Operation("List webhook endpoints", returns="list"),
    ("GET", "/api/webhooks/{id}"): Operation(
        "Read a webhook endpoint", returns="Webhook", errors=(404,)
    ),
    ("PATCH", "/api/webhooks/{id}"): Operation(
        "Change a webhook endpoint (enabled: false pauses it)",
        body=schemas.WEBHOOK_PATCH,
        returns="Webhook",
        errors=(404,),
    ),
    ("DELETE", "/api/webhooks/{id}"): Operation(
        "Delete a webhook endpoint and its deliveries", ok=204, returns="none", errors=(404,)
    ),
    ("POST", "/api/webhooks/{id}/rotate-secret"): Operation(
        "A new secret (in this answer only); the old one also signs for 24 hours",
        returns="Webhook",
        errors=(404,),
    ),
    ("POST", "/api/webhooks/{id}/test"): Operation(
        "Send a webhook.test event now; answers how the delivery went",
        returns="Delivery",
        errors=(404,),
    ),
    ("GET", "/api/webhooks/{id}/deliveries"): Operation(
        "Deliveries, newest first, with every attempt",
        query=(
            _q("status", "pending, sending, delivered or failed", 16),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "(100)"),
            Param("before", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "'next'"),
        ),
        returns="list",
        errors=(404,),
    ),
    ("GET", "/api/webhooks/{id}/deliveries/{did}"): Operation(
        "One delivery, with every attempt", returns="Delivery", errors=(404,)
    ),
    ("POST", "/api/webhooks/{id}/deliveries/{did}/redeliver"): Operation(
        "Queue a delivery again, now", ok=202, returns="Delivery", errors=(404,)
    ),
    ("GET", "/api/changes"): Operation(
        "The change feed: the webhook events, oldest first, after a cursor",
        description=(
            "Each change is the body a webhook delivery carries. Start without 'after', then "
            "pass the answer's 'next' each time; 'more' says whether to ask again at once. "
            "410: the cursor is older than webhooks.event_retention_days (read the state "
            "again, then follow from the newest cursor)."
        ),
        query=(
            _q("after", "the previous answer's 'next' (evt_N); none: the oldest kept", 24),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "(100)"),
            _q("types", "event types, comma-separated", 500),
        ),
        errors=(410,),
    ),
    ("GET", "/api/inbox"): Operation(
        "Inbound items, newest first",
        query=(_q("status", "received, processed or failed", 16), *PAGE),
        returns="list",
    ),
    ("GET", "/api/inbox/{id}"): Operation(
        "One inbound item, with its raw text", returns="InboxItem", errors=(404,)
    ),
    ("POST", "/api/inbox/{id}/retry"): Operation(
        "Process a failed item again", returns="InboxItem", errors=(404, 409)
    ),
}

for _path, _thing, _returns, _create, _patch in (
    ("/api/locations/{code}", "location", "Location", schemas.LOCATION, schemas.LOCATION_PATCH),
    ("/api/types/{key}", "reservation type", "Type", schemas.TYPE, schemas.TYPE_PATCH),
):
    _list = _path.rsplit("/", 1)[0]
    OPERATIONS |= {
        ("POST", _list): Operation(
            f"Create a {_thing}", body=_create, ok=201, returns=_returns, errors=(409,)
        ),
        ("GET", _list): Operation(f"List {_thing}s", returns="list"),
        ("GET", _path): Operation(f"Read a {_thing}", returns=_returns, errors=(404,)),
        ("PATCH", _path): Operation(
            f"Change a {_thing}", body=_patch, returns=_returns, errors=(404, 409)
        ),
        ("DELETE", _path): Operation(
            f"Delete an unused {_thing}", ok=204, returns="none", errors=(404, 409)
        ),
    }

for _who, _prefix in ((ADMIN, "/api/users/{id}"), (ACCOUNT, "/api/me")):
    OPERATIONS |= {
        ("GET", f"{_prefix}/working-hours"): Operation("Working hours", auth=_who, errors=(404,)),
        ("PUT", f"{_prefix}/working-hours"): Operation(
            "Set working hours", auth=_who, body=schemas.WORKING_HOURS, errors=(404,)
        ),
        ("DELETE", f"{_prefix}/working-hours"): Operation(
            "Remove working hours (always available)",
            auth=_who,
            ok=204,
            returns="none",
            errors=(404,),
        ),
        ("POST", f"{_prefix}/busy-calendars"): Operation(
            "Add an external calendar read for busy times",
            auth=_who,
            body=schemas.BUSY_CALENDAR,
            ok=201,
            errors=(404,),
        ),
        ("GET", f"{_prefix}/busy-calendars"): Operation(
            "External calendars read for busy times", auth=_who, returns="list", errors=(404,)
        ),
        ("POST", f"{_prefix}/busy-calendars/{{bid}}/refresh"): Operation(
            "Read an external calendar now", auth=_who, errors=(404,)
        ),
        ("DELETE", f"{_prefix}/busy-calendars/{{bid}}"): Operation(
            "Remove an external calendar", auth=_who, ok=204, returns="none", errors=(404,)
        ),
    }

for _who, _prefix in ((ADMIN, "/api/calendar-accounts"), (ACCOUNT, "/api/me/calendar-accounts")):
    _one = f"{_prefix}/{{id}}"
    OPERATIONS |= {
        ("POST", _prefix): Operation(
            "Connect a CalDAV calendar account: bookings are written into it within seconds",
            auth=_who,
            description=(
                "The account's calendars are found from the address given (a server, a "
                "principal or a calendar; /.well-known/caldav for a bare host); 'calendar' "
                "names the one written into, or 'new' makes one named after the organisation. "
                "The password is checked now and kept sealed. 422 says which field is wrong "
                "(a refused password names 'password')."
            ),
            body=schemas.CALENDAR_ACCOUNT,
            ok=201,
        ),
        ("POST", f"{_prefix}/google"): Operation(
            "Begin connecting Google: the consent page to send the person to (PKCE)",
            auth=_who,
            body=schemas.CALENDAR_ACCOUNT,
            errors=(409,),
        ),
        ("GET", _prefix): Operation("Connected calendar accounts", auth=_who, returns="list"),
        ("GET", _one): Operation(
            "A calendar account: how writing into it goes, and its log",
            auth=_who,
            errors=(404,),
        ),
        ("PATCH", _one): Operation(
            "Change a calendar account (a new password, other bookings: compared again)",
            auth=_who,
            body=schemas.CALENDAR_ACCOUNT_PATCH,
            errors=(404,),
        ),
        ("DELETE", _one): Operation(
            "Disconnect (remove_events=false leaves the events written there)",
            auth=_who,
            query=(_q("remove_events", "true (the default) or false", 5),),
            errors=(404,),
        ),
        ("POST", f"{_one}/resync"): Operation(
            "Compare the calendar with the bookings and write what differs",
            auth=_who,
            ok=202,
            errors=(404,),
        ),
        ("GET", f"{_one}/calendars"): Operation(
            "The calendars of the account", auth=_who, errors=(404, 422)
        ),
    }
OPERATIONS[("GET", "/oauth/google/callback")] = Operation(
    "Where Google sends the person back (code and state); redirects to /calendars",
    auth=ANYONE,
    query=(_q("code", "the authorization code", 2000), _q("state", "the state", 200)),
    ok=302,
    returns="none",
    errors=(404,),
)

_INTEGER_PATH = {"id", "bid", "did"}
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: kept in the inbox, processed in the background",
    204: "No content",
    302: "Redirect",
    304: "Not modified (If-None-Match or If-Modified-Since)",
    400: "Malformed request: unreadable HTTP, or a body that is not JSON, too deep or empty",
    401: "Sign-in required or wrong",
    403: "Not allowed for this account",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Revoked, or gone (a change feed cursor past the retention)",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input; 'field' names it",
    429: "Too many failed sign-ins (or inbound items); wait Retry-After seconds",
}
_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code, such as 'invalid'"},
        "message": {"type": "string", "description": "what is wrong, for a person"},
        "field": {"type": "string", "description": "the field at fault"},
    },
}
_RESOURCES = {
    "Location": "A location, named by its short code.",
    "Type": "A reservation type.",
    "User": "A personal account (without its password).",
    "Booking": "A booking, with its attendees and online meeting links.",
    "FeedLink": "A feed link with its https and webcal URLs.",
    "InboxItem": "Something the bridge received, and what became of it.",
    "Webhook": "A webhook endpoint: its URL, the events it hears, whether it is enabled.",
    "Delivery": "One event for one endpoint: its status and every attempt.",
}


_BOOKING = {"$ref": "#/components/schemas/Booking"}
_TEXT = {"type": "string"}
_ID = {"type": "integer"}


def _object(properties: JSON, required: tuple[str, ...] = ()) -> JSON:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required or properties),
    }


_EVENT_DATA: dict[str, JSON] = {
    "booking": _object({"booking": _BOOKING}),
    "booking.updated": _object(
        {
            "booking": _BOOKING,
            "changes": {
                "type": "array",
                "items": {"enum": list(events.CHANGE_KINDS)},
                "description": "what changed",
            },
            "previous": {
                "type": "object",
                "description": "the changed fields of the booking as they were",
            },
        }
    ),
    "attendee.replied": _object(
        {
            "booking": _BOOKING,
            "attendee": _object(
                {
                    "email": _TEXT,
                    "name": _TEXT,
                    "partstat": {"enum": ["accepted", "declined", "tentative"]},
                }
            ),
        }
    ),
    "inbox.rejected": _object(
        {
            "inbox_item": _object(
                {
                    "id": _ID,
                    "source": _TEXT,
                    "status": {"enum": ["rejected", "failed"]},
                    "failure": {"type": ["string", "null"]},
                    "reason": _TEXT,
                    "received_at": _TEXT,
                }
            )
        }
    ),
    "notification.failed": _object(
        {
            "notification": _object(
                {
                    "id": _ID,
                    "kind": _TEXT,
                    "booking": {"type": ["integer", "null"]},
                    "recipient": _TEXT,
                    "attempts": _ID,
                    "error": _TEXT,
                }
            )
        }
    ),
    "feed_link.revoked": _object(
        {"feed_link": _object({"id": _ID, "user": _ID, "name": _TEXT, "revoked_at": _TEXT})}
    ),
    "busy_calendar.failed": _object(
        {"busy_calendar": _object({"id": _ID, "user": _ID, "name": _TEXT, "error": _TEXT})}
    ),
}


def event_schema(event_type: str) -> JSON:
    """The body of a webhook delivery (and of a change feed entry) of ``event_type``."""
    data = _EVENT_DATA.get(event_type) or _EVENT_DATA["booking"]
    origin = {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"enum": list(events.ORIGINS)},
            "inbox_item": {**_ID, "description": "bridge and calendar: the inbox item"},
            "user": {**_ID, "description": "web: the account that made the change"},
        },
    }
    return _object(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9]+$", "description": "webhook-id"},
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "origin": origin,
            "data": data,
        }
    )


def _webhooks() -> JSON:
    """OpenAPI 3.1 ``webhooks``: what feedserver POSTs to an endpoint, per event type."""
    headers = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": description,
        }
        for name, description in (
            ("webhook-id", "the event's id (evt_N), the same on every attempt"),
            ("webhook-timestamp", "the attempt's Unix time, in seconds"),
            (
                "webhook-signature",
                "v1,<base64 HMAC-SHA256 of id.timestamp.body>; during a secret rotation, "
                "one per secret, separated by spaces (Standard Webhooks)",
            ),
        )
    ]
    return {
        event_type: {
            "post": {
                "operationId": f"event_{event_type.replace('.', '_')}",
                "summary": description,
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": event_schema(event_type)}},
                },
                "responses": {
                    "200": {"description": "Any 2xx: delivered"},
                    "410": {"description": "Gone: the endpoint is disabled"},
                    "429": {"description": "Too many: tried again after Retry-After"},
                    "503": {"description": "Unavailable: tried again after Retry-After"},
                },
            }
        }
        for event_type, description in EVENT_TYPES.items()
    }


def _statuses(path: str, operation: Operation) -> list[int]:
    found = {operation.ok, 400, *operation.errors}  # 400: a request HTTP cannot read
    if operation.auth != ANYONE:
        found |= {401, 429}
    if operation.auth in (ADMIN, ACCOUNT):
        found.add(403)
    if operation.body is not None:
        found |= {400, 413, 422}
    if operation.files:
        found |= {413, 422}
    if operation.query or _path_names(path):
        # a parameter that cannot be what it names (422) or names nothing that exists (404)
        found |= {404, 422}
    if operation.returns == "calendar":
        found.add(304)
    return sorted(found)


def _content(operation: Operation, status: int) -> JSON | None:
    if status == 400:  # HTTP that aiohttp cannot parse is refused before any handler, as text
        return {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
            "text/plain": {"schema": {"type": "string"}},
        }
    if status >= 400:
        return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    if status in (204, 302, 304):
        return None
    if operation.returns == "calendar":
        return {"text/calendar": {"schema": {"type": "string"}}}
    if operation.returns in ("html", "text"):
        kind = "text/html" if operation.returns == "html" else "text/plain"
        return {kind: {"schema": {"type": "string"}}}
    if operation.returns in _RESOURCES:
        return {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{operation.returns}"}}
        }
    return {"application/json": {"schema": {"type": "object"}}}


def _security(auth: str) -> list[JSON]:
    if auth == ANYONE:
        return []
    if auth == ACCOUNT:
        return [{"basicAuth": []}]
    if auth == WEBHOOK:
        return [{"webhookSecret": []}, {"adminToken": []}, {"basicAuth": []}]
    return [{"adminToken": []}, {"basicAuth": []}]


def _operation(method: str, path: str, operation: Operation, names: set[str]) -> JSON:
    parameters: list[JSON] = []
    for name in names:
        schema: JSON = (
            {"type": "integer", "minimum": 0, "maximum": MAX_ID}
            if name in _INTEGER_PATH
            else {"type": "string", "minLength": 1, "maxLength": 254}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    for param in operation.query:
        parameters.append(
            {
                "name": param.name,
                "in": "query",
                "required": False,
                "schema": param.schema,
                "description": param.description,
            }
        )
    responses: JSON = {}
    for status in _statuses(path, operation):
        response: JSON = {"description": _STATUS_TEXT.get(status, "")}
        content = _content(operation, status)
        if content is not None:
            response["content"] = content
        if status == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
            }
        responses[str(status)] = response
    described: JSON = {
        "operationId": _operation_id(method, path),
        "summary": operation.summary,
        **({"description": operation.description} if operation.description else {}),
        "tags": [_tag(path)],
        "security": _security(operation.auth),
        "parameters": parameters,
        "responses": responses,
    }
    if operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{operation.body.name}"}
                }
            },
        }
    elif operation.files:
        described["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": {"type": "string"}} for kind in operation.files},
        }
    return described


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}").replace("-", "_").replace(".", "_") for w in path.split("/") if w]
    return "_".join([method.lower(), *words])


def _tag(path: str) -> str:
    parts = [p for p in path.split("/") if p and p not in ("api", "me", "users", "{id}")]
    return parts[0] if parts else "users"


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.replace(".", "/").split("/") if part.startswith("{")]


def routes_of(app: web.Application) -> Iterable[tuple[str, str]]:
    """(method, path) of the application's documented kinds of route: the JSON API, the
    feeds, meeting links, Google's return, health and metrics."""
    for route in app.router.routes():
        if route.method in ("HEAD", "*", "OPTIONS"):
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        probes = ("/healthz", "/readyz", "/metrics")
        if path.startswith(("/api/", "/feeds/", "/meet/", "/oauth/")) or path in probes:
            yield route.method, path


# The field of a created thing's answer that a path parameter names it by.
_CREATED_KEY = {"code": "code", "key": "key", "id": "id", "bid": "id"}
# Collections whose created things are found under another path.
_CREATED_UNDER = {"/api/inbound": "/api/inbox"}


def _links(paths: dict[str, JSON]) -> None:
    """OpenAPI links from each creation (POST on a collection) to the operations on what it
    created (``/collection/{key}...``), with the key taken from the answer: how a client, or
    schemathesis' stateful tests, chain calls."""
    for collection, operations in paths.items():
        create = operations.get("post")
        if create is None:
            continue
        home = _CREATED_UNDER.get(collection, collection)
        links: JSON = {}
        for path, others in paths.items():
            names = _path_names(path)
            if not path.startswith(home + "/{") or len(names) != 1 or names[0] not in _CREATED_KEY:
                continue
            for other in others.values():
                links[other["operationId"]] = {
                    "operationId": other["operationId"],
                    "parameters": {names[0]: f"$response.body#/{_CREATED_KEY[names[0]]}"},
                }
        for status, response in create["responses"].items():
            if links and status in ("200", "201", "202"):
                response["links"] = links


def document(app: web.Application, server_url: str) -> JSON:
    paths: dict[str, JSON] = {}
    for method, path in routes_of(app):
        operation = OPERATIONS.get((method, path))
        if operation is None:
            continue  # the test of this module fails instead
        names = set(_path_names(path))
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, operation, names)
    _links(paths)
    components: JSON = {s.name: s.json for s in schemas.ALL}
    components["Error"] = _ERROR
    for name, description in _RESOURCES.items():
        components[name] = {"type": "object", "description": description}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedserver API",
            "version": __version__,
            "description": (
                "Bookings, locations, reservation types, accounts, subscription feed links, "
                "notifications, availability and the calendar bridge. Errors are JSON "
                '{"error", "message", "field"}; request bodies are checked against the '
                "schemas below."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "webhooks": _webhooks(),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin token (security.admin_token)",
                },
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "a personal account's email and password",
                },
                "webhookSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Webhook-Secret",
                    "description": "bridge.webhook_secret",
                },
            },
        },
    }


routes = web.RouteTableDef()


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    found = document(request.app, request.app[CONFIG].public_url)
    return web.json_response(found, headers={"Cache-Control": "no-cache"})
