"""The reference: a minimal aiohttp handler returning a file's bytes from memory, with a
strong ETag and If-None-Match, and nothing else (no token check, no logging, no statistics).
It answers at the same path as the feed it stands beside (a plain route: one exact string), so
both servers parse the same request, and its responses carry the same header fields as
feedserver's (ETag, Last-Modified, Cache-Control, Vary, Content-Type, Content-Disposition), so
both put the same bytes on the wire and differ only in the work behind them.

Usage: python bench/reference_server.py FILE PORT [PATH]   (PATH defaults to /feed.ics)
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web


def make_app(body: bytes, path: str = "/feed.ics") -> web.Application:
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
    app.router.add_get(path, handler)
    return app


if __name__ == "__main__":
    web.run_app(
        make_app(Path(sys.argv[1]).read_bytes(), *sys.argv[3:4]),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        access_log=None,
        print=None,
    )
