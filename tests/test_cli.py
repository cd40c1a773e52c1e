"""The administration CLI, run through click on a temporary data directory."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedserver.cli import main
from feedserver.model import Role
from feedserver.store import BookingQuery, Store


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    return invoke


def test_admin_commands_add_and_list(run) -> None:
    assert "ANHQ created" in run(
        "locations", "add", "anhq", "--name", "Annecy HQ", "--timezone", "Europe/Paris"
    )
    assert "ANHQ" in run("locations", "list")
    assert "haircut created" in run(
        "types", "add", "haircut", "--name", "Haircut", "--duration", "45", "--buffer-after", "15"
    )
    assert "<camille@example.org> created" in run(
        "users",
        "add",
        "--email",
        "camille@example.org",
        "--name",
        "Camille",
        "--role",
        "staff",
        "--password",
        "camille-password",
        "--location",
        "ANHQ",
    )
    assert "camille@example.org" in run("users", "list")
    refused = run("locations", "add", "ANHQ", "--name", "Again", "--timezone", "UTC", ok=False)
    assert "Error: location ANHQ already exists" in refused
    refused = run("types", "add", "x", "--name", "X", "--duration", "0", ok=False)
    assert "duration_minutes must be between" in refused


def test_app_passwords_from_the_cli(run) -> None:
    run(
        "users",
        "add",
        "--email",
        "maya@example.org",
        "--name",
        "Maya",
        "--role",
        "staff",
        "--password",
        "maya-password",
    )
    out = run("users", "app-password", "create", "maya@example.org", "--name", "Phone")
    secret = out.strip().splitlines()[-1]
    assert len(secret) >= 24
    listed = run("users", "app-password", "list", "maya@example.org")
    assert "'Phone' active" in listed and secret not in listed
    run("users", "app-password", "revoke", "maya@example.org", "1")
    assert "'Phone' revoked" in run("users", "app-password", "list", "maya@example.org")
    assert "no app password 9" in run(
        "users", "app-password", "revoke", "maya@example.org", "9", ok=False
    )


def test_a_large_demo_adds_staff_and_creates_every_booking(run, tmp_path: Path) -> None:
    """`demo --bookings N` goes through the importer: N single bookings plus three series,
    one more staff member per 1,000 beyond 3,000, and no staff member double-booked."""
    run("init")
    out = run("demo", "--bookings", "3500")
    assert "3503 bookings" in out and "refused" not in out
    store = Store(tmp_path / "data" / "feedserver.db")
    try:
        staff = [u for u in store.users.list() if u.role is Role.STAFF]
        assert len(staff) == 4
        every = store.bookings.list(BookingQuery())
        assert len(every) == 3503
        assert {b.staff_id for b in every} == {u.id for u in staff}
        singles = sorted(
            (b.staff_id, b.start, b.end) for b in every if not b.rrule and not b.all_day
        )
        for (staff_a, _, end_a), (staff_b, start_b, _) in itertools.pairwise(singles):
            assert staff_a != staff_b or end_a <= start_b
    finally:
        store.close()
