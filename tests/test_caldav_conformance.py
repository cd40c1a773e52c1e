"""caldav-server-tester (the caldav library's server checker) against a running feedserver."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from feedserver.config import Config
from feedserver.domain import accounts
from feedserver.store import Store
from tests.conftest import store_env
from tests.process import serve

EXPECTED_FULL = {
    "save.no-uid-conflict",  # RFC 4791 5.3.2.1, through feedserver's UID index
    "synchronous-write",
    "search.time-range.comp-type-optional",
    "auth.www-authenticate",
    "auth.www-authenticate.usable-scheme",
    "create-calendar.with-supported-component-types",
}


def test_caldav_server_tester_finds_nothing_broken(tmp_path: Path, config: Config) -> None:
    data = tmp_path / "data"
    store = Store(config.database_url)
    accounts.create_user(
        store,
        {
            "email": "tester@example.org",
            "name": "Tester",
            "role": "staff",
            "password": "tester-password",
        },
    )
    store.close()
    tester = shutil.which("caldav-server-tester", path=str(Path(sys.executable).parent))
    assert tester, "caldav-server-tester is a test dependency"
    with serve(data, store_env(config)) as (base, _):
        result = subprocess.run(
            [
                tester,
                "--verbose",
                "--format",
                "json",
                "--caldav-url",
                f"{base}/dav/",
                "--caldav-username",
                "tester@example.org",
                "--caldav-password",
                "tester-password",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    features = json.loads(result.stdout)["features"]
    support = {name: value.get("support") for name, value in features.items()}
    assert not [name for name, level in support.items() if level in ("broken", "fragile")]
    assert {name for name in EXPECTED_FULL if support.get(name) == "full"} == EXPECTED_FULL
