"""How the store writes the model's values into columns, the same on both backends: an
instant as fixed-width UTC text (``2027-01-20T08:00:00Z``), whose text order is time order."""

from __future__ import annotations

from datetime import datetime

from feedserver.times import iso_utc


def to_db(moment: datetime) -> str:
    return iso_utc(moment)


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)  # "...Z" parses as UTC (C code; strptime is 10x slower)


def maybe_to_db(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def maybe_from_db(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
