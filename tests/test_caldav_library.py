"""The caldav library's own functional tests (``tests/test_caldav.py`` of its source
distribution, the version installed here) against a running feedserver.

The library's test framework takes a server of type ``external`` from
``tests/caldav_test_servers.json``, with the server's features: Radicale's profile (feedserver
embeds Radicale), plus what feedserver does better (``If-Match: *``, case-sensitive text
search) and that every account already has a calendar (its read-only ``bookings``).
The source distribution is fetched once from the package index into the virtualenv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

from feedserver.config import Config
from feedserver.domain import accounts
from feedserver.store import Store
from tests.conftest import store_env
from tests.process import serve

FEATURES = {
    "base": "radicale",
    "search.text.case-sensitive": {"support": "full"},
    "save-load.mutable.if-match-wildcard": {"support": "full"},
    "get-current-user-principal.has-calendar": {"value": True},
}


def caldav_sdist() -> Path:
    """The caldav source distribution of the installed version (downloaded once)."""
    release = version("caldav")
    cache = Path(sys.prefix) / "caldav-sdist"
    found = sorted(cache.glob(f"caldav-{release}.tar.gz"))
    if not found:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", "--dest", str(cache), f"caldav=={release}"),
            ],
            check=True,
            timeout=300,
        )
        found = sorted(cache.glob(f"caldav-{release}.tar.gz"))
    assert found, f"pip did not fetch caldav {release}'s source distribution"
    return found[0]


def test_the_caldav_librarys_functional_tests_pass(tmp_path: Path, config: Config) -> None:
    source = caldav_sdist()
    with tarfile.open(source) as archive:
        archive.extractall(tmp_path, filter="data")
    tree = tmp_path / source.name.removesuffix(".tar.gz")
    data = tmp_path / "data"
    store = Store(config.database_url)
    accounts.create_user(
        store,
        {"email": "lib@example.org", "name": "Library", "role": "staff", "password": "lib-pass-1"},
    )
    store.close()
    with serve(data, store_env(config)) as (base, _):
        servers = {
            "test-servers": {
                "feedserver": {
                    "type": "external",
                    "enabled": True,
                    "url": f"{base}/dav/",
                    "username": "lib@example.org",
                    "password": "lib-pass-1",
                    "features": FEATURES,
                }
            }
        }
        (tree / "tests" / "caldav_test_servers.json").write_text(json.dumps(servers))
        result = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "tests/test_caldav.py", "-v", "-rs"),
                *("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"),
                # The library's checks of its own embedded Xandikos (installed for the
                # write-through tests) are not about the server tested here.
                *("--deselect", "tests/test_caldav.py::TestGetDAVClient::testAutoEmbeddedServer"),
                "--deselect",
                "tests/test_caldav.py::TestGetCalendarsConfig::test_multi_server_meta_section",
            ],
            cwd=tree,
            env={
                **os.environ,
                "PYTHON_CALDAV_TEST_EMBEDDED": "0",  # only feedserver: not Radicale, Xandikos
                "PYTHON_CALDAV_TEST_DOCKER": "0",
                "TMPDIR": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = re.findall(r"TestForServerfeedserver::\S+ PASSED", result.stdout)
    assert len(passed) >= 55, result.stdout[-3000:]  # 61 of its 69 tests with caldav 3.6
