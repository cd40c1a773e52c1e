"""Who may do what in Radicale: each user their own tree, and their ``bookings`` calendar
read-only (feedserver publishes it; a PUT or DELETE there gets 403)."""

from __future__ import annotations

from radicale import pathutils
from radicale.rights import BaseRights

BOOKINGS = "bookings"


class OwnTreeRights(BaseRights):
    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        sane = pathutils.strip_path(path)
        if not sane:
            return "R"  # the root: enough to discover one's principal
        parts = sane.split("/")
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "RW"  # the principal collection: list and create calendars
        if len(parts) == 2:
            return "r" if parts[1] == BOOKINGS else "rw"
        return ""
