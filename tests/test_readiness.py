"""``/readyz``, what a load balancer asks before sending a node traffic: ready when the store
answers, its schema is the one this release knows and the node is not stopping; 503 with
the reason otherwise (``/healthz`` stays the liveness check). On both store backends."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from feedserver.config import Config
from feedserver.store import Store
from feedserver.web.state import RUNNER


async def test_a_node_is_ready_when_its_store_and_schema_are(client: TestClient[Any, Any]) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["status"] == "ready"


async def test_a_database_migrated_by_a_newer_release_is_not_ready(
    client: TestClient[Any, Any], config: Config
) -> None:
    store = Store(config.database_url)
    try:
        store.db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (999, "from a newer release", "2027-01-01T00:00:00Z"),
        )
    finally:
        store.close()
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503 and body["status"] == "not ready"
    assert "999" in body["reasons"][0] and "newer" in body["reasons"][0]
    assert (await client.get("/healthz")).status == 200  # alive all the same


async def test_a_stopping_node_is_not_ready_while_it_finishes(
    client: TestClient[Any, Any],
) -> None:
    await client.server.app.shutdown()  # what SIGTERM runs before the requests in flight end
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["reasons"] == ["draining: the server is stopping"]


async def test_a_store_that_does_not_answer_is_not_ready(client: TestClient[Any, Any]) -> None:
    runner = client.server.app[RUNNER]
    await runner.run(lambda s: s.db.close())  # the connection is gone, as with a lost server
    response = await client.get("/readyz")
    assert response.status == 503
    assert "does not answer" in (await response.json())["reasons"][0]
