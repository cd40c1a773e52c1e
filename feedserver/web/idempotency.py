"""``Idempotency-Key`` on every ``POST /api/...`` (the IETF httpapi draft's header): the first
answer to a key is kept for 24 hours, per caller (the credentials sent), and a request
repeating the key gets that answer again, with ``Idempotent-Replayed: true``, without being
applied twice. The same key with another request (method, path, body) is refused 422; while
the first is still being answered, 409. Answers that say nothing final are not kept, so the
request may be repeated: 401, 403, 429 and 5xx (the key is forgotten)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from feedserver.errors import IdempotencyKeyReused, MalformedRequest, RequestInProgress
from feedserver.store import Store
from feedserver.web.errors import Handler, error_to_response
from feedserver.web.state import RUNNER

HEADER = "Idempotency-Key"
MAX_KEY = 255
_NOT_KEPT = {401, 403, 429}
_JSON = ("application/json", "text/plain", "")


def _scope(request: web.Request) -> str:
    """Who asks: a digest of the credentials the request carries."""
    who = "\n".join(
        request.headers.get(name, "") for name in ("Authorization", "X-Webhook-Secret", "Cookie")
    )
    return hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest()


async def _fingerprint(request: web.Request) -> str:
    """What is asked: method, path and query, and the body (a JSON or text body is read
    here, and read again by the handler from aiohttp's copy; an upload streamed by its
    handler is known by its type and length)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path_qs}\n".encode("utf-8", "surrogateescape"))
    digest.update(f"{request.content_type}\n{request.content_length}\n".encode())
    if request.content_type in _JSON and request.can_read_body:
        digest.update(await request.read())
    return digest.hexdigest()


def _key(request: web.Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise MalformedRequest(
            f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters", field=HEADER
        )
    return key


async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``handler``'s answer, or the one kept for the request's Idempotency-Key."""
    if request.method != "POST" or not request.path.startswith("/api/"):
        return await handler(request)
    try:
        key = _key(request)
    except MalformedRequest as exc:
        return error_to_response(request, exc)
    if key is None:
        return await handler(request)
    runner = request.app[RUNNER]
    scope = _scope(request)
    fingerprint = await _fingerprint(request)
    if not await runner.run(lambda s: s.idempotency.begin(scope, key, fingerprint)):
        kept = await runner.run(lambda s: s.idempotency.get(scope, key))
        if kept is not None:
            first, status, content_type, body = kept
            if first != fingerprint:
                problem: Exception = IdempotencyKeyReused(
                    f"{HEADER} {key!r} was sent with another request", field=HEADER
                )
            elif status == 0:
                problem = RequestInProgress(
                    f"the first request with {HEADER} {key!r} is still being answered"
                )
            else:
                return web.Response(
                    status=status,
                    body=body,
                    headers={"Content-Type": content_type, "Idempotent-Replayed": "true"},
                )
            return error_to_response(request, problem)
    try:
        try:
            response = await handler(request)
        except Exception as exc:
            response = error_to_response(request, exc)
    except BaseException:
        await runner.run(lambda s: s.idempotency.forget(scope, key))
        raise
    found = (response.body or b"") if isinstance(response, web.Response) else None
    if isinstance(found, bytes) and response.status < 500 and response.status not in _NOT_KEPT:
        content_type = response.headers.get("Content-Type", "application/json")
        status, body = response.status, found

        def keep(store: Store) -> None:
            store.idempotency.finish(scope, key, status, content_type, body)

        await runner.run(keep)
    else:
        await runner.run(lambda s: s.idempotency.forget(scope, key))
    return response
