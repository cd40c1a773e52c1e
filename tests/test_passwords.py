from feedserver.passwords import hash_password, verify_password


def test_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_password("correct horse", first)
    assert not verify_password("correct horsf", first)


def test_missing_or_garbled_hash_never_verifies() -> None:
    assert not verify_password("x", None)
    assert not verify_password("x", "scrypt$garbage")
    assert not verify_password("x", "md5$1$2$3$4$5")
