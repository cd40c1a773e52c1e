"""WebDAV-Push (draft-bitfire-webdav-push, namespace ``https://bitfire.at/webdav-push``) on
``/dav/``: clients such as DAVx5 subscribe to a calendar and are told of its changes within
seconds instead of polling.

- ``DAV: ..., webdav-push`` on OPTIONS;
- every calendar (a user's own, and the ``bookings`` calendar read from the store) answers
  the ``transports`` (Web Push, with the server's VAPID public key), ``topic`` and
  ``supported-triggers`` properties when a PROPFIND asks for them (``with_properties``);
- ``POST`` of a ``<push-register>`` to a calendar subscribes (201, or 200 for a renewal of
  the same push resource), with ``Location`` (the registration URL) and ``Expires``
  (what the client asked, at least three days and at most ``push.subscription_days``);
  ``DELETE`` of the registration URL unsubscribes (204);
- on every change of a calendar, a ``<push-message>`` with its topic and new sync-token is
  sent as Web Push (RFC 8030), encrypted (RFC 8291, ``aes128gcm``) and signed (VAPID,
  RFC 8292) by pywebpush and py-vapid (``PushNotifier``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from feedserver import netguard

NS = "https://bitfire.at/webdav-push"
DAV = "DAV:"
PROPERTIES = ("transports", "topic", "supported-triggers")
REGISTRATIONS = "/.push/"  # under /dav: where registration URLs live
MIN_EXPIRY = timedelta(days=3)


class BadRegistration(ValueError):
    """A push-register body that cannot be taken; ``condition`` is its DAV:error element."""

    def __init__(self, message: str, condition: str = "invalid-subscription") -> None:
        super().__init__(message)
        self.condition = condition


@dataclass(frozen=True)
class Registration:
    push_resource: str
    public_key: str  # base64url, as sent
    auth_secret: str
    expires: datetime | None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushKeys:
    """The server's VAPID key and the secret its topics are made with."""

    def __init__(self, private_pem: str, topic_secret: str) -> None:
        self.vapid = Vapid.from_pem(private_pem.encode("ascii"))
        self._topic_secret = topic_secret.encode()
        raw = self.vapid.public_key.public_bytes(
            encoding=serialization.Encoding.X962,
            format=serialization.PublicFormat.UncompressedPoint,
        )
        self.public_key = _b64url(raw)

    def topic(self, path: str) -> str:
        """A collection's topic: opaque (it tells nothing of the calendar to a push service),
        stable, 22 URL-safe characters (RFC 8030 allows 32 in a ``Topic`` header)."""
        digest = hmac.new(self._topic_secret, f"webdav-push:{path}".encode(), hashlib.sha256)
        return _b64url(digest.digest())[:22]


def asks_for_push(body: bytes) -> bool:
    return NS.encode() in body


def is_register(body: bytes) -> bool:
    return b"push-register" in body and NS.encode() in body


def parse_register(body: bytes, public_only: bool) -> Registration:
    try:
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise BadRegistration(f"the body is not XML: {exc}") from exc
    if root.tag != f"{{{NS}}}push-register":
        raise BadRegistration("the body is not a push-register")
    found = root.find(f"{{{NS}}}subscription/{{{NS}}}web-push-subscription")
    if found is None:
        raise BadRegistration("only web-push-subscription is supported")

    def text(name: str) -> str:
        element = found.find(f"{{{NS}}}{name}")
        return (element.text or "").strip() if element is not None else ""

    resource = text("push-resource")
    if not resource.startswith(("https://", "http://")) or len(resource) > 2000:
        raise BadRegistration("push-resource must be an http(s) URL")
    if public_only and netguard.literal_private(resource):
        raise BadRegistration("push-resource is a private address")
    if (text("content-encoding") or "aes128gcm") != "aes128gcm":
        raise BadRegistration("content-encoding must be aes128gcm (RFC 8291)")
    key, auth = text("subscription-public-key"), text("auth-secret")
    try:
        if len(_unb64url(key)) != 65 or len(_unb64url(auth)) != 16:
            raise ValueError("sizes")
    except ValueError as exc:
        raise BadRegistration(
            "subscription-public-key (a P-256 point, 65 bytes) and auth-secret (16 bytes) "
            "are required, base64url"
        ) from exc
    trigger = root.find(f"{{{NS}}}trigger")
    if trigger is not None and trigger.find(f"{{{NS}}}content-update") is None:
        raise BadRegistration(
            "only content-update is supported as a trigger", "no-supported-trigger"
        )
    expires = None
    expiry = root.findtext(f"{{{NS}}}expires", default="").strip()
    if expiry:
        try:
            expires = parsedate_to_datetime(expiry)
        except (TypeError, ValueError) as exc:
            raise BadRegistration(f"expires is not an HTTP date: {expiry[:60]!r}") from exc
        if expires.tzinfo is None:
            raise BadRegistration("expires is not an HTTP date (GMT)")
    return Registration(resource, key, auth, expires)


def expiry(asked: datetime | None, now: datetime, longest: timedelta) -> datetime:
    """What a subscription gets: what was asked, within [three days, ``longest``]."""
    most = now + max(longest, MIN_EXPIRY)
    if asked is None:
        return most
    return min(max(asked, now + MIN_EXPIRY), most).replace(microsecond=0)


def new_registration() -> str:
    return secrets.token_urlsafe(18)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def error_body(condition: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:error xmlns:D="DAV:" xmlns:P="{NS}"><P:{condition}/>'
        f"<D:responsedescription>{escape(message)}</D:responsedescription></D:error>\n"
    ).encode()


def message(topic: str, sync_token: str) -> bytes:
    """The push message: which calendar changed, and its sync-token now."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<P:push-message xmlns:P="{NS}" xmlns:D="DAV:"><P:topic>{escape(topic)}</P:topic>'
        f"<P:content-update><D:sync-token>{escape(sync_token)}</D:sync-token>"
        "</P:content-update></P:push-message>\n"
    ).encode()


def push_capable(path: str, principal: str) -> bool:
    """A calendar of the principal: ``<principal>/<calendar>`` (its own or ``bookings``)."""
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[0] == principal and bool(parts[1])


def with_properties(body: bytes, keys: PushKeys, prefix: str, principal: str) -> bytes:
    """A PROPFIND's multistatus with the push properties of each calendar answered: moved
    from the 404 propstat Radicale gave them to a 200 one, with their values."""
    ET.register_namespace("D", DAV)
    ET.register_namespace("P", NS)
    try:
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError:
        return body
    changed = False
    for response in root.findall(f"{{{DAV}}}response"):
        href = response.findtext(f"{{{DAV}}}href", default="")
        path = unquote(href).removeprefix(prefix).strip("/")
        if not push_capable(path, principal):
            continue
        wanted = []
        for propstat in response.findall(f"{{{DAV}}}propstat"):
            status = propstat.findtext(f"{{{DAV}}}status", default="")
            prop = propstat.find(f"{{{DAV}}}prop")
            if prop is None or " 200 " in status:
                continue
            for element in list(prop):
                if element.tag in {f"{{{NS}}}{name}" for name in PROPERTIES}:
                    prop.remove(element)
                    wanted.append(element.tag)
            if len(prop) == 0:
                response.remove(propstat)
        if not wanted:
            continue
        changed = True
        propstat = ET.SubElement(response, f"{{{DAV}}}propstat")
        prop = ET.SubElement(propstat, f"{{{DAV}}}prop")
        for tag in wanted:
            element = ET.SubElement(prop, tag)
            if tag.endswith("}transports"):
                push = ET.SubElement(element, f"{{{NS}}}web-push")
                key = ET.SubElement(push, f"{{{NS}}}vapid-public-key", {"type": "p256ecdsa"})
                key.text = keys.public_key
            elif tag.endswith("}topic"):
                element.text = keys.topic(path)
            else:
                update = ET.SubElement(element, f"{{{NS}}}content-update")
                ET.SubElement(update, f"{{{DAV}}}depth").text = "1"
        ET.SubElement(propstat, f"{{{DAV}}}status").text = "HTTP/1.1 200 OK"
    if not changed:
        return body
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root)
