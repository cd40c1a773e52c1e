"""Webhook endpoints: made, changed, paused, given a new secret, deleted; their deliveries
listed and queued again. Delivering is ``feedserver.webhooks``'s work.

A secret (``whsec_`` and 24 random bytes in base64, as the Standard Webhooks specification
writes them) is shown once, when it is made; it is stored sealed with the instance's key
(``feedserver.tokens.credentials``), since signing needs it back. A rotation keeps the old
secret for ``ROTATION``: deliveries carry a signature by each, so a receiver can switch at
its own pace.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from feedserver import netguard
from feedserver.domain import events, schemas
from feedserver.domain.inputs import Body
from feedserver.errors import InvalidInput, NotFound
from feedserver.model import Webhook, WebhookDelivery
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.times import utcnow
from feedserver.tokens.credentials import CredentialBox

ROTATION = timedelta(hours=24)
MAX_WEBHOOKS = 50
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


@dataclass(frozen=True)
class Made:
    """An endpoint and its new secret (shown this once)."""

    webhook: Webhook
    secret: str


def _url(value: str, allow_private: bool) -> str:
    if not value.isprintable() or " " in value:
        raise InvalidInput("url must not contain spaces or control characters", field="url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http or https address", field="url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry a user name or password", field="url")
    if parts.fragment:
        raise InvalidInput("url must not have a #fragment", field="url")
    if not allow_private and netguard.literal_private(value):
        raise InvalidInput(
            f"{parts.hostname} is a private address; webhooks reach only public ones "
            "(webhooks.allow_private_networks)",
            field="url",
        )
    return value


def get(store: Store, webhook_id: int) -> Webhook:
    found = store.webhooks.get(webhook_id)
    if found is None:
        raise NotFound(f"no webhook {webhook_id}")
    return found


def create(store: Store, data: object, box: CredentialBox, allow_private: bool) -> Made:
    body = Body(data, schemas.WEBHOOK)
    url = _url(body.text("url", required=True), allow_private)
    secret = new_secret()
    with store.transaction():
        if len(store.webhooks.list()) >= MAX_WEBHOOKS:
            raise InvalidInput(f"at most {MAX_WEBHOOKS} webhooks", field="url")
        made = store.webhooks.create(
            url, body.text("description"), tuple(body.texts("events") or ()), box.seal(secret)
        )
        if body.flag("enabled", default=True) is False:
            made = store.webhooks.update(replace(made, enabled=False, disabled_reason="paused"))
    return Made(made, secret)


def update(store: Store, webhook_id: int, data: object, allow_private: bool) -> Webhook:
    body = Body(data, schemas.WEBHOOK_PATCH)
    with store.transaction():
        webhook = get(store, webhook_id)
        if "url" in body:
            webhook = replace(webhook, url=_url(body.text("url", required=True), allow_private))
        if "description" in body:
            webhook = replace(webhook, description=body.text("description"))
        if "events" in body:
            webhook = replace(webhook, event_types=tuple(body.texts("events") or ()))
        if body.raw("enabled") is not None:
            enabled = body.flag("enabled")
            webhook = replace(webhook, enabled=enabled, disabled_reason="" if enabled else "paused")
        return store.webhooks.update(webhook)


def disable(store: Store, webhook_id: int, reason: str) -> None:
    """Stop delivering to an endpoint (it answered 410 Gone); its deliveries wait."""
    with store.transaction():
        webhook = store.webhooks.get(webhook_id)
        if webhook is not None and webhook.enabled:
            store.webhooks.update(replace(webhook, enabled=False, disabled_reason=reason))


def rotate_secret(store: Store, webhook_id: int, box: CredentialBox) -> Made:
    """A new secret; the old one still signs for ``ROTATION``."""
    secret = new_secret()
    with store.transaction():
        webhook = get(store, webhook_id)
        rotated = replace(
            webhook,
            secret=box.seal(secret),
            previous_secret=webhook.secret,
            previous_until=utcnow() + ROTATION,
        )
        return Made(store.webhooks.update(rotated), secret)


def signing_secrets(webhook: Webhook, box: CredentialBox, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the one before it
    while the rotation lasts."""
    found = [box.open(webhook.secret)]
    if webhook.previous_secret and webhook.previous_until and webhook.previous_until > now:
        found.append(box.open(webhook.previous_secret))
    return found


def delete(store: Store, webhook_id: int) -> None:
    with store.transaction():
        get(store, webhook_id)
        store.webhooks.delete(webhook_id)


def deliveries(store: Store, webhook_id: int, params: dict[str, str]) -> list[WebhookDelivery]:
    """Newest first: ``status`` filters, ``limit`` (1 to 500), ``before`` (a delivery id)
    pages."""
    status = params.get("status") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status is one of {', '.join(DELIVERY_STATUSES)}", field="status")
    limit = params.get("limit", "100")
    if not is_whole(limit) or not 1 <= int(limit) <= 500:
        raise InvalidInput("limit must be 1 to 500", field="limit")
    before = params.get("before")
    if before is not None and (not is_whole(before) or len(before) > 18):
        raise InvalidInput("before must be a delivery id", field="before")
    get(store, webhook_id)
    return store.webhooks.deliveries(
        webhook_id, status, int(limit), int(before) if before is not None else None
    )


def delivery(store: Store, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    found = store.webhooks.delivery(delivery_id)
    if found is None or found.webhook_id != webhook_id:
        raise NotFound(f"no delivery {delivery_id} of webhook {webhook_id}")
    return found


def redeliver(store: Store, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again, now (delivered or failed ones too: the receiver asked)."""
    with store.transaction():
        delivery(store, webhook_id, delivery_id)
        store.webhooks.redeliver(delivery_id)
        return delivery(store, webhook_id, delivery_id)


def test(store: Store, webhook_id: int) -> int:
    """Queue a ``webhook.test`` event for this endpoint alone; its delivery's id."""
    with store.transaction():
        webhook = get(store, webhook_id)
        event = events.record(
            store,
            events.TEST_EVENT,
            f"webhook {webhook.id}",
            events.API,
            {"webhook": {"id": webhook.id, "url": webhook.url}},
        )
        store.webhooks.enqueue([webhook.id], event)
        found = store.webhooks.deliveries(webhook.id, None, 1, None)
        return found[0].id
