"""One structured log line per request, with a request id, and no secrets in paths."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from feedserver.logs import JsonFormatter, RequestLog, TextFormatter
from feedserver.web.context import REQUEST_LOG, redact
from tests.conftest import Api
from tests.feedhelp import new_link, path_of


async def test_each_request_logs_id_method_path_status_duration(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedserver.http")
    response = await api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    api.client.app[REQUEST_LOG].flush()
    record = next(r for r in caplog.records if r.name == "feedserver.http")
    fields: dict[str, Any] = json.loads(JsonFormatter().format(record))
    assert fields["method"] == "GET" and fields["path"] == "/healthz"
    assert fields["status"] == 200 and fields["ms"] >= 0
    assert fields["request_id"] == "abc-123"
    assert "request_id=abc-123 method=GET path=/healthz status=200" in TextFormatter().format(
        record
    )


async def test_generated_request_id_when_none_or_unsafe(api: Api) -> None:
    response = await api.client.get("/healthz", headers={"X-Request-Id": "bad id; forged"})
    assert response.headers["X-Request-Id"] != "bad id; forged"
    assert len(response.headers["X-Request-Id"]) == 16


def test_secret_path_segments_are_redacted() -> None:
    assert redact("/feeds/eyJhbGciOi.abc.ics") == "/feeds/[redacted]"
    assert redact("/meet/tok123") == "/meet/[redacted]"
    assert redact("/api/feeds/3") == "/api/feeds/3"


async def test_feed_requests_log_one_line_each_with_the_token_redacted(
    api: Api, org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The feed route keeps its own short path, and still logs every request: a request id,
    the method, the path without the token, the status and the time."""
    caplog.set_level(logging.INFO, logger="feedserver.http")
    link = await new_link(api, "camille@example.org")
    path = path_of(link)
    first = await api.client.get(path, headers={"X-Request-Id": "feed-1"})
    etag = first.headers["ETag"]
    second = await api.client.get(path, headers={"If-None-Match": etag})
    missing = await api.client.get("/feeds/1.nope.nope.ics")
    assert (first.status, second.status, missing.status) == (200, 304, 404)
    api.client.app[REQUEST_LOG].flush()
    lines = [
        line
        for record in caplog.records
        if record.name == "feedserver.http"
        for line in TextFormatter().format(record).splitlines()
        if "/feeds/" in line
    ]
    assert len(lines) == 3
    token = path.removeprefix("/feeds/").removesuffix(".ics")
    assert all("path=/feeds/[redacted]" in line and token not in line for line in lines)
    assert "request_id=feed-1 method=GET path=/feeds/[redacted] status=200" in lines[0]
    assert "status=304" in lines[1] and "status=404" in lines[2]
    assert all(
        json.loads(line)["request_id"]
        for line in JsonFormatter()
        .format(next(r for r in caplog.records if r.name == "feedserver.http"))
        .splitlines()
    )


async def test_unknown_paths_and_methods_get_json_errors_and_a_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedserver.http")
    missing = await api.client.get("/api/nothing-here", headers={"X-Request-Id": "lost-1"})
    assert missing.status == 404 and (await missing.json())["error"] == "not_found"
    assert missing.headers["X-Request-Id"] == "lost-1"
    wrong = await api.client.post("/healthz")
    assert wrong.status == 405 and (await wrong.json())["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    api.client.app[REQUEST_LOG].flush()
    text = "\n".join(
        TextFormatter().format(r) for r in caplog.records if r.name == "feedserver.http"
    )
    assert "request_id=lost-1 method=GET path=/api/nothing-here status=404" in text
    assert "method=POST path=/healthz status=405" in text


def test_request_lines_wait_for_the_periodic_flush_unless_too_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.http")
    log = RequestLog("test.http", max_pending=3)
    log.line("a", "GET", "/x", 200, time.time())
    log.line("b", "GET", "/y", 304, time.time())
    assert [r for r in caplog.records if r.name == "test.http"] == []  # no request flushes
    log.line("c", "GET", "/z", 404, time.time())  # the memory bound: flushed at once
    (record,) = [r for r in caplog.records if r.name == "test.http"]
    assert [line[1] for line in record.request_lines] == ["a", "b", "c"]
