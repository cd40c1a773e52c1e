"""What the processes and nodes sharing one store coordinate through it: leases on work only
one of them may do at a time, counters they all charge (sign-in failures, rate limits), and
the settings they must agree on (the fingerprints of their signing keys)."""

from __future__ import annotations

from datetime import datetime

from feedserver.store.db import Database
from feedserver.store.values import to_db


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Hold the lease ``name`` until ``until``: taken when free, renewed when ``holder``
        has it, taken over when its holder let it run out; False when another holds it."""
        with self.db.transaction():
            taken = self.db.scalar(
                "INSERT INTO job_leases (name, holder, until) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "until = excluded.until "
                "WHERE job_leases.holder = excluded.holder OR job_leases.until < ? "
                "RETURNING name",
                (name, holder, to_db(until), to_db(now)),
            )
        return taken is not None

    def release(self, name: str, holder: str) -> None:
        self.db.execute("DELETE FROM job_leases WHERE name = ? AND holder = ?", (name, holder))

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease now (None: nobody, or it ran out)."""
        value = self.db.scalar(
            "SELECT holder FROM job_leases WHERE name = ? AND until >= ?", (name, to_db(now))
        )
        return None if value is None else str(value)


class LimitStore:
    """Counters by key: a count ``n`` and the time it was last charged (Unix ms)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> tuple[int, int] | None:
        row = self.db.row("SELECT n, at_ms FROM shared_limits WHERE key = ?", (key,))
        return None if row is None else (int(row["n"]), int(row["at_ms"]))

    def put(self, key: str, n: int, at_ms: int) -> None:
        self.db.execute(
            "INSERT INTO shared_limits (key, n, at_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET n = excluded.n, at_ms = excluded.at_ms",
            (key, n, at_ms),
        )

    def drop(self, key: str) -> None:
        self.db.execute("DELETE FROM shared_limits WHERE key = ?", (key,))

    def purge(self, before_ms: int) -> int:
        """Forget the counters last charged before ``before_ms``; how many."""
        return self.db.execute("DELETE FROM shared_limits WHERE at_ms < ?", (before_ms,)).rowcount


class ClusterSettings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> str | None:
        value = self.db.scalar("SELECT value FROM cluster_settings WHERE name = ?", (name,))
        return None if value is None else str(value)

    def put(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO cluster_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
