"""The reference: a minimal aiohttp handler returning a file's bytes from memory, with a
strong ETag and If-None-Match, and nothing else (no routing by token, no logging, no auth).
Its responses carry the same header fields as feedserver's (ETag, Last-Modified,
Cache-Control, Vary, Content-Type, Content-Disposition), so both servers put the same bytes on
the wire and differ only in the work behind them.

Usage: python bench/reference_server.py FILE PORT
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web


def make_app(body: bytes) -> web.Application:
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    validators = {
        "ETag": etag,
        "Last-Modified": format_datetime(datetime.now(UTC), usegmt=True),
        "Cache-Control": "private, max-age=300",
        "Vary": "Accept-Encoding",
    }
    full = {
        **validators,
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": 'inline; filename="Everything.ics"',
    }

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=validators)
        return web.Response(body=body, headers=full)

    app = web.Application()
    app.router.add_get("/feed.ics", handler)
    return app


if __name__ == "__main__":
    web.run_app(
        make_app(Path(sys.argv[1]).read_bytes()),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        access_log=None,
        print=None,
    )
