"""Reading request bodies as JSON, with precise errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from feedserver.errors import MalformedRequest


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
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the request body is not valid JSON: {exc}") from exc
