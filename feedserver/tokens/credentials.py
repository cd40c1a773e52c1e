"""Secrets feedserver must give back to another server (a staff member's CalDAV password for
their own calendar), encrypted at rest with Fernet under keys derived from the instance's
``security.secret_keys``: the first encrypts, every key decrypts (key rotation)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([Fernet(self._derive(key)) for key in keys])

    @staticmethod
    def _derive(key: str) -> bytes:
        digest = hashlib.sha256(f"feedserver.credentials:{key}".encode()).digest()
        return base64.urlsafe_b64encode(digest)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret; ValueError if no key of this instance sealed it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise ValueError("the stored credential cannot be decrypted with these keys") from exc
