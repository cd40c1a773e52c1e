"""Two nodes on one throwaway PostgreSQL behind a real nginx (Debian's), configured with the
reference configuration (``config/deploy/nginx.conf``), all on loopback.

What one node does, the other knows: a booking changed through A is in the feed read through
B within a second, a calendar written through A is reported through B, a link revoked through
A is refused by B at once. Limits count across nodes. A node with other signing keys refuses
to start. Node A killed (SIGKILL) in the middle of feeds, CalDAV and API writes: no
acknowledged write is lost, B answers what comes after, and the notification A was sending
is sent once, by B, when A's lease has run out.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from feedserver.store import Store
from tests import nginx
from tests.conftest import ADMIN_TOKEN, BACKEND, Api, basic_auth, make_org
from tests.pg import Cluster
from tests.process import free_port, spawn, wait_until_up
from tests.smtp_sink import SmtpServer

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="nodes on many machines share PostgreSQL"),
    pytest.mark.skipif(not nginx.installed(), reason="nginx is missing (make system-packages)"),
]

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LEASE_SECONDS = 2
CAMILLE = ("camille@example.org", "camille-password")
EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Apple Inc.//macOS 14.0//EN\r
BEGIN:VEVENT\r
UID:{uid}\r
DTSTAMP:20261201T090000Z\r
DTSTART:20301203T090000Z\r
DTEND:20301203T100000Z\r
SUMMARY:Dentist\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _instant(text: str) -> datetime:
    """A UTC instant as the store and the API write it (``2031-01-01T08:00:00Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    root: Path
    database_url: str
    smtp: SmtpServer
    nginx_port: int = 0
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def environment(self, name: str, secrets: Path | None = None) -> dict[str, str]:
        return {
            "FEEDSERVER_DATABASE_URL": self.database_url,
            "FEEDSERVER_SECURITY_SECRETS_FILE": str(secrets or self.root / "secrets.json"),
            "FEEDSERVER_SERVER_PUBLIC_URL": self.front,
            "FEEDSERVER_CLUSTER_NODE_NAME": name,
            "FEEDSERVER_CLUSTER_LEASE_SECONDS": str(LEASE_SECONDS),
            "FEEDSERVER_SMTP_HOST": "127.0.0.1",
            "FEEDSERVER_SMTP_PORT": str(self.smtp.port),
            "FEEDSERVER_SMTP_SECURITY": "none",
            "FEEDSERVER_SMTP_SENDER": "bookings@salon.example",
            "FEEDSERVER_SECURITY_LOGIN_TARPIT_SECONDS": "0",
            "FEEDSERVER_CALDAV_FAILED_LOGIN_DELAY_MS": "0",
            "FEEDSERVER_BRIDGE_INVITE_ADDRESS": "invite@salon.example",
            "FEEDSERVER_BRIDGE_SENDER_ITEMS_PER_HOUR": "4",
            "FEEDSERVER_BRIDGE_TRUSTED_SENDERS": "@example.org",
            "FEEDSERVER_BRIDGE_DEFAULT_TYPE": "haircut",
        }

    def start(
        self, name: str, port: int | None = None, secrets: Path | None = None
    ) -> subprocess.Popen[bytes]:
        port = port or free_port()
        data = self.root / name
        log = self.root / f"{name}.log"
        process = spawn(data, port, log, self.environment(name, secrets))
        self.nodes[name] = Node(name, port, process, log)
        return process

    def wait(self, name: str) -> None:
        node = self.nodes[name]
        try:
            wait_until_up(f"{node.base}/readyz", 30, node.process)
        except RuntimeError as exc:
            raise RuntimeError(node.log.read_text()) from exc

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes.values():
            try:
                node.process.wait(15)
            except subprocess.TimeoutExpired:
                node.process.kill()


@pytest.fixture(scope="module")
def deployment(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("cluster")
    url = pg_cluster.database()
    smtp = SmtpServer()
    smtp.start()
    deployment = Deployment(root, url, smtp, nginx_port=free_port())
    # The secrets every node shares: one file (a volume every node mounts, in real life).
    (root / "secrets.json").write_text(
        json.dumps({"admin_token": ADMIN_TOKEN, "secret_keys": ["cluster-key-0123456789"]})
    )
    ports = [free_port(), free_port()]
    deployment.start("node-a", ports[0])
    deployment.start("node-b", ports[1])
    deployment.wait("node-a")
    deployment.wait("node-b")
    site = nginx.reference_site(root / "nginx", ports, deployment.nginx_port)
    try:
        with nginx.running(nginx.configuration(root / "nginx", site)) as front:
            wait_until_up(f"{deployment.front}/readyz", 15, front)
            yield deployment
    finally:
        deployment.stop()
        smtp.stop()
        pg_cluster.release(url)


@pytest.fixture(scope="module")
def organisation(deployment: Deployment) -> dict[str, Any]:
    """The organisation, made through node A."""

    async def make() -> dict[str, Any]:
        async with aiohttp.ClientSession(deployment.nodes["node-a"].base) as http:
            return await make_org(Api(cast(Any, http), ADMIN))

    return asyncio.run(make())


async def test_a_booking_changed_through_a_is_in_the_feed_through_b_within_a_second(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    a, b = deployment.nodes["node-a"], deployment.nodes["node-b"]
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        day = (datetime.now(UTC) + timedelta(days=20)).date()
        body = {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": f"{day}T08:00:00Z",
            "attendees": [],
        }
        paris = ZoneInfo("Europe/Paris")  # the feed writes the location's local time
        before, after = (
            datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            .astimezone(paris)
            .strftime("%Y%m%dT%H%M%S")
            for hour in (8, 13)
        )
        async with http.post(f"{a.base}/api/bookings", json=body) as response:
            assert response.status == 201, await response.text()
            booking = await response.json()
        async with http.post(
            f"{a.base}/api/feeds", json={"user": "camille@example.org", "scope": "own"}
        ) as response:
            assert response.status == 201, await response.text()
            path = "/feeds/" + (await response.json())["url"].split("/feeds/")[1]
        async with http.get(f"{b.base}{path}") as response:  # B renders and caches it
            assert response.status == 200
            assert before in await response.text()
        moved = {"start": f"{day}T13:00:00Z"}
        async with http.patch(f"{a.base}/api/bookings/{booking['id']}", json=moved) as response:
            assert response.status == 200, await response.text()
        changed = time.monotonic()
        while True:
            async with http.get(f"{b.base}{path}") as response:
                text = await response.text()
            if after in text:
                break
            assert time.monotonic() - changed < 1.0, "node B still serves the old feed"
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - changed
    assert elapsed < 1.0


async def test_caldav_written_through_a_is_reported_through_b(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    a, b = deployment.nodes["node-a"], deployment.nodes["node-b"]
    auth = {"Authorization": basic_auth(*CAMILLE)}
    collection = "/dav/camille@example.org/cluster-test/"
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.request("MKCALENDAR", f"{a.base}{collection}") as response:
            assert response.status == 201, await response.text()
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        async with http.put(
            f"{a.base}{collection}dentist.ics", data=EVENT.format(uid="dentist-1"), headers=headers
        ) as response:
            assert response.status == 201, await response.text()
        report = (
            '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
            '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
            "</C:comp-filter></C:filter></C:calendar-query>"
        )
        for base in (b.base, deployment.front):
            async with http.request(
                "REPORT",
                f"{base}{collection}",
                data=report,
                headers={"Depth": "1", "Content-Type": "application/xml"},
            ) as response:
                assert response.status == 207, await response.text()
                assert "UID:dentist-1" in await response.text()


async def test_a_link_and_an_app_password_revoked_through_a_are_refused_by_b_at_once(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    a, b = deployment.nodes["node-a"], deployment.nodes["node-b"]
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.post(
            f"{a.base}/api/feeds", json={"user": "maya@example.org", "scope": "own"}
        ) as response:
            link = await response.json()
        path = "/feeds/" + link["url"].split("/feeds/")[1]
        async with http.get(f"{b.base}{path}") as response:
            assert response.status == 200
        async with http.delete(f"{a.base}/api/feeds/{link['id']}") as response:
            assert response.status == 204
        async with http.get(f"{b.base}{path}") as response:
            assert response.status == 410
    maya = {"Authorization": basic_auth("maya@example.org", "maya-password")}
    async with aiohttp.ClientSession(headers=maya) as http:
        async with http.post(f"{a.base}/api/me/app-passwords", json={"name": "Phone"}) as r:
            created = await r.json()
        phone = {"Authorization": basic_auth("maya@example.org", created["password"])}
        async with http.request(
            "PROPFIND", f"{b.base}/dav/maya@example.org/", headers={**phone, "Depth": "0"}
        ) as response:
            assert response.status == 207
        async with http.delete(f"{a.base}/api/me/app-passwords/{created['id']}") as response:
            assert response.status == 204
        async with http.request(
            "PROPFIND", f"{b.base}/dav/maya@example.org/", headers={**phone, "Depth": "0"}
        ) as response:
            assert response.status == 401


async def test_nginx_answers_a_polled_feed_from_its_cache_304s_included(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    async with (
        aiohttp.ClientSession(headers=ADMIN) as http,
        http.post(
            f"{deployment.front}/api/feeds", json={"user": "camille@example.org", "scope": "own"}
        ) as response,
    ):
        assert response.status == 201
        url = deployment.front + "/feeds/" + (await response.json())["url"].split("/feeds/")[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200 and response.headers["X-Cache"] == "MISS"
            etag = response.headers["ETag"]
        async with http.get(url) as response:
            assert response.status == 200 and response.headers["X-Cache"] == "HIT"
        async with http.get(url, headers={"If-None-Match": etag}) as response:
            assert response.status == 304 and response.headers["X-Cache"] == "HIT"
        await asyncio.sleep(2.1)  # past the second (nginx counts whole ones): revalidated
        async with http.get(url, headers={"If-None-Match": etag}) as response:
            assert response.status == 304
            assert response.headers["X-Cache"] in ("REVALIDATED", "EXPIRED")


async def test_a_sign_in_flood_spread_over_two_nodes_is_throttled(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    nodes = [deployment.nodes["node-a"], deployment.nodes["node-b"]]
    statuses = []
    async with aiohttp.ClientSession() as http:
        for attempt in range(40):
            node = nodes[attempt % 2]
            wrong = {"Authorization": basic_auth("owner@example.org", f"guess-{attempt}")}
            async with http.get(f"{node.base}/api/me", headers=wrong) as response:
                statuses.append(response.status)
    # The account may fail login_attempts (5) times in all, not 5 times on each node.
    assert statuses[:5] == [401] * 5, statuses
    assert statuses.count(429) >= 30, statuses
    assert 429 in statuses[5:8], statuses


async def test_the_bridges_per_sender_limit_holds_across_nodes(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    nodes = [deployment.nodes["node-a"], deployment.nodes["node-b"]]
    statuses = []
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        for n in range(8):
            calendar = (
                EVENT.format(uid=f"limit-{n}")
                .replace("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n")
                .replace(
                    "SUMMARY:Dentist\r\n",
                    "SUMMARY:Dentist\r\nORGANIZER:mailto:flood@example.org\r\n"
                    "ATTENDEE:mailto:invite@salon.example\r\nLOCATION:ANHQ\r\n",
                )
            )
            async with http.post(
                f"{nodes[n % 2].base}/api/inbound",
                data=calendar,
                headers={"Content-Type": "text/calendar"},
            ) as response:
                statuses.append(response.status)
    assert statuses.count(429) == 4, statuses  # 4 an hour for the sender, on both nodes
    assert all(s != 429 for s in statuses[:4]), statuses


def test_a_node_with_other_signing_keys_refuses_to_start(deployment: Deployment) -> None:
    other = deployment.root / "other-secrets.json"
    other.write_text(json.dumps({"admin_token": "x" * 32, "secret_keys": ["y" * 32]}))
    process = deployment.start("node-stranger", secrets=other)
    try:
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        del deployment.nodes["node-stranger"]
    log = (deployment.root / "node-stranger.log").read_text()
    assert code == 1, log
    assert "signing keys share none" in log and "Traceback" not in log


async def test_node_a_killed_during_mixed_load_loses_nothing_acknowledged(
    deployment: Deployment, organisation: dict[str, Any]
) -> None:
    a, b = deployment.nodes["node-a"], deployment.nodes["node-b"]
    sink = deployment.smtp.sink
    sink.delay = 0.05
    acknowledged: list[int] = []
    errors: list[str] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.post(
            f"{deployment.front}/api/feeds", json={"user": "camille@example.org", "scope": "own"}
        ) as response:
            feed = deployment.front + "/feeds/" + (await response.json())["url"].split("/feeds/")[1]

        async def writer(n: int) -> None:
            day = 0
            while not stop.is_set():
                day += 1
                body = {
                    "type": "haircut",
                    "location": "ANHQ",
                    "staff": "maya@example.org",
                    "start": f"2031-{1 + n:02d}-{1 + day % 28:02d}T{8 + day // 28:02d}:00:00Z",
                    "attendees": [],
                }
                try:
                    async with http.post(f"{deployment.front}/api/bookings", json=body) as response:
                        if response.status == 201:
                            acknowledged.append((await response.json())["id"])
                        elif response.status not in (502, 409):
                            errors.append(f"write {response.status}")
                except aiohttp.ClientError:
                    pass  # the connection A held died with it: not acknowledged
                await asyncio.sleep(0.3)

        async def reader() -> None:
            dav = {"Authorization": basic_auth(*CAMILLE), "Depth": "1"}
            while not stop.is_set():
                async with http.get(feed) as response:
                    if response.status != 200:
                        errors.append(f"feed {response.status}")
                async with http.request(
                    "PROPFIND", f"{deployment.front}/dav/camille@example.org/", headers=dav
                ) as response:
                    if response.status != 207:
                        errors.append(f"caldav {response.status}")

        load = [asyncio.create_task(writer(n)) for n in range(3)]
        load += [asyncio.create_task(reader()) for _ in range(2)]
        await asyncio.sleep(2.0)
        # Every SMTP conversation now waits for its answer: A is killed in the middle of one.
        sink.gate.clear()
        await asyncio.sleep(0.5)  # a message answered just before is marked sent meanwhile
        store = Store(deployment.database_url)
        try:
            orphans: dict[int, datetime] = {}  # A's claims: message id -> when its lease ends
            deadline = time.monotonic() + 10
            while not orphans and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                orphans = {
                    r["id"]: _instant(r["claimed_until"])
                    for r in store.db.rows(
                        "SELECT id, claimed_until FROM outbox "
                        "WHERE status = 'sending' AND claimed_by = 'node-a'"
                    )
                }
        finally:
            store.close()
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(10)
        sink.gate.set()
        assert orphans, "A held no claim when it was killed"
        errors_before = len(errors)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*load)
        # After the kill, every request went to B and succeeded.
        late_errors = errors[errors_before:]
        assert not [e for e in late_errors if not e.startswith(("feed 502", "caldav 502"))], (
            late_errors
        )
        # Every acknowledged write is there, read through B.
        async with http.get(f"{b.base}/api/bookings?limit=5000&staff=maya@example.org") as r:
            stored = {booking["id"] for booking in (await r.json())["bookings"]}
        assert acknowledged and set(acknowledged) <= stored
        # Every queued message is delivered once, A's claimed ones by B after the lease.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with http.get(f"{b.base}/api/notifications?status=sent&limit=1000") as r:
                sent = (await r.json())["notifications"]
            async with http.get(f"{b.base}/api/notifications?limit=1000") as r:
                everything = (await r.json())["notifications"]
            if len(sent) == len(everything):
                break
            await asyncio.sleep(0.5)
    sink.delay = 0
    assert len(sent) == len(everything), [(m["id"], m["status"]) for m in everything]
    # A's message was sent by B once A's lease had run out (not before: no double send).
    for message in sent:
        if message["id"] in orphans:
            assert _instant(message["sent_at"]) >= orphans[message["id"]], message
    delivered = [str(m["Message-ID"]) for m in sink.received]
    assert len(delivered) == len(set(delivered)), "a message was delivered twice"
    assert len(delivered) == len(everything)
    # A comes back under its name and takes its share again.
    deployment.start("node-a", a.port)
    deployment.wait("node-a")
