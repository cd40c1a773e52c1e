"""Stock CalDAV servers as people's own calendar accounts, as real processes on loopback:
Radicale (HTTP Basic with a password file, each user's own tree) and Xandikos (one
principal, /user/, with a calendar made at start); each can be stopped and started again on
the same port and folder (an outage)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.process import free_port


@dataclass
class CalendarServer:
    kind: str  # radicale | xandikos
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "radicale":
            users = self.folder / "users"
            if not users.exists():
                users.write_text(
                    "".join(f"person{i}:pw{i}\n" for i in range(600)) + "camille:secret\n"
                )
            return [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder",
                str(self.folder / "collections"),
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(users),
                "--auth-htpasswd-encryption",
                "plain",
                "--auth-delay",
                "0",
                "--rights-type",
                "owner_only",
                "--web-type",
                "none",
            ]
        return [
            sys.executable,
            "-m",
            "xandikos",
            "serve",
            "-d",
            str(self.folder / "dav"),
            "--defaults",
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--state-dir",
            str(self.folder / "state"),
            "--no-detect-systemd",
        ]

    def start(self) -> CalendarServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"{self.kind}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/", timeout=1)  # noqa: S310
                return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.kind} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        user: str = "camille",
        password: str = "secret",
    ) -> tuple[int, dict[str, str], bytes]:
        from feedserver.calendar_accounts.access import basic

        sent = {"Authorization": basic(user, password), **(headers or {})}
        request = urllib.request.Request(  # noqa: S310
            self.base + path, data=body, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status), dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), dict(exc.headers), exc.read()

    def events(
        self,
        calendar_path: str,
        user: str = "camille",
        password: str = "secret",
    ) -> dict[str, bytes]:
        """Every item of a calendar: its name and its text."""
        from feedserver.calendar_accounts.dav import multistatus

        body = (
            b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
            b'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop></d:propfind>'
        )
        status, _, answer = self.request(
            "PROPFIND",
            calendar_path,
            body,
            {"Depth": "1", "Content-Type": "application/xml"},
            user,
            password,
        )
        assert status == 207, (status, answer[:300])
        found = {}
        for resource in multistatus(answer, self.base + calendar_path):
            path = resource.href.removeprefix(self.base)
            if path.rstrip("/") == calendar_path.rstrip("/"):
                continue
            code, _, text = self.request("GET", path, None, None, user, password)
            if code == 200:
                found[path.rsplit("/", 1)[-1]] = text
        return found


def radicale(folder: Path) -> CalendarServer:
    return CalendarServer("radicale", folder).start()


def xandikos(folder: Path) -> CalendarServer:
    return CalendarServer("xandikos", folder).start()
