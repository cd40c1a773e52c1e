"""The database contract the per-table stores speak, and the choice of backend by URL.

Every statement is written once, in the SQL that SQLite and PostgreSQL share, with ``?``
placeholders (or ``:name`` with a dict); each backend (``sqlite.py``, ``postgres.py``) turns
that into what its driver takes. What the two do not share is kept small and in one place: the
DDL of the migrations (``dialects.py``), the backup of a database, the integrity check.

Both backends store the same values: UTC instants as fixed-width ISO 8601 text ending in
``Z`` (so that text order is time order on either), flags as 0/1 integers, ids and counts as
64-bit integers, raw bytes as bytes; text compares byte-wise (PostgreSQL's "C" collation) and
emails ignore ASCII case on both (``COLLATE NOCASE``; ``citext`` under "C").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from feedserver.errors import NotFound
from feedserver.store.migrations import MIGRATIONS, Migration
from feedserver.store.values import to_db
from feedserver.times import utcnow

Row = dict[str, Any]
T = TypeVar("T")


def found(value: T | None, what: str) -> T:
    """``value``, or ``NotFound`` naming ``what``: for a row asked for by id, or just written."""
    if value is None:
        raise NotFound(f"no {what}")
    return value


class Result(Protocol):
    """What a statement gives back, on either backend."""

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...

    def fetchone(self) -> Sequence[Any] | None: ...


class ConstraintViolation(Exception):
    """A write broke a constraint of the schema (a unique key, a CHECK, a foreign key): a bug
    the domain's checks should have caught first, named the same on either backend."""


class StoreUnavailable(Exception):
    """The database cannot be opened or reached (a wrong URL, a server down, a bad file)."""


@dataclass(frozen=True)
class DatabaseURL:
    """Where the store lives: ``sqlite:///path`` (or a bare path) or ``postgresql://…``."""

    backend: str  # "sqlite" or "postgresql"
    target: str  # the SQLite file path, or the PostgreSQL connection URL

    @classmethod
    def parse(cls, value: str | Path) -> DatabaseURL:
        text = str(value)
        if text.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", text)
        if text.startswith("sqlite://"):
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise ValueError(f"a sqlite URL names a file, not a host: {text!r}")
            path = unquote(parts.path)
            # sqlite:///relative/file.db is relative; sqlite:////abs/file.db is absolute
            return cls("sqlite", path[1:] if path.startswith("/") else path)
        if "://" in text:
            scheme = text.split("://", 1)[0]
            raise ValueError(
                f"unknown database URL scheme {scheme!r}: use sqlite:///path/file.db or "
                "postgresql://user@host/database"
            )
        return cls("sqlite", text)

    @property
    def display(self) -> str:
        """The URL without its password, for logs and messages."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        host = parts.hostname or ""
        user = parts.username or ""
        port = f":{parts.port}" if parts.port else ""
        return parts._replace(netloc=f"{user}:***@{host}{port}").geturl()


class Database(ABC):
    """One connection, used by one thread at a time (``StoreRunner`` guarantees it)."""

    backend: str
    location: str  # for logs and messages: the file, or the URL without its password

    @abstractmethod
    def _run(self, sql: str, params: Any) -> Result | None:
        """Run one statement; None for a read whose parameters no row can match (an integer
        beyond 64 bits, from a client such as /api/bookings/18446744073709551616)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A transaction; nested blocks become savepoints."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def integrity(self) -> str:
        """"ok", or what is wrong with the database."""

    @abstractmethod
    def run_ddl(self, statement: str) -> None:
        """One schema statement of a migration, in this backend's dialect."""

    @abstractmethod
    def table_names(self) -> list[str]: ...

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """The table's columns, in their order."""

    @abstractmethod
    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """The rows of a read, without holding them all (a whole table's copy)."""

    @abstractmethod
    def insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement for many rows, sent together."""

    @abstractmethod
    def copy_rows(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Many new rows of one table at once, the fastest way the backend has (names come
        from code, never from input)."""

    @abstractmethod
    def after_copy(self, tables: Sequence[str]) -> None:
        """After rows were written with their ids: what generates the next id must start
        after them (PostgreSQL's identity sequences; SQLite needs nothing)."""

    @abstractmethod
    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics of ``tables``."""

    def begin_scratch(self) -> None:
        """Open a transaction that closing the database rolls back (a dry run's)."""
        raise NotImplementedError(f"{self.backend} copies the database for a dry run instead")

    # -- shared by both -------------------------------------------------------------------

    def rows(self, sql: str, params: Any = ()) -> list[Row]:
        cursor = self._run(sql, params)
        if cursor is None:
            return []
        names = [column[0] for column in getattr(cursor, "description", None) or ()]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def row(self, sql: str, params: Any = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        cursor = self._run(sql, params)
        result = cursor.fetchone() if cursor is not None else None
        return result[0] if result else None

    def execute(self, sql: str, params: Any = ()) -> Result:
        cursor = self._run(sql, params)
        if cursor is None:
            return _Nothing()
        return cursor

    def insert(self, table: str, fields: dict[str, Any]) -> int:
        """Insert one row (column names come from code, never from input); returns its id."""
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        return int(
            self.scalar(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",  # noqa: S608
                tuple(fields.values()),
            )
        )

    def insert_new(self, sql: str, params: Any = ()) -> int | None:
        """An ``INSERT … ON CONFLICT DO NOTHING RETURNING id``: the new row's id, or None
        when a row with the same key was there."""
        value = self.scalar(sql, params)
        return None if value is None else int(value)

    def update(self, table: str, row_id: int, fields: dict[str, Any]) -> None:
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?",  # noqa: S608
            (*fields.values(), row_id),
        )

    # -- migrations -----------------------------------------------------------------------

    def recorded_migrations(self) -> list[int]:
        """The migrations recorded in the database (without creating the record's table)."""
        if "schema_migrations" not in self.table_names():
            return []
        return [r["version"] for r in self.rows("SELECT version FROM schema_migrations")]

    def applied_migrations(self) -> list[int]:
        self.run_ddl(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        return [r["version"] for r in self.rows("SELECT version FROM schema_migrations")]

    def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
        """Apply the migrations not yet recorded, each atomically; returns their versions."""
        with self.transaction():
            done = set(self.applied_migrations())
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            with self.transaction():
                if migration.version in set(self.applied_migrations()):
                    continue  # another process applied it meanwhile
                for statement in migration.for_backend(self.backend):
                    self.run_ddl(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_db(utcnow())),
                )
            applied.append(migration.version)
        return applied


class _Nothing:
    """The result of a statement no row can match."""

    rowcount = 0

    def fetchall(self) -> list[tuple[Any, ...]]:
        return []

    def fetchone(self) -> None:
        return None


def open_database(url: str | Path, copy_of: str | Path | None = None) -> Database:
    """The database at ``url``: a SQLite path or URL, or a PostgreSQL URL. With ``copy_of``
    (SQLite only, ``url`` ":memory:"), a private copy of that database in memory."""
    where = DatabaseURL.parse(url)
    if where.backend == "postgresql":
        from feedserver.store.postgres import PostgresDatabase

        return PostgresDatabase(where.target)
    from feedserver.store.sqlite import SqliteDatabase

    return SqliteDatabase(where.target, copy_of)


def iter_chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
