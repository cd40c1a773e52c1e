"""Reading request bodies: a body is checked against its schema (``feedserver.domain.schemas``),
then each accessor reads a field; every error names the field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from feedserver.domain.schemas import Schema
from feedserver.errors import AlreadyExists, InvalidInput, MalformedRequest

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_MISSING = object()
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}


def _where(error: ValidationError) -> str:
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where


def _problem(error: ValidationError) -> InvalidInput:
    """One schema violation as the error a client reads: what is wrong, and where."""
    where = _where(error)
    schema: Any = error.schema
    instance: Any = error.instance
    value: Any = error.validator_value
    name = where or "the body"
    if error.validator == "required":
        missing = next(n for n in value if n not in instance)
        name = f"{where}.{missing}" if where else missing
        return InvalidInput(f"{name} is required", field=name)
    if error.validator == "additionalProperties":
        known = set(schema.get("properties", {}))
        unknown = sorted(set(instance) - known)[0]
        return InvalidInput(f"unknown field {unknown!r}", field=where or unknown)
    if error.validator == "type":
        types = [value] if isinstance(value, str) else [t for t in value if t != "null"]
        if instance is None:
            return InvalidInput(f"{name} is required", field=where or None)
        wanted = " or ".join(_TYPES.get(t, t) for t in types)
        return InvalidInput(f"{name} must be {wanted}", field=where or None)
    if error.validator == "maxLength":
        return InvalidInput(f"{name} is longer than {value} characters", field=where)
    if error.validator in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return InvalidInput(f"{name} must be between {low} and {high}", field=where)
    if error.validator == "maxItems":
        return InvalidInput(f"{name} has more than {value} items", field=where)
    if error.validator == "enum":
        shown = ", ".join(repr(v) for v in value if v is not None)
        return InvalidInput(f"{name} must be one of {shown}", field=where)
    described = schema.get("description")
    if described:
        return InvalidInput(f"{name}: {described}", field=where)
    return InvalidInput(f"{name}: {error.message[:200]}", field=where or None)


def unreadable_text(value: object, where: str = "") -> InvalidInput | None:
    """The first string in a JSON value (keys included, at any depth) that is not text a
    calendar can carry, as the error naming its field: a lone surrogate (valid JSON, as
    ``"\\ud800"`` or the raw bytes ED A0 80, but not Unicode: nothing can store or send it),
    or a control character other than tab and line breaks (RFC 5545 §3.1 forbids them)."""
    if isinstance(value, str):
        name = where or "the body"
        if _SURROGATE.search(value):
            return InvalidInput(
                f"{name} is not valid Unicode text (it holds a lone surrogate)", field=where
            )
        if _CONTROL.search(value):
            return InvalidInput(
                f"{name} contains a control character (such as NUL); only tab and line "
                "breaks are allowed",
                field=where,
            )
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            found = unreadable_text(key, inner) or unreadable_text(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unreadable_text(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


class Body:
    """A JSON object from a client, checked against its schema, with typed access to its
    fields. Lengths and ranges an accessor is not given come from the schema."""

    def __init__(self, data: object, schema: Schema) -> None:
        if not isinstance(data, Mapping):
            raise MalformedRequest("the request body must be a JSON object")
        unreadable = unreadable_text(data)
        if unreadable is not None:
            raise unreadable
        if not schema.surely_valid(data):
            error = best_match(schema.validator.iter_errors(data))
            if error is not None:
                raise _problem(error)
        self.data: Mapping[str, Any] = data
        self.schema = schema

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
        self, name: str, *, required: bool = False, default: str = "", max_len: int | None = None
    ) -> str:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string", field=name)
        value = value.strip()  # unreadable text was refused with the whole body
        if max_len is None:
            max_len = self.schema.limit(name, "maxLength") or 10_000
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
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if minimum is None:
            minimum = self.schema.limit(name, "minimum") or 0
        if maximum is None:
            maximum = self.schema.limit(name, "maximum") or 10**9
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


def external_id(body: Body) -> str | None:
    """The caller's own id of what the body describes: None when absent, null or empty."""
    return body.text("external_id") or None


def check_external_id(
    value: str | None, lookup: Callable[[str], int | None], own_id: int | None, kind: str
) -> None:
    """Refuse ``value`` when another ``kind`` has it already (``lookup``: the id of the row
    that has an external id; ``own_id``: the row being written, None when new)."""
    if value is None:
        return
    owner = lookup(value)
    if owner is not None and owner != own_id:
        raise AlreadyExists(f"another {kind} has external_id {value!r}", field="external_id")
