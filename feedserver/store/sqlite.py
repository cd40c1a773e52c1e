"""The embedded backend: one SQLite file (WAL mode, foreign keys, explicit transactions),
through the standard library's ``sqlite3`` (and sqlite-utils for listing tables)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from feedserver.store.db import ConstraintViolation, Database, Result, StoreUnavailable


class SqliteDatabase(Database):
    backend = "sqlite"

    def __init__(self, path: Path | str, copy_of: Path | str | None = None) -> None:
        """The database at ``path``; with ``copy_of`` (and ``path`` ":memory:"), a private
        copy of that database in memory (an import's dry run)."""
        self.path = str(path)
        self.location = self.path
        try:
            if self.path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
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
            if self.path != ":memory:":
                self.utils.enable_wal()
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite database {self.path}: {exc}") from exc
        self._depth = 0  # savepoints open

    @property
    def conn(self) -> sqlite3.Connection:
        return self.utils.conn

    def snapshot(self, path: Path) -> None:
        """A consistent copy into the new file ``path`` (SQLite's online backup: writers go
        on meanwhile; the copy is the database at one moment)."""
        target = sqlite3.connect(path)
        try:
            self.conn.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self.conn.close()

    def integrity(self) -> str:
        return str(self.scalar("PRAGMA integrity_check"))

    def table_names(self) -> list[str]:
        return list(self.utils.table_names())

    def columns(self, table: str) -> list[str]:
        return [r["name"] for r in self.rows(f"PRAGMA table_info({table})")]

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql)

    def insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.executemany(sql, rows)

    def copy_rows(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.insert_many(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
            rows,
        )

    def analyze(self, tables: Sequence[str]) -> None:
        """Nothing: SQLite's planner does well without statistics here, and ANALYZE would
        change its plans from one import to the next."""

    def after_copy(self, tables: Sequence[str]) -> None:
        """Nothing: SQLite's next id follows the highest one written."""

    def run_ddl(self, statement: str) -> None:
        self.conn.execute(statement)

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

    def _run(self, sql: str, params: Any) -> Result | None:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc
        except OverflowError:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                return None
            raise
