"""Reading request bodies: each accessor checks a field's type and names the field when wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from feedserver.errors import InvalidInput, MalformedRequest

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_MISSING = object()
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Body:
    """A JSON object from a client, with typed access to its fields."""

    def __init__(self, data: object, allowed: set[str] | None = None) -> None:
        if not isinstance(data, Mapping):
            raise MalformedRequest("the request body must be a JSON object")
        self.data: Mapping[str, Any] = data
        if allowed is not None:
            unknown = sorted(set(data) - allowed)
            if unknown:
                raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise InvalidInput(f"{name} is required", field=name)
            return _MISSING
        return value

    def text(
        self, name: str, *, required: bool = False, default: str = "", max_len: int = 10_000
    ) -> str:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string", field=name)
        if _CONTROL.search(value):
            raise InvalidInput(
                f"{name} contains a control character (such as NUL); only tab and line "
                "breaks are allowed",
                field=name,
            )
        value = value.strip()
        if required and not value:
            raise InvalidInput(f"{name} must not be empty", field=name)
        if len(value) > max_len:
            raise InvalidInput(f"{name} is longer than {max_len} characters", field=name)
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int = 0,
        minimum: int = 0,
        maximum: int = 10**9,
    ) -> int:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{name} must be an integer", field=name)
        if not minimum <= value <= maximum:
            raise InvalidInput(f"{name} must be between {minimum} and {maximum}", field=name)
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self._get(name, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false", field=name)
        return value

    def texts(self, name: str) -> list[str] | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{name} must be a list of strings", field=name)
        return [v.strip() for v in value if v.strip()]

    def raw(self, name: str) -> Any:
        value = self._get(name, False)
        return None if value is _MISSING else value


def email(value: object, field: str = "email") -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()) or len(value) > 254:
        raise InvalidInput(f"{value!r} is not an email address", field=field)
    return value.strip().lower()
