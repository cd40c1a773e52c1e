"""The Devices page: app passwords for CalDAV clients, setup steps per platform, and an Apple
configuration profile (``.mobileconfig``) that sets an iPhone, iPad or Mac up in two taps.

The profile carries the server, port, SSL, principal URL and user name, never a password: the
device asks for the app password when the profile is installed."""

from __future__ import annotations

import plistlib
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from feedserver.caldav_bridge.server import PREFIX
from feedserver.domain import app_passwords
from feedserver.errors import FeedserverError
from feedserver.model import User
from feedserver.web.pages.base import (
    SECURITY_HEADERS,
    Visitor,
    path_id,
    read_form,
    render,
    see_other,
    signed_in,
    unconfirmed,
)
from feedserver.web.state import CONFIG, RUNNER

routes = web.RouteTableDef()

PROFILE_TYPE = "application/x-apple-aspen-config"


def caldav_address(public_url: str, email: str) -> dict[str, Any]:
    parts = urlsplit(public_url)
    ssl = parts.scheme == "https"
    return {
        "server": f"{public_url}{PREFIX}/",
        "host": parts.hostname or "localhost",
        "port": parts.port or (443 if ssl else 80),
        "ssl": ssl,
        "principal": f"{PREFIX}/{email}/",
    }


def apple_profile(public_url: str, user: User, organisation: str) -> bytes:
    """A configuration profile with one CalDAV account payload (no password in it).

    Identifiers are stable per server and person, so installing a newer profile replaces
    the older one instead of adding a second account."""
    where = caldav_address(public_url, user.email)
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{public_url}/caldav/{user.email}")
    reverse = ".".join(reversed(where["host"].split(".")))
    payload = {
        "PayloadType": "com.apple.caldav.account",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse}.feedserver.caldav.{namespace}",
        "PayloadUUID": str(uuid.uuid5(namespace, "payload")).upper(),
        "PayloadDisplayName": f"{organisation} CalDAV",
        "CalDAVAccountDescription": organisation,
        "CalDAVHostName": where["host"],
        "CalDAVPort": where["port"],
        "CalDAVUseSSL": where["ssl"],
        "CalDAVPrincipalURL": where["principal"],
        "CalDAVUsername": user.email,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse}.feedserver.{namespace}",
        "PayloadUUID": str(namespace).upper(),
        "PayloadDisplayName": f"{organisation} calendar",
        "PayloadDescription": f"Your bookings at {organisation} ({user.email}).",
        "PayloadOrganization": organisation,
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [payload],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


async def devices_page(
    request: web.Request,
    who: Visitor,
    user: User,
    created: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> web.Response:
    found = await request.app[RUNNER].run(lambda s: s.app_passwords.list(user.id))
    context = {
        "devices": [d for d in found if d.revoked_at is None],
        "created": created,
        "error": error,
        "caldav": caldav_address(request.app[CONFIG].public_url, user.email),
    }
    return render(request, who, "devices.html", context, status)


@routes.get("/devices")
@signed_in
async def devices(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await devices_page(request, who, user)


@routes.post("/devices")
@signed_in
async def create(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    data = {"name": form.get("name", "").strip()}
    try:
        made, secret = await request.app[RUNNER].run(lambda s: app_passwords.create(s, user, data))
    except FeedserverError as exc:
        return await devices_page(request, who, user, error=exc.message, status=422)
    return await devices_page(request, who, user, {"name": made.name, "password": secret})


@routes.post("/devices/{id}/revoke")
@signed_in
async def revoke(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    device_id = path_id(request, "app password")
    await request.app[RUNNER].run(lambda s: app_passwords.get_own(s, user, device_id))
    question = "Revoke this app password? The device stops syncing."
    ask = unconfirmed(request, who, form, question, "Revoke", "/devices")
    if ask is not None:
        return ask
    await request.app[RUNNER].run(lambda s: app_passwords.revoke(s, user, device_id))
    return see_other("/devices", "saved")


@routes.get("/devices/feedserver.mobileconfig")
@signed_in
async def profile(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    config = request.app[CONFIG]
    body = apple_profile(config.public_url, user, config.smtp.sender_name)
    return web.Response(
        body=body,
        headers={
            **SECURITY_HEADERS,
            "Content-Type": PROFILE_TYPE,
            "Content-Disposition": 'attachment; filename="feedserver.mobileconfig"',
        },
    )
