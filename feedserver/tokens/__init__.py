"""Signed tokens for links that are their own credential (feed links, meeting links).

A token is ``<id>.<nonce>.<signature>``: short enough that a feed URL stays far below the 256
characters Google Calendar accepts. It is signed with itsdangerous using
``security.secret_keys``: the first (newest) key signs, every key verifies, so a new key can be
prepended without breaking links. The nonce is stored with the link: rotating a link changes it,
which kills the old token; comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

from itsdangerous import BadSignature, Signer

_PAYLOAD = re.compile(r"^([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{8,32})$")


class InvalidToken(Exception):
    """Tampered, truncated or signed with an unknown key. Callers answer 404, no detail."""


def new_nonce() -> str:
    return secrets.token_urlsafe(8)


class LinkSigner:
    def __init__(self, keys: Sequence[str], purpose: str) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        # itsdangerous signs with the last key; feedserver's configuration lists newest first.
        self._signer = Signer(
            list(reversed(keys)), salt=f"feedserver.{purpose}", digest_method=hashlib.sha256
        )

    def sign(self, link_id: int, nonce: str) -> str:
        return self._signer.sign(f"{link_id}.{nonce}").decode("ascii")

    def unsign(self, token: str) -> tuple[int, str]:
        try:
            payload = self._signer.unsign(token).decode("ascii")
        except (BadSignature, UnicodeError) as exc:
            raise InvalidToken from exc
        match = _PAYLOAD.match(payload)
        if match is None:
            raise InvalidToken
        return int(match.group(1)), match.group(2)


def same_nonce(given: str, stored: str) -> bool:
    return hmac.compare_digest(given.encode(), stored.encode())
