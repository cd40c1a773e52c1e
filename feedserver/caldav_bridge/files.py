"""Copying Radicale's storage (the calendars people made themselves) for backups, under
Radicale's own storage lock: a running server's writes wait for the copy, reads go on."""

from __future__ import annotations

import shutil
from pathlib import Path

from radicale.pathutils import RwLock

LOCK = ".Radicale.lock"


def copy_storage(folder: Path, destination: Path) -> int:
    """Copy the storage ``folder`` to ``destination`` (which must not exist) while holding
    Radicale's shared storage lock; returns the number of files copied. Radicale's caches and
    lock files are left out: Radicale rebuilds them."""
    if not folder.exists():
        destination.mkdir(parents=True)
        return 0
    lock = RwLock(str(folder / LOCK))
    with lock.acquire("r"):
        shutil.copytree(
            folder,
            destination,
            ignore=shutil.ignore_patterns(".Radicale.cache", ".Radicale.lock*", ".Radicale.tmp-*"),
        )
    return sum(1 for p in destination.rglob("*") if p.is_file())
