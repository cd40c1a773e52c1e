"""The OpenAPI document: every route in it, its schemas the ones that validate requests, its
reference page; and GET /metrics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator

from feedserver import config as config_mod
from feedserver.app import create_app
from feedserver.config import Config
from feedserver.domain import schemas
from feedserver.web.openapi import OPERATIONS, document, routes_of
from tests.conftest import ADMIN_TOKEN, Api


@pytest.fixture
def bridged(config: Config) -> Config:
    """With the bridge on, so that its routes exist too."""
    return config_mod.with_changes(config, bridge={"invite_address": "invite@example.org"})


def test_every_route_is_described_and_every_description_is_a_route(bridged: Config) -> None:
    app = create_app(bridged)
    served = set(routes_of(app))
    assert {("POST", "/api/inbound"), ("GET", "/metrics"), ("GET", "/api/docs")} <= served
    assert sorted(served - set(OPERATIONS)) == []
    assert sorted(set(OPERATIONS) - served) == []


async def test_the_document_lists_every_route_with_its_schemas(
    aiohttp_client: Any, bridged: Config
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(bridged))
    response = await client.get("/api/openapi.json")  # no sign-in: it is the contract
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert listed == set(routes_of(client.app))
    components = document["components"]["schemas"]
    for schema in schemas.ALL:
        assert components[schema.name] == schema.json
        Draft202012Validator.check_schema(schema.json)
    create = document["paths"]["/api/bookings"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingInput"
    }
    assert set(create["responses"]) >= {"201", "401", "403", "409", "422", "429"}
    assert create["security"] == [{"adminToken": []}, {"basicAuth": []}]
    me = document["paths"]["/api/me"]["get"]
    assert me["security"] == [{"basicAuth": []}]
    feed = document["paths"]["/feeds/{token}.ics"]["get"]
    assert feed["security"] == [] and "304" in feed["responses"]


def test_creations_link_to_the_operations_on_what_they_created(bridged: Config) -> None:
    spec = document(create_app(bridged), "http://x")
    by_id = {
        op["operationId"]: (path, op) for path, ops in spec["paths"].items() for op in ops.values()
    }
    created = spec["paths"]["/api/bookings"]["post"]["responses"]["201"]["links"]
    assert created["post_api_bookings_id_cancel"] == {
        "operationId": "post_api_bookings_id_cancel",
        "parameters": {"id": "$response.body#/id"},
    }
    inbound = spec["paths"]["/api/inbound"]["post"]["responses"]
    assert set(inbound["202"]["links"]) == {"get_api_inbox_id", "post_api_inbox_id_retry"}
    linked = 0
    for ops in spec["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    path, target = by_id[link["operationId"]]  # an operation that exists...
                    names = {p["name"] for p in target["parameters"] if p["in"] == "path"}
                    assert set(link["parameters"]) == names, (path, link)  # ...fully named
                    linked += 1
    assert linked >= 30


async def test_what_the_schema_refuses_is_refused_naming_the_field(api: Api) -> None:
    """The schema's limits are the server's: each refusal names the field at fault."""
    for body, field in (
        ({"code": "AB", "name": "x" * 201, "timezone": "UTC"}, "name"),
        ({"code": "AB", "name": "A", "timezone": "UTC", "colour": "red"}, "colour"),
        ({"code": 12, "name": "A", "timezone": "UTC"}, "code"),
        ({"name": "A", "timezone": "UTC"}, "code"),
    ):
        refused = await api.post("/api/locations", body, status=422)
        assert refused["field"] == field, refused
    too_long = await api.post(
        "/api/types", {"key": "a", "name": "A", "duration_minutes": 10**6}, status=422
    )
    assert too_long == {
        "error": "invalid",
        "message": "duration_minutes must be between 1 and 44640",
        "field": "duration_minutes",
    }
    limit = schemas.TYPE.limit("duration_minutes", "maximum")
    assert limit == 44640
    nested = await api.post(
        "/api/bookings",
        {"type": "x", "location": "AB", "staff": 1, "start": "2026-01-01", "attendees": [3]},
        status=422,
    )
    assert nested["field"] == "attendees[0]"


async def test_the_reference_page_shows_every_operation(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/docs")
    assert response.status == 200
    html = await response.text()
    for method, path in routes_of(client.app):
        assert f"<code>{method} {path}</code>" in html, (method, path)
    assert "duration_minutes" in html and "integer 1-44640" in html.replace("–", "-")


async def test_metrics_count_requests_feeds_and_failed_sign_ins(
    client: TestClient[Any, Any], api: Api, org: dict[str, Any]
) -> None:
    assert (await client.get("/metrics")).status == 401
    link = await api.post("/api/feeds", {"user": "camille@example.org"})
    feed_path = "/feeds/" + link["url"].rsplit("/feeds/", 1)[1]
    first = await client.get(feed_path)
    again = await client.get(feed_path, headers={"If-None-Match": first.headers["ETag"]})
    assert (first.status, again.status) == (200, 304)
    await api.get("/api/me", status=401, headers={"Authorization": "Basic bm9ib2R5Onh4eA=="})
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()

    def value(pattern: str) -> float:
        found = re.search("^" + re.escape(pattern) + r" ([0-9.e+]+)$", text, re.MULTILINE)
        assert found, pattern
        return float(found.group(1))

    assert value('feedserver_http_requests_total{method="POST",route="/api/feeds",status="201"}')
    assert (
        value(
            'feedserver_http_requests_total{method="GET",route="/feeds/{token}.ics",status="304"}'
        )
        == 1
    )
    assert value('feedserver_feed_requests_total{result="rendered"}') == 1
    assert value('feedserver_feed_requests_total{result="hit"}') == 1
    assert value('feedserver_feed_requests_total{result="not_modified"}') == 1
    assert value("feedserver_feed_render_seconds_count") == 1
    assert value('feedserver_login_failures_total{where="http_basic"}') == 1
    assert value('feedserver_outbox_messages{status="failed"}') == 0
    assert value('feedserver_inbox_items{status="failed"}') == 0
    assert value('feedserver_http_request_duration_seconds_count{route="/api/locations"}') == 2
