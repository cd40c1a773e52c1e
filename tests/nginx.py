"""Debian's nginx on loopback, for the tests and the benchmarks: the reference configuration
(``config/deploy/nginx.conf``) with its nodes, port and cache folder replaced, or any other
site, inside a main configuration that keeps every file in one folder (no root needed)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "config" / "deploy" / "nginx.conf"
BINARY = shutil.which("nginx") or "/usr/sbin/nginx"


def installed() -> bool:
    return Path(BINARY).exists()


def reference_site(root: Path, upstreams: list[int], listen: int) -> str:
    """The reference configuration in front of the feedserver nodes on ``upstreams``."""
    site = REFERENCE.read_text()
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in upstreams
    )
    site = re.sub(r"(    server 127\.0\.0\.1:\d+ [^\n]*\n)+", servers, site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    return site.replace("/var/cache/nginx/feedserver", str(root / "cache"))


def configuration(root: Path, site: str) -> Path:
    """A main configuration in ``root`` (one worker process) serving ``site``."""
    root.mkdir(parents=True, exist_ok=True)
    temp = "".join(
        f"    {kind}_temp_path {root / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "site.conf").write_text(site)
    conf = root / "nginx.conf"
    conf.write_text(
        "daemon off;\nworker_processes 1;\n"
        f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'} warn;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + "events { worker_connections 4096; }\n"
        + f"http {{\n    access_log off;\n{temp}    include {root / 'site.conf'};\n}}\n"
    )
    return conf


@contextmanager
def running(conf: Path) -> Iterator[subprocess.Popen[bytes]]:
    """nginx with ``conf`` until the block ends (then a graceful stop)."""
    root = conf.parent
    process = subprocess.Popen(
        [BINARY, "-c", str(conf), "-p", str(root), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(0.3)
        if process.poll() is not None:
            raise RuntimeError((root / "error.log").read_text())
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
