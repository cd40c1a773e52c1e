"""WebDAV-Push (the bitfire draft) on /dav/: discovery, registration, messages and their end.

A local push endpoint stands for a push service: it decrypts every message with http-ece
(RFC 8291, with the subscription's own private key and auth secret), checks the VAPID JWT
(RFC 8292: ES256 under the key the server advertises, audience, expiry, contact), and keeps
what it read. A booking change reaches it within 2 s with the calendar's new sync-token; a
write to a user's own calendar too; a burst is merged; unsubscribing stops the messages; a
410 from the push service removes the subscription."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import http_ece
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.web.state import RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org

NS = "https://bitfire.at/webdav-push"
CAMILLE = {"Authorization": basic_auth("camille@example.org", "camille-password")}
MAYA = {"Authorization": basic_auth("maya@example.org", "maya-password")}
BOOKINGS = "/dav/camille@example.org/bookings/"
ASK = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:p="https://bitfire.at/webdav-push">'
    "<d:prop><p:transports/><p:topic/><p:supported-triggers/><d:sync-token/></d:prop>"
    "</d:propfind>"
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push endpoint per subscription, reading messages as a user agent would."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.auth = os.urandom(16)
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.status: dict[str, int] = {}
        self.base = ""

    async def receive(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        assert request.headers["Content-Encoding"] == "aes128gcm"
        text = http_ece.decrypt(
            body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
        )
        claims, key = self.vapid(request.headers["Authorization"])
        assert claims["aud"] == self.base and claims["exp"] > time.time()
        assert claims["sub"].startswith("mailto:")
        root = ET.fromstring(text)  # noqa: S314
        self.messages.setdefault(name, []).append(
            {
                "topic": root.findtext(f"{{{NS}}}topic"),
                "token": root.findtext(f"{{{NS}}}content-update/{{DAV:}}sync-token"),
                "key": key,
                "topic_header": request.headers.get("Topic"),
                "ttl": request.headers.get("TTL"),
            }
        )
        return web.Response(status=self.status.get(name, 201))

    @staticmethod
    def vapid(header: str) -> tuple[dict[str, Any], str]:
        """The JWT's claims, after its ES256 signature checked under ``k``."""
        scheme, _, rest = header.partition(" ")
        assert scheme == "vapid", header
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        token, key = fields["t"], fields["k"]
        head, payload, signature = token.split(".")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        raw = unb64url(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        assert json.loads(unb64url(head))["alg"] == "ES256"
        return json.loads(unb64url(payload)), key

    def register_body(self, name: str, expires: str = "") -> str:
        when = f"<expires>{expires}</expires>" if expires else ""
        return (
            f'<?xml version="1.0"?><push-register xmlns="{NS}" xmlns:D="DAV:"><subscription>'
            f"<web-push-subscription><push-resource>{self.base}/push/{name}</push-resource>"
            "<content-encoding>aes128gcm</content-encoding>"
            f'<subscription-public-key type="p256dh">{b64url(self.public)}'
            f"</subscription-public-key><auth-secret>{b64url(self.auth)}</auth-secret>"
            "</web-push-subscription></subscription><trigger><content-update><D:depth>1"
            f"</D:depth></content-update></trigger>{when}</push-register>"
        )


@pytest.fixture
async def pushes(aiohttp_server: Any) -> PushService:
    service = PushService()
    app = web.Application()
    app.router.add_post("/push/{name}", service.receive)
    server = await aiohttp_server(app)
    service.base = f"http://127.0.0.1:{server.port}"
    return service


@pytest.fixture
async def lab(aiohttp_client: Any, config: Config) -> Api:
    pushing = with_changes(
        config,
        push={"allow_private_networks": True, "merge_ms": 100},
        smtp={"sender": "bookings@salon.example"},
    )
    client = await aiohttp_client(create_app(pushing))
    api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return api


async def dav(
    api: Api, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    response = await api.client.request(
        method, path, data=body.encode(), headers={**CAMILLE, **(headers or {})}
    )
    return response.status, dict(response.headers), await response.text()


async def properties(api: Api, path: str) -> dict[str, Any]:
    status, _, text = await dav(api, "PROPFIND", path, ASK, {"Depth": "0"})
    assert status == 207, text
    root = ET.fromstring(text)  # noqa: S314
    found: dict[str, Any] = {}
    for propstat in root.iter("{DAV:}propstat"):
        if " 200 " not in (propstat.findtext("{DAV:}status") or ""):
            continue
        for element in propstat.find("{DAV:}prop") or []:
            found[element.tag.split("}")[1]] = element
    return found


async def arrived(service: PushService, name: str, count: int, timeout: float = 2.0) -> float:
    started = time.monotonic()
    while len(service.messages.get(name, [])) < count:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{len(service.messages.get(name, []))} messages, not {count}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_booking_change_reaches_a_subscriber_within_two_seconds(
    lab: Api, pushes: PushService
) -> None:
    status, headers, _ = await dav(lab, "OPTIONS", "/dav/")
    assert "webdav-push" in headers["DAV"]
    props = await properties(lab, BOOKINGS)
    key = props["transports"].find(f"{{{NS}}}web-push/{{{NS}}}vapid-public-key")
    assert key is not None and key.get("type") == "p256ecdsa"
    topic = props["topic"].text
    assert topic and len(topic) <= 32 and "camille" not in topic
    assert props["supported-triggers"].find(f"{{{NS}}}content-update") is not None

    status, headers, text = await dav(lab, "POST", BOOKINGS, pushes.register_body("phone"))
    assert status == 201, text
    assert "/dav/.push/" in headers["Location"]
    expires = parsedate_to_datetime(headers["Expires"])
    assert expires - datetime.now(UTC) >= timedelta(days=3) - timedelta(minutes=1)
    # Registering the same push resource again renews it.
    again = await dav(lab, "POST", BOOKINGS, pushes.register_body("phone"))
    assert again[0] == 200 and again[1]["Location"] == headers["Location"]

    started = time.monotonic()
    await book(lab)
    await arrived(pushes, "phone", 1)
    assert time.monotonic() - started < 2
    got = pushes.messages["phone"][0]
    assert got["topic"] == topic and got["topic_header"] == topic
    assert got["key"] == key.text  # signed with the key the calendar advertises
    now = (await properties(lab, BOOKINGS))["sync-token"].text
    assert got["token"] == now  # the calendar's sync-token after the change

    # A burst of changes is merged, not one message each.
    before = len(pushes.messages["phone"])
    for hour in range(9, 15):
        await book(lab, start=f"2026-12-02T{hour:02d}:00:00+01:00")
    await arrived(pushes, "phone", before + 1)
    await asyncio.sleep(0.6)
    assert len(pushes.messages["phone"]) - before <= 3
    assert (
        pushes.messages["phone"][-1]["token"]
        == (await properties(lab, BOOKINGS))["sync-token"].text
    )

    # Unsubscribed: no more messages.
    path = "/" + headers["Location"].split("://", 1)[1].split("/", 1)[1]
    assert (await dav(lab, "DELETE", path, headers=MAYA))[0] == 404  # not Maya's
    assert (await dav(lab, "DELETE", path))[0] == 204
    count = len(pushes.messages["phone"])
    await book(lab, start="2026-12-03T10:00:00+01:00")
    await asyncio.sleep(0.8)
    assert len(pushes.messages["phone"]) == count


async def test_a_write_to_an_own_calendar_is_pushed_and_a_gone_subscription_removed(
    lab: Api, pushes: PushService
) -> None:
    calendar = "/dav/camille@example.org/personal/"
    assert (await dav(lab, "MKCALENDAR", calendar))[0] == 201
    assert (await dav(lab, "POST", calendar, pushes.register_body("laptop")))[0] == 201
    assert (await dav(lab, "POST", calendar, pushes.register_body("old-phone")))[0] == 201
    pushes.status["old-phone"] = 410
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//DAVx5//EN\r\nBEGIN:VEVENT\r\nUID:x-1\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\n"
        "SUMMARY:Gym\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    status, _, _ = await dav(
        lab, "PUT", calendar + "gym.ics", event, {"Content-Type": "text/calendar"}
    )
    assert status == 201
    await arrived(pushes, "laptop", 1)
    await arrived(pushes, "old-phone", 1)
    props = await properties(lab, calendar)
    assert pushes.messages["laptop"][0]["token"] == props["sync-token"].text
    assert pushes.messages["laptop"][0]["topic"] == props["topic"].text

    async def subscriptions() -> list[str]:
        found = await lab.client.app[RUNNER].run(lambda s: s.push.active(datetime.now(UTC)))
        return [s.push_resource.rsplit("/", 1)[1] for s in found]

    for _ in range(50):
        if await subscriptions() == ["laptop"]:
            break
        await asyncio.sleep(0.05)
    assert await subscriptions() == ["laptop"]  # the 410 removed it


async def test_bad_registrations_get_the_draft_s_errors(lab: Api, pushes: PushService) -> None:
    good = pushes.register_body("x")
    cases = [
        (BOOKINGS, good.replace("aes128gcm", "aesgcm"), 403, "invalid-subscription"),
        (BOOKINGS, good.replace(b64url(pushes.auth), "AAAA"), 403, "invalid-subscription"),
        (
            BOOKINGS,
            good.replace("<content-update>", "<property-update>").replace(
                "</content-update>", "</property-update>"
            ),
            403,
            "no-supported-trigger",
        ),
        (BOOKINGS, good.replace(pushes.base, "ftp://x"), 403, "invalid-subscription"),
        (BOOKINGS, good.replace("<push-resource>", "<push-resource>\ud800"), 403, ""),
        (BOOKINGS, "<push-register xmlns='https://bitfire.at/webdav-push'><", 403, ""),
        ("/dav/maya@example.org/bookings/", good, 403, "push-not-available"),
        ("/dav/camille@example.org/", good, 403, "push-not-available"),
        ("/dav/camille@example.org/nothing/", good, 404, ""),
        (BOOKINGS, "<not-push/>", 405, ""),
    ]
    for path, body, status, condition in cases:
        response = await lab.client.post(
            path, data=body.encode("utf-8", "surrogatepass"), headers=CAMILLE
        )
        text = await response.text()
        assert response.status == status, (path, body[:80], response.status, text)
        assert condition in text
    # A date far away is cut to push.subscription_days; a date too near is made three days.
    status, headers, _ = await dav(
        lab, "POST", BOOKINGS, pushes.register_body("far", "Fri, 01 Jan 2100 00:00:00 GMT")
    )
    assert status == 201
    assert parsedate_to_datetime(headers["Expires"]) < datetime.now(UTC) + timedelta(days=31)
    # Without push.allow_private_networks a loopback push resource is refused.
    assert (await dav(lab, "POST", BOOKINGS, ""))[0] == 405
