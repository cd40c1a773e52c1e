"""Reading request bodies as JSON, with precise errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from feedserver.domain.inputs import unreadable_text
from feedserver.errors import InvalidInput, MalformedRequest
from feedserver.numbers import is_whole


def page_query(
    request: web.Request, default: int = 100, most: int = 1000
) -> tuple[int, int | None]:
    """``?limit=`` (1 to ``most``) and ``?after=`` (the ``next`` of the previous page)."""
    limit, after = request.query.get("limit", str(default)), request.query.get("after")
    if not is_whole(limit) or not 1 <= int(limit) <= most:
        raise InvalidInput(f"limit is 1 to {most}", field="limit")
    if after is not None and not is_whole(after):
        raise InvalidInput("after is the 'next' value of the previous page", field="after")
    return int(limit), int(after) if after is not None else None


async def read_json(request: web.Request) -> Any:
    raw = await request.read()  # aiohttp enforces client_max_size (413)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise MalformedRequest(
            f"the body is a form ({request.content_type}); send JSON "
            "(Content-Type: application/json)"
        )
    if not raw.strip():
        raise MalformedRequest("the request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
        unreadable = unreadable_text(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise MalformedRequest("the request body is JSON nested too deeply") from None
    if unreadable is not None:
        raise unreadable
    return data
