"""Domain errors. They say what went wrong in booking terms; ``feedserver.web.errors`` alone
decides which HTTP status each one becomes."""

from __future__ import annotations


class FeedserverError(Exception):
    """Base of every error a user can cause. ``code`` is a stable machine-readable name."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(FeedserverError):
    """A value is of the right shape but not acceptable (end before start, bad timezone...)."""

    code = "invalid"


class MalformedRequest(FeedserverError):
    """The request cannot be read at all (not JSON, not an object, wrong type)."""

    code = "malformed"


class NotFound(FeedserverError):
    code = "not_found"


class AlreadyExists(FeedserverError):
    code = "already_exists"


class Conflict(FeedserverError):
    code = "conflict"


class StaffDoubleBooked(Conflict):
    code = "double_booked"


class StaffBusy(Conflict):
    """The staff member's own calendar says they are busy then."""

    code = "staff_busy"


class InUse(Conflict):
    code = "in_use"


class ManagedByCalendar(Conflict):
    code = "managed_by_calendar"


class AuthenticationRequired(FeedserverError):
    code = "unauthenticated"


class TooManyAttempts(FeedserverError):
    """Too many failed sign-ins for this account or client address: wait ``retry_after``
    seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(FeedserverError):
    code = "forbidden"


class NotAPersonalAccount(PermissionDenied):
    code = "not_a_personal_account"


class LinkRevoked(FeedserverError):
    code = "revoked"


class LinkSuspended(PermissionDenied):
    """The link's owner is deactivated: it answers again if they are reactivated."""

    code = "owner_deactivated"


class TooLarge(FeedserverError):
    code = "too_large"


class UnknownReference(InvalidInput):
    """A body names a location, type or user that does not exist."""

    code = "unknown_reference"


class CursorExpired(FeedserverError):
    """A change feed cursor points before events the retention removed: there is a gap."""

    code = "cursor_expired"


class IdempotencyKeyReused(FeedserverError):
    """An Idempotency-Key sent again with a different request."""

    code = "idempotency_key_reused"


class RequestInProgress(Conflict):
    """The first request with this Idempotency-Key has not been answered yet."""

    code = "request_in_progress"
