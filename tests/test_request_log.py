"""One structured log line per request, with a request id, and no secrets in paths."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from feedserver.logs import JsonFormatter, TextFormatter
from feedserver.web.middleware import REQUEST_LOG, redact
from tests.conftest import Api


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
