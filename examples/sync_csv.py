"""Mirror a booking system's CSV export into feedserver, keyed by the booking system's own ids.

    python examples/sync_csv.py --url https://feedserver.example.org --token $ADMIN_TOKEN \
        export.csv

The export has a header and one booking a row:

    id,service,location,staff,start,end,customer_email,customer_name,status
    A-1001,haircut,ANHQ,camille@example.org,2027-03-01T10:00:00+01:00,,ada@example.com,Ada,confirmed

Each row is sent with ``PUT /api/bookings/external/{id}``: made when new, replaced when it
changed, left alone (no event, no email) when it did not. A booking made by an earlier run
whose id is no longer in the export is cancelled. Running it again at once changes nothing.
It needs nothing but Python; the exit status is 1 when a row was refused (each is printed
with feedserver's reason).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import Request, urlopen


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":  # a retried POST is applied once
            headers["Idempotency-Key"] = str(uuid.uuid4())
        request = Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def booking_of(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": row["service"],
        "location": row["location"],
        "staff": row["staff"],
        "start": row["start"],
        "status": row.get("status") or "confirmed",
        "attendees": [],
    }
    if row.get("end"):
        body["end"] = row["end"]
    if row.get("customer_email"):
        body["attendees"] = [{"email": row["customer_email"], "name": row.get("customer_name", "")}]
    return body


def existing(api: Api) -> dict[str, dict[str, Any]]:
    """feedserver's bookings that carry an external id, by it."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        status, page = api.call("GET", f"/api/bookings?limit=5000&offset={offset}")
        if status != 200:
            raise SystemExit(f"cannot list bookings: {status} {page}")
        for booking in page["bookings"]:
            if booking.get("external_id"):
                found[booking["external_id"]] = booking
        if len(page["bookings"]) < 5000:
            return found
        offset += 5000


def sync(api: Api, rows: list[dict[str, str]]) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0, "cancelled": 0, "refused": 0}
    before = existing(api)
    for row in rows:
        key = row["id"].strip()
        status, answer = api.call(
            "PUT", f"/api/bookings/external/{quote(key, safe='')}", booking_of(row)
        )
        if status == 201:
            counts["created"] += 1
        elif status == 200:
            same = before.get(key, {}).get("sequence") == answer["sequence"]
            counts["unchanged" if same else "updated"] += 1
        else:
            counts["refused"] += 1
            print(f"{key}: {status} {answer.get('message', answer)}", file=sys.stderr)
    listed = {row["id"].strip() for row in rows}
    for key, booking in before.items():
        if key not in listed and booking["status"] in ("confirmed", "pending"):
            status, answer = api.call("POST", f"/api/bookings/{booking['id']}/cancel")
            if status == 200:
                counts["cancelled"] += 1
            else:
                counts["refused"] += 1
                print(f"{key}: cancel {status} {answer.get('message', answer)}", file=sys.stderr)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="the booking system's CSV export")
    parser.add_argument("--url", default=os.environ.get("FEEDSERVER_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("FEEDSERVER_TOKEN", ""))
    args = parser.parse_args()
    if not args.token:
        parser.error("--token (or FEEDSERVER_TOKEN): an admin token or API credentials")
    with args.export.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    counts = sync(Api(args.url, args.token), rows)
    print(" ".join(f"{name}={count}" for name, count in counts.items()))
    sys.exit(1 if counts["refused"] else 0)


if __name__ == "__main__":
    main()
