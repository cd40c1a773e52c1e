"""The SQLite connection: WAL mode, foreign keys, explicit transactions, migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from feedserver.errors import NotFound
from feedserver.store.migrations import MIGRATIONS, Migration
from feedserver.times import to_db, utcnow

Row = dict[str, Any]
T = TypeVar("T")


def found(value: T | None, what: str) -> T:
    """``value``, or ``NotFound`` naming ``what``: for a row asked for by id, or just written."""
    if value is None:
        raise NotFound(f"no {what}")
    return value


class Database:
    """One connection, used by one thread at a time (``StoreRunner`` guarantees it)."""

    def __init__(self, path: Path | str, copy_of: Path | str | None = None) -> None:
        """The database at ``path``; with ``copy_of`` (and ``path`` ":memory:"), a private
        copy of that database in memory (an import's dry run)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        if copy_of is not None:
            source = sqlite3.connect(str(copy_of))
            try:
                source.backup(conn)
            finally:
                source.close()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: index pages of 100,000 bookings
        self.utils = sqlite_utils.Database(conn)
        if str(path) != ":memory:":
            self.utils.enable_wal()
            conn.execute("PRAGMA synchronous = NORMAL")
        self._depth = 0  # savepoints open

    def snapshot(self, path: Path) -> None:
        target = sqlite3.connect(path)
        try:
            self.conn.backup(target)
        finally:
            target.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.utils.conn

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; nested blocks become savepoints."""
        if self.conn.in_transaction:
            # Named by depth, so the same few statements are reused (SQLite's statement
            # cache) rather than parsed for every savepoint; an inner name hides an outer.
            self._depth += 1
            name = f"sp{self._depth}"
            try:
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self.conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _query(self, sql: str, params: Any) -> sqlite3.Cursor | None:
        """A read; None when a parameter is an integer beyond SQLite's 64 bits (an id or
        number no row can have: a client's, such as /api/bookings/18446744073709551616)."""
        try:
            return self.conn.execute(sql, params)
        except OverflowError:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                return None
            raise

    def rows(self, sql: str, params: Any = ()) -> list[Row]:
        cursor = self._query(sql, params)
        if cursor is None:
            return []
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def row(self, sql: str, params: Any = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        cursor = self._query(sql, params)
        result = cursor.fetchone() if cursor is not None else None
        return result[0] if result else None

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert(self, table: str, fields: dict[str, Any]) -> int:
        """Insert one row (column names come from code, never from input); returns its id."""
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cursor = self.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
            tuple(fields.values()),
        )
        return int(cursor.lastrowid or 0)

    def update(self, table: str, row_id: int, fields: dict[str, Any]) -> None:
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?",  # noqa: S608
            (*fields.values(), row_id),
        )

    # -- migrations -----------------------------------------------------------------------

    def applied_migrations(self) -> list[int]:
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        return [r["version"] for r in self.rows("SELECT version FROM schema_migrations")]

    def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
        """Apply the migrations not yet recorded, each atomically; returns their versions."""
        done = set(self.applied_migrations())
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            with self.transaction():
                for statement in migration.statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_db(utcnow())),
                )
            applied.append(migration.version)
        return applied
