"""End to end: `feedserver init`, `demo` and `serve` as real processes, HTTP on a real socket."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.process import serve


def _cli(*args: str, cwd: Path) -> str:
    return subprocess.run(
        [sys.executable, "-m", "feedserver", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def test_init_demo_serve_and_book_over_http(tmp_path: Path) -> None:
    out = _cli("init", cwd=tmp_path)
    token = out.strip().splitlines()[-1]
    assert json.loads((tmp_path / "data" / "secrets.json").read_text())["admin_token"] == token
    assert "already initialised" in _cli("init", cwd=tmp_path)
    assert "bookings" in _cli("demo", "--bookings", "60", cwd=tmp_path)
    assert "already has bookings" in _cli("demo", "--if-empty", cwd=tmp_path)

    with serve(tmp_path / "data") as (base, process):
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base, headers=headers) as http:
            async with http.get("/api/locations") as response:
                assert response.status == 200
                codes = [x["code"] for x in (await response.json())["locations"]]
                assert codes == ["ANHQ", "LYON", "NYC1"]
            async with http.get("/api/bookings?location=ANHQ&status=pending") as response:
                found = (await response.json())["bookings"]
                assert found and all(b["status"] == "pending" for b in found)
            async with http.get("/api/types") as response:
                types = {t["key"]: t for t in (await response.json())["types"]}
                assert types["video-coaching"]["online"] is True
            async with http.get("/api/users?role=staff") as response:
                staff = (await response.json())["users"][0]
            body = {
                "type": "haircut",
                "location": "anhq",
                "staff": staff["email"],
                "start": "2030-01-07T06:00:00+01:00",
            }
            async with http.post("/api/bookings", json=body) as response:
                assert response.status == 201, await response.text()
                booking = await response.json()
            async with http.post("/api/bookings", json=body) as response:
                assert response.status == 409
            async with http.get(f"/api/bookings/{booking['id']}") as response:
                assert (await response.json())["uid"] == booking["uid"]
    assert process.returncode is not None
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert "method=POST path=/api/bookings status=201" in log
    assert token not in log
