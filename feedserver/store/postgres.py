"""The PostgreSQL backend, through psycopg 3 (synchronous: the store runs on its own thread).

One connection in autocommit mode, with explicit ``BEGIN``/``COMMIT`` and savepoints, as the
SQLite backend does, so both run the same transactions. psycopg prepares a statement on the
server after a few uses, so the hot reads (a feed's keys, a CalDAV listing) are planned once.

Values are the SQLite backend's: flags are sent as 0/1 integers (the columns are BIGINT), text
the stores wrote with ``?`` placeholders is rewritten once (``dialects.placeholders``).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import Format
from psycopg.types.numeric import Int8Dumper

from feedserver.errors import InvalidInput
from feedserver.store.db import (
    ConstraintViolation,
    Database,
    DatabaseURL,
    Result,
    StoreUnavailable,
)
from feedserver.store.dialects import ddl, placeholders
from feedserver.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

_INT8 = 20
CHANNEL = "feedserver_changes"  # what the changes trigger notifies (migration 18)
# The advisory lock every write transaction holds until it ends (7261 is the migrations').
WRITER_LOCK = 7262
_BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})".encode()
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
# A write waiting longer than this for its turn fails (503) rather than hanging.
_LOCK_TIMEOUT = b"SET lock_timeout = '60s'"


class _FlagDumper(Dumper):
    """True and False as the 0/1 the flag columns hold (as SQLite stores them)."""

    oid = _INT8
    format = Format.TEXT

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


_INT64 = range(-(2**63), 2**63)


def _unstorable(params: Any) -> str:
    """What no row can hold, among the parameters: an integer beyond 64 bits, or text with
    a NUL character (PostgreSQL's text cannot hold one); "" when there is none."""
    values = params.values() if isinstance(params, dict) else params or ()
    for value in values:
        if type(value) is int and value not in _INT64:
            return "an integer beyond 64 bits"
        if type(value) is str and "\x00" in value:
            return "text with a NUL character"
    return ""


class PostgresDatabase(Database):
    backend = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = DatabaseURL.parse(url).display
        self._sql: dict[tuple[str, bool], str] = {}  # statements rewritten for psycopg
        self._depth = 0  # transactions and savepoints open
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            conn.execute(_LOCK_TIMEOUT)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
        conn.adapters.register_dumper(bool, _FlagDumper)
        # Every int as a 64-bit integer (what the columns hold), whatever its size.
        conn.adapters.register_dumper(int, Int8Dumper)
        return conn

    def _usable(self) -> None:
        """Between transactions: a connection the server dropped (a restart, a failover of
        the database) is opened again, so the store answers again once PostgreSQL does."""
        if self._depth == 0 and self.conn.broken:
            self.conn = self._connect()

    def close(self) -> None:
        self.conn.close()  # a transaction still open (a dry run's) is rolled back

    def set_aside(self, name: str) -> None:
        """Move feedserver's tables and functions into a new schema ``name``, leaving the
        current one empty: what a restore does with the data it replaces (kept, not
        deleted). Extensions (citext) stay where they are."""
        functions = self.rows(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'feedserver_%'"
        )
        with self.transaction():
            self.conn.execute(f'CREATE SCHEMA "{name}"'.encode())
            for table in self.table_names():
                self.conn.execute(f'ALTER TABLE "{table}" SET SCHEMA "{name}"'.encode())
            for function in functions:
                self.conn.execute(
                    f'ALTER FUNCTION "{function["proname"]}"() SET SCHEMA "{name}"'.encode()
                )
        self._sql.clear()

    def drop_schema(self, name: str) -> None:
        """Drop a schema ``set_aside`` made (when what it holds is empty)."""
        self.conn.execute(f'DROP SCHEMA "{name}" CASCADE'.encode())

    @contextmanager
    def exported_snapshot(self) -> Iterator[str]:
        """A read-only transaction whose snapshot other sessions may share (``pg_dump
        --snapshot``): what it reads and what they dump are the database at one moment."""
        self.conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._depth = 1
        try:
            yield str(self.scalar("SELECT pg_export_snapshot()"))
        finally:
            self._depth = 0
            self.conn.execute(b"COMMIT")

    def analyze(self, tables: Sequence[str]) -> None:
        if self._depth == 0:
            self.conn.execute(f"ANALYZE {', '.join(tables)}".encode())

    def begin_scratch(self) -> None:
        self.conn.execute(b"BEGIN")
        self._depth = 1

    def integrity(self) -> str:
        """PostgreSQL keeps its own files consistent; what is checked here is that the schema
        is feedserver's and complete."""
        missing = {"bookings", "changes", "users", "schema_migrations"} - set(self.table_names())
        return "ok" if not missing else f"tables missing: {', '.join(sorted(missing))}"

    def table_names(self) -> list[str]:
        rows = self.rows(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        )
        return [r["table_name"] for r in rows]

    def columns(self, table: str) -> list[str]:
        rows = self.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [r["column_name"] for r in rows]

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            yield from cursor.stream(sql.encode())

    def insert_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cursor:
            cursor.executemany(placeholders(sql, named=False).encode(), rows)

    def copy_rows(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """``COPY … FROM STDIN``: one statement streaming every row."""
        if not rows:
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        try:
            with self.conn.cursor() as cursor, cursor.copy(statement.encode()) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc

    def after_copy(self, tables: Sequence[str]) -> None:
        for table in tables:
            for column in {"id", "version"} & set(self.columns(table)):
                sequence = self.scalar("SELECT pg_get_serial_sequence(?, ?)", (table, column))
                if sequence:
                    self.execute(
                        f"SELECT setval(?, COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, "  # noqa: S608
                        "false)",
                        (sequence,),
                    )

    def run_ddl(self, statement: str) -> None:
        self.conn.execute(ddl(statement).encode())

    def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
        """As on SQLite, with the extension for case-insensitive emails first; nodes that
        start together take turns (an advisory lock held while migrating)."""
        try:
            self.conn.execute(b"CREATE EXTENSION IF NOT EXISTS citext")
            self.conn.execute(b"SELECT pg_advisory_lock(7261)")
            try:
                return super().migrate(migrations)
            finally:
                self.conn.execute(b"SELECT pg_advisory_unlock(7261)")
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot prepare the PostgreSQL database: {exc}") from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailable(
                f"the PostgreSQL user may not create feedserver's tables: {exc}"
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN`` ... ``COMMIT``; nested blocks become savepoints."""
        if self._depth:
            name = f"sp{self._depth}"
            self._depth += 1
            try:
                self.conn.execute(f"SAVEPOINT {name}".encode())
                try:
                    yield
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}".encode())
                    self.conn.execute(f"RELEASE SAVEPOINT {name}".encode())
                    raise
                self.conn.execute(f"RELEASE SAVEPOINT {name}".encode())
            finally:
                self._depth -= 1
            return
        self._usable()
        # Writers take turns, as on SQLite (BEGIN IMMEDIATE), across every process and node:
        # change versions are then committed in order (a reader of the change log never
        # skips one committed late), new ids are one more than the highest, and a check
        # (an overlap, a claim) holds until the commit.
        self.conn.execute(_BEGIN_WRITE)
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if not self.conn.closed and not self.conn.broken:
                self.conn.execute(b"ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute(b"COMMIT")

    def _run(self, sql: str, params: Any) -> Result | None:
        unstorable = _unstorable(params)
        if unstorable:
            # A read that names such a value matches no row (it is never sent, so an open
            # transaction goes on), as on SQLite; a write of one is refused (the domain's
            # checks refuse both first: this is the backstop).
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                return None
            raise InvalidInput(f"{unstorable} cannot be stored")
        named = isinstance(params, dict)
        key = (sql, named)
        text = self._sql.get(key)
        if text is None:
            text = self._sql[key] = placeholders(sql, named)
        if self._depth == 0 and not _READ.match(sql):
            with self.transaction():  # a write on its own takes its turn too
                return self._send(text, params)
        self._usable()
        return self._send(text, params)

    def _send(self, text: str, params: Any) -> Result:
        try:
            return self.conn.execute(text.encode(), params)
        except psycopg.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc
        except psycopg.errors.LockNotAvailable as exc:
            raise StoreUnavailable("busy: a write waited too long for its turn") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL does not answer: {exc}".strip()) from exc


def create_database(url: str) -> bool:
    """Create the database ``url`` names when it does not exist (connecting to the server's
    ``postgres`` database to do so); whether it was created."""
    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or "")
    if not name:
        raise StoreUnavailable("the PostgreSQL URL names no database: postgresql://…/dbname")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10):
            return False
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
    maintenance = make_conninfo(url, dbname="postgres")
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot create the database {name!r}: {exc}".strip()) from exc
    return True


def client_program(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore): on PATH, or in
    Debian's versioned folders (the newest)."""
    found = shutil.which(name)
    if found:
        return found
    versioned = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if versioned:
        return versioned[-1]
    raise StoreUnavailable(f"{name} is not installed (Debian: apt-get install postgresql-client)")


def _client_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the client programs, the password in the environment
    (PGPASSWORD), never on the command line where ``ps`` shows it."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return [f"--dbname={make_conninfo(**{k: str(v) for k, v in params.items()})}"], env


def dump(url: str, path: Path, snapshot: str | None = None) -> None:
    """``pg_dump --format=custom`` of the database into ``path`` (a consistent snapshot: the
    server goes on meanwhile; ``snapshot``: the one another session exported)."""
    args, env = _client_args(url)
    if snapshot is not None:
        args.append(f"--snapshot={snapshot}")
    _client(
        [client_program("pg_dump"), "--format=custom", "--no-owner", f"--file={path}", *args], env
    )


def check_dump(path: Path) -> None:
    """``pg_restore --list``: the file is a readable dump, or ``StoreUnavailable``."""
    _client([client_program("pg_restore"), "--list", str(path)], dict(os.environ))


def restore_dump(url: str, path: Path) -> None:
    """``pg_restore`` of a dump into the (empty) database at ``url``."""
    args, env = _client_args(url)
    _client(
        [
            client_program("pg_restore"),
            "--no-owner",
            "--no-comments",
            "--exit-on-error",
            "--single-transaction",
            *args,
            str(path),
        ],
        env,
    )


def _client(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        program = Path(command[0]).name
        raise StoreUnavailable(f"{program} failed: {done.stderr.strip() or done.returncode}")


async def follow_changes(url: str, changed: Callable[[], None], retry_seconds: float = 1.0) -> None:
    """Forever: ``LISTEN`` on a connection of its own, and call ``changed`` for each commit
    that logged a change (the changes trigger notifies ``feedserver_changes``), and once each
    time it (re)connects, for what it may have missed. A lost connection is opened again,
    waiting longer each time (up to 30 s); meanwhile the watcher's polling goes on."""
    delay = retry_seconds
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
            async with conn:
                await conn.execute(b"LISTEN " + CHANNEL.encode())
                delay = retry_seconds
                changed()
                async for _ in conn.notifies():
                    changed()
        except psycopg.Error as exc:
            log.warning(
                "listening for other nodes' changes failed; polling meanwhile",
                extra={"error": str(exc).strip(), "retry_seconds": delay},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
