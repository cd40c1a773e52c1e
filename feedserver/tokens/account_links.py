"""Time-limited, single-use links that let a person set their password (an invitation or a
"forgot password" reset).

The token is an itsdangerous timed signature of ``[user id, fingerprint]`` where the
fingerprint is a digest of the user's current password hash: setting a password changes the
hash, so a used link (and every older one) stops working at once; no table of used tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from feedserver.tokens import InvalidToken


class LinkExpired(InvalidToken):
    """A well-signed link older than its lifetime."""


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256(f"feedserver.password:{password_hash or ''}".encode()).hexdigest()[:24]


class AccountLinks:
    def __init__(self, keys: Sequence[str], purpose: str, max_age_seconds: int) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self.max_age = max_age_seconds
        # itsdangerous signs with the last key; feedserver's configuration lists newest first.
        self._serializer = URLSafeTimedSerializer(
            list(reversed(keys)), salt=f"feedserver.account-link.{purpose}"
        )

    def make(self, user_id: int, password_hash: str | None) -> str:
        return str(self._serializer.dumps([user_id, fingerprint(password_hash)]))

    def user_id(self, token: str) -> tuple[int, str]:
        """(user id, fingerprint) of a valid, unexpired token; InvalidToken otherwise."""
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired as exc:
            raise LinkExpired from exc
        except BadSignature as exc:
            raise InvalidToken from exc
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], int)
            or not isinstance(payload[1], str)
        ):
            raise InvalidToken
        return payload[0], payload[1]

    @staticmethod
    def still_valid(expected: str, password_hash: str | None) -> bool:
        """Whether a token's fingerprint matches the current password hash (unused link)."""
        return hmac.compare_digest(expected, fingerprint(password_hash))
