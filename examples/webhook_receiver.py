"""A booking system's end of feedserver's webhooks: a small HTTP server that verifies each
delivery's signature and keeps a mirror of the bookings it hears of.

    pip install aiohttp standardwebhooks
    python examples/webhook_receiver.py --secret whsec_... --port 8787 --mirror bookings.json

Then add the endpoint (the secret is in the answer, once):

    curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \
        -d '{"url": "https://your-host/hooks"}' https://feedserver.example.org/api/webhooks

What it does with a delivery, as a real receiver should:

- refuses it (401) unless its signature verifies under the secret (``standardwebhooks``
  checks the HMAC and that the timestamp is within five minutes);
- answers 200 at once to a ``webhook-id`` it has already applied (a redelivery);
- applies ``booking.*`` and ``attendee.replied`` events to the mirror (the booking as the
  event carries it), ignoring one older than what the mirror has (``sequence``);
- answers 200 once the mirror is written, so feedserver retries anything not applied.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MIRROR = web.AppKey("mirror", Path)
SIGNER = web.AppKey("signer", Webhook)


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return found
    return {"bookings": {}, "seen": [], "replies": []}


def save(path: Path, state: dict[str, Any]) -> None:
    """Write the mirror whole, atomically (a crash leaves the old one)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=path.name)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=1, sort_keys=True)
    os.replace(name, path)


def apply(state: dict[str, Any], event: dict[str, Any]) -> None:
    data = event["data"]
    if event["type"].startswith("booking.") or event["type"] == "attendee.replied":
        booking = data["booking"]
        known = state["bookings"].get(str(booking["id"]))
        if known is None or known["sequence"] <= booking["sequence"]:
            state["bookings"][str(booking["id"])] = booking
    if event["type"] == "attendee.replied":
        state["replies"].append(data["attendee"])


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        event = request.app[SIGNER].verify(body, dict(request.headers))
    except WebhookVerificationError as exc:
        return web.json_response({"error": str(exc)}, status=401)
    path = request.app[MIRROR]
    state = load(path)
    message_id = request.headers["webhook-id"]
    if message_id not in state["seen"]:
        apply(state, event)
        state["seen"].append(message_id)
        save(path, state)
        print(f"applied {message_id} {event['type']}", flush=True)
    return web.json_response({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET", ""))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--mirror", type=Path, default=Path("bookings.json"))
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret (or WEBHOOK_SECRET) is the whsec_... secret feedserver gave")
    app = web.Application()
    app[SIGNER] = Webhook(args.secret)
    app[MIRROR] = args.mirror.resolve()
    app.router.add_post("/hooks", receive)
    web.run_app(app, host=args.host, port=args.port, print=lambda text: print(text, flush=True))


if __name__ == "__main__":
    main()
