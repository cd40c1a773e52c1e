"""A throwaway PostgreSQL cluster for the tests: Debian's binaries, ``initdb`` and ``pg_ctl``
in a temporary folder, listening on loopback only, run as a non-root user when the tests run
as root (PostgreSQL refuses root). Each test gets a database of its own, copied from a
template that already holds feedserver's schema (``CREATE DATABASE … TEMPLATE``).

Also usable by hand: ``python -m tests.pg`` starts a cluster and prints the URL of an empty
database; ``--durable`` keeps PostgreSQL's default durability (fsync, synchronous commits),
which the tests turn off for speed and a benchmark must not.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from feedserver.store import Store
from tests.process import free_port

USER = "feedserver"
TEMPLATE = "feedserver_template"


def binaries() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class Cluster:
    """A PostgreSQL server of its own, stopped and deleted by ``stop``."""

    def __init__(self, durable: bool = False) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL is not installed: apt-get install postgresql (make test does)"
            )
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="feedserver-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._counter = itertools.count(1)
        self._released: list[str] = []  # databases of finished tests, dropped at the next
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c max_connections=200 "
        )
        if durable:
            options += "-c shared_buffers=512MB"
        else:
            options += (
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c shared_buffers=64MB"
            )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w",
            "start",
        )
        self.admin = psycopg.connect(self.url("postgres"), autocommit=True)
        self.admin.execute(f"CREATE DATABASE {TEMPLATE}")
        Store(self.url(TEMPLATE)).close()  # the schema, once; every test's database copies it
        self.admin.execute(f"CREATE DATABASE {TEMPLATE}_empty")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.folder,
        )

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self, migrated: bool = True) -> str:
        """A new database (with feedserver's schema unless ``migrated`` is False); its URL."""
        for old in self._released:  # the test that had it is over, its app closed
            self.admin.execute(f"DROP DATABASE IF EXISTS {old} WITH (FORCE)")
        self._released.clear()
        name = f"test_{os.getpid()}_{next(self._counter)}"
        template = TEMPLATE if migrated else f"{TEMPLATE}_empty"
        for attempt in range(50):  # the template is busy while another copy is made
            try:
                self.admin.execute(
                    f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
                )
                break
            except psycopg.errors.ObjectInUse:
                time.sleep(0.05 * (attempt + 1))
        return self.url(name)

    def release(self, url: str) -> None:
        """The test that had this database is ending: it is dropped before the next test's is
        made (an app's connections may close after the fixture that made the database)."""
        self._released.append(url.rsplit("/", 1)[1])

    def stop(self) -> None:
        self.admin.close()
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    import sys

    cluster = Cluster(durable="--durable" in sys.argv)
    print(cluster.database(migrated=False), flush=True)
    print("Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()
