"""Schemathesis against a running ``feedserver serve`` (a real process, a real socket), from
the server's own ``/api/openapi.json``: valid and invalid requests to every operation, with a
fixed budget and a fixed seed (``derandomize``) so CI runs the same cases each time.

The rule: no 5xx, ever. Every answer is one the document names for its operation (status code
conformance), with the content type it names, and errors in the documented JSON shape.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.process import serve

TOKEN = "fuzz-admin-token-0123456789abcdef"
BUDGET = 5000  # cases in all, at least
PER_OPERATION = 40  # each of valid and invalid data
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.BasicAuth]]:
    root = tmp_path_factory.mktemp("fuzz")
    env = {
        "FEEDSERVER_SECURITY_ADMIN_TOKEN": TOKEN,
        "FEEDSERVER_BRIDGE_INVITE_ADDRESS": "invite@fuzz.example",
        # Failed sign-ins are part of the fuzz; they must not lock the admin token out.
        "FEEDSERVER_SECURITY_LOGIN_ATTEMPTS": "1000000",
    }
    data = root / "data"
    subprocess.run(
        [sys.executable, "-m", "feedserver", "demo", "--bookings", "30"],
        env={**os.environ, **env, "FEEDSERVER_STORAGE_DATA_DIR": str(data)},
        check=True,
        capture_output=True,
    )
    staff = next(
        line.split()
        for line in (data / "demo-accounts.txt").read_text().splitlines()
        if "@" in line and not line.startswith("#")
    )
    with serve(data, env) as (base, _process):
        yield base, httpx.BasicAuth(staff[0], staff[1])


def _credentials(case: schemathesis.Case[Any], account: httpx.BasicAuth) -> dict[str, str]:
    """The admin token, or a personal account for the operations only accounts may call."""
    security = case.operation.definition.raw.get("security", [])
    if security == [{"basicAuth": []}]:
        return {"Authorization": account._auth_header}
    if security:
        return {"Authorization": f"Bearer {TOKEN}"}
    return {}


def test_the_api_survives_its_own_contract_fuzzed(
    server: tuple[str, httpx.BasicAuth],
) -> None:
    base, account = server
    client = httpx.Client(timeout=30)
    schema = schemathesis.openapi.from_dict(client.get(f"{base}/api/openapi.json").json())
    calls: Counter[str] = Counter()
    failures: dict[tuple[str, int, str], str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 70

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=PER_OPERATION,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case[Any]) -> None:
                sent = case.as_transport_kwargs(base, _credentials(case, account))
                sent.pop("cookies", None)
                response = client.request(**sent)
                calls[f"{response.status_code // 100}xx"] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseExceptionGroup as group:  # reported together, once each
                    for failure in group.exceptions:
                        title = getattr(failure, "title", type(failure).__name__)
                        key = (case.operation.label, response.status_code, title)
                        failures[key] = str(failure)

            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid
                assert mode is GenerationMode.NEGATIVE

    total = sum(calls.values())
    print(f"schemathesis: {total} requests, {dict(calls)}")
    assert not failures, "\n".join(f"{k}: {v[:300]!r}" for k, v in sorted(failures.items()))
    assert calls["5xx"] == 0
    assert total >= BUDGET, calls
