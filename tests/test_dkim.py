"""The optional DKIM check of emailed invitations (bridge.require_dkim)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from feedserver.inbound.mail import dkim_valid

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _signed(pem: bytes, domain: bytes) -> bytes:
    raw = (DATA / "google_invite_anhq.eml").read_bytes().replace(b"\n", b"\r\n")
    signature = dkim.sign(
        raw, b"sel", domain, pem, include_headers=[b"from", b"subject", b"date", b"to"]
    )
    return bytes(signature) + raw


def _dns(record: bytes) -> Any:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return record if name.startswith(b"sel._domainkey.") else b""

    return lookup


def test_valid_signature_of_the_from_domain(keys: tuple[bytes, bytes]) -> None:
    pem, record = keys
    assert dkim_valid(_signed(pem, b"example.org"), "camille@example.org", _dns(record))


def test_tampered_unsigned_or_foreign_signatures_fail(keys: tuple[bytes, bytes]) -> None:
    pem, record = keys
    signed = _signed(pem, b"example.org")
    tampered = signed.replace(b"Subject: Invitation", b"Subject: Forged")
    assert not dkim_valid(tampered, "camille@example.org", _dns(record))
    raw = (DATA / "google_invite_anhq.eml").read_bytes()
    assert not dkim_valid(raw, "camille@example.org", _dns(record))
    other_domain = _signed(pem, b"mallory.example")
    assert not dkim_valid(other_domain, "camille@example.org", _dns(record))
