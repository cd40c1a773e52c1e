"""Schemathesis against a running ``feedserver serve`` (a real process, a real socket), from
the server's own ``/api/openapi.json``: valid and invalid requests to every operation, with a
fixed budget and a fixed seed (``derandomize``) so CI runs the same cases each time.

The rule: no 5xx, ever. Every answer is one the document names for its operation (status code
conformance), with the content type it names, and errors in the documented JSON shape. A second
run is stateful: it follows the document's links (create a location, then read, change and
delete it; book, then cancel...) with the keys the server answered, so the operations on
things that exist are fuzzed too, not only their 404s.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

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
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.conftest import BACKEND
from tests.process import serve

TOKEN = "fuzz-admin-token-0123456789abcdef"
# Each of valid and invalid data, on SQLite. The PostgreSQL pass does not run this fuzz: its
# cases exercise the request checks, the same code on both backends, while what differs is the
# store, which the hostile values (every field, below) and the stateful chains reach there in
# full; that keeps `make test`, with the cluster's tests, within its time.
PER_OPERATION = 12  # with about 95 operations, two modes each: some 2,200 requests
BUDGET = 150 * PER_OPERATION  # cases in all, at least (1,800)
STATEFUL_SCENARIOS = 300 if BACKEND == "sqlite" else 250  # chains of up to 6 linked calls
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[str, httpx.BasicAuth]]:
    """A server of its own for each run: the stateful run's choices depend on what the server
    answers, so it must start from the same data whatever ran before it (its own store too:
    a SQLite file in its folder, or a new PostgreSQL database)."""
    root = tmp_path_factory.mktemp("fuzz")
    on_postgresql = database_url.startswith("postgresql://")
    env = {
        **({"FEEDSERVER_DATABASE_URL": database_url} if on_postgresql else {}),
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


def _schema(base: str, client: httpx.Client) -> Any:
    return schemathesis.openapi.from_dict(client.get(f"{base}/api/openapi.json").json())


@pytest.mark.skipif(BACKEND == "postgresql", reason="the request checks are the same code")
def test_the_api_survives_its_own_contract_fuzzed(
    server: tuple[str, httpx.BasicAuth],
) -> None:
    base, account = server
    client = httpx.Client(timeout=30)
    schema = _schema(base, client)
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


def test_chained_calls_along_the_documents_links_survive_fuzzing(
    server: tuple[str, httpx.BasicAuth],
) -> None:
    base, account = server
    client = httpx.Client(timeout=30)
    calls: Counter[tuple[str, int]] = Counter()

    def call(
        self: APIStateMachine, case: schemathesis.Case[Any], **kwargs: Any
    ) -> schemathesis.Response:
        sent = case.as_transport_kwargs(base, _credentials(case, account))
        sent.pop("cookies", None)
        response = client.request(**sent)
        calls[(case.operation.label, response.status_code)] += 1
        return schemathesis.Response.from_any(response)

    def validate_response(
        self: APIStateMachine,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        case.validate_response(response, checks=CHECKS)

    # The calls go through httpx, as above (a subclass of a class made at run time, built
    # with type() so that it is typed).
    # Left out of the chains: operations whose answer to one request depends on what ran
    # before it in ways hypothesis's replays of a scenario cannot reproduce, which it
    # reports as flaky generation (a PUT that makes a booking, then replaces it; webhook
    # deliveries, made by other calls and sent in the background; deactivating a person,
    # which changes what every later call about them answers), and calendar accounts
    # (each call reaches a CalDAV server that a fuzzed address never names: 422 at every
    # step, which leaves the chains too few steps for the rest). The contract fuzz above,
    # tests/test_webhooks.py, tests/test_calendar_accounts.py and tests/test_web_pages.py
    # cover them.
    schema = _schema(base, client).exclude(
        path_regex="^/(api/(bookings/external|webhooks|calendar-accounts|me/calendar-accounts"
        "|users/[^/]+/(deactivate|reactivate))|oauth/)"
    )
    machine = schema.as_state_machine()
    workflow = cast(
        type[APIStateMachine],
        type("Workflow", (machine,), {"call": call, "validate_response": validate_response}),
    )
    workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    print(f"schemathesis stateful: {sum(calls.values())} requests")
    # The links were followed: things created (bookings, accounts, feed links, inbox items...)
    # were then read, changed or deleted.
    followed = {label for (label, status) in calls if status < 300 and "{" in label}
    assert "GET /api/bookings/{id}" in followed and len(followed) >= 8, sorted(followed)


HOSTILE_TEXT = ["a\ud800b", "\udfff", "a\x00b", "tab\x1bescape"]
HOSTILE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01"]
HOSTILE_PER_OPERATION = 30


def _strings(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every string in a JSON value (keys excluded)."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, (*path, i))]
    return []


def _members(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every member of every object in a JSON value (what its key names)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in [(*path, k), *_members(v, (*path, k))]]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _members(v, (*path, i))]
    return []


_UNREADABLE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _name(path: tuple[Any, ...]) -> str:
    """A path as the server names a field: ``attendees[0].name``."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _replaced(value: Any, path: tuple[Any, ...], new: str) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


def test_hostile_text_and_times_in_every_body_field_are_refused_not_500(
    server: tuple[str, httpx.BasicAuth],
) -> None:
    """Valid bodies for every operation, with one string at any depth replaced by text that
    is not Unicode (a lone surrogate), a control character, or a time no calendar can hold:
    the text is refused with a documented 4xx naming the field, the times never make a 5xx."""
    base, account = server
    client = httpx.Client(timeout=30)
    schema = _schema(base, client)
    problems: list[str] = []
    sent = Counter[str]()
    operations = [r.ok() for r in schema.get_all_operations()]
    counter = itertools.count()  # which string of a body, and which hostile value
    for operation in operations:
        if operation.method.upper() not in ("POST", "PUT", "PATCH"):
            continue

        @settings(
            max_examples=HOSTILE_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def run(case: schemathesis.Case[Any]) -> None:
            paths = _strings(case.body) if isinstance(case.body, dict | list) else []
            if not paths:
                return
            n = next(counter)
            path = paths[n % len(paths)]
            hostile = (HOSTILE_TEXT + HOSTILE_TIMES)[n % (len(HOSTILE_TEXT) + len(HOSTILE_TIMES))]
            kwargs = case.as_transport_kwargs(base, _credentials(case, account))
            kwargs.pop("cookies", None)
            if "json" not in kwargs:
                return
            # Written as JSON escapes ("\ud800"): httpx would write raw UTF-8, which a lone
            # surrogate cannot be.
            body = _replaced(kwargs.pop("json"), path, hostile)
            kwargs["content"] = json.dumps(body).encode("ascii")
            kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
            response = client.request(**kwargs)
            sent[f"{response.status_code // 100}xx"] += 1
            where = f"{case.operation.label} {path} {hostile!r}: {response.status_code}"
            if response.status_code >= 500:
                problems.append(where)
            elif hostile in HOSTILE_TEXT and response.status_code < 400:
                problems.append(f"{where} (accepted)")
            elif hostile in HOSTILE_TEXT and response.status_code == 422:
                # The field named holds unreadable text: ours, or one the generator made
                # (its valid strings may hold control characters too).
                field = response.json().get("field", "")
                unreadable = {_name(p) for p in _strings(body) if _UNREADABLE.search(_at(body, p))}
                # A member whose own name is unreadable (the generator adds some) too.
                unreadable |= {_name(p) for p in _members(body) if _UNREADABLE.search(str(p[-1]))}
                if field not in unreadable:
                    problems.append(f"{where} names {field!r}, not one of {sorted(unreadable)}")

        run()
    print(f"hostile bodies: {sum(sent.values())} requests, {dict(sent)}")
    assert sum(sent.values()) >= 200, sent
    assert not problems, "\n".join(problems[:40])
