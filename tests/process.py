"""Running ``feedserver serve`` as a real process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 2xx; fail early if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except OSError as exc:
            if (process is not None and process.poll() is not None) or (
                time.monotonic() > deadline
            ):
                raise RuntimeError(f"{url} did not answer") from exc
            time.sleep(0.1)


def spawn(
    data_dir: Path,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """``feedserver serve`` on ``port`` (``args``: more of its options, ``env`` added to
    this environment), its output appended to ``log``; not waited for."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feedserver",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                *(args or []),
            ],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def serve(
    data_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
    args: list[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the server (``args``: more options of ``serve``); yield its base URL once
    /healthz answers; stop it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"serve-{port}.log"
    process = spawn(data_dir, port, log, env, args)
    try:
        try:
            wait_until_up(f"{base}/healthz", timeout, process)
        except RuntimeError as exc:
            raise RuntimeError(log.read_text()) from exc
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)
