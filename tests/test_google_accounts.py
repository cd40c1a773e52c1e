"""Google accounts through OAuth 2.0, against a real local authorization server (authlib)
and a CalDAV endpoint that takes only its bearer tokens: the authorization code flow with
PKCE (S256), a calendar made through the Calendar API, bookings written with an access token
refreshed when it expires, a revoked grant shown as failing, and the grant given back when
the account is disconnected."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from tests.calendar_servers import CalendarServer
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, make_org
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, Google, OAuthServer, bearer_caldav
from tests.process import free_port
from tests.test_calendar_accounts import (
    book,
    radicale_server,  # noqa: F401 - a fixture
    soon,
    until,
)

CAMILLE = {"Authorization": basic_auth("camille@example.org", "camille-password")}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def consent(url: str) -> str:
    """What a browser does on the consent page: the person agrees; where Google sends them."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, exc.read()
        return str(exc.headers["Location"])
    raise AssertionError("no redirect")


@pytest.fixture
async def world(
    aiohttp_server: Any, aiohttp_client: Any, config: Config, radicale_server: CalendarServer
) -> AsyncIterator[tuple[Api, Google, CalendarServer]]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    google = Google(public + "/oauth/google/callback")
    with OAuthServer(google) as oauth:
        caldav = await aiohttp_server(bearer_caldav(google, radicale_server))
        endpoint = f"http://127.0.0.1:{caldav.port}"
        configured = with_changes(
            config,
            server={"public_url": public},
            google={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": oauth.base + "/authorize",
                "token_url": oauth.base + "/token",
                "revoke_url": oauth.base + "/revoke",
                "caldav_url": endpoint + "/",
                "calendar_api_url": endpoint + "/calendar/v3",
            },
            calendar_accounts={"allow_private_networks": True, "retry_schedule_seconds": [1]},
            smtp={"sender_name": "Salon Lumière"},
        )
        server = await aiohttp_server(create_app(configured), port=port)
        client = await aiohttp_client(server)
        api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        await make_org(api)
        yield api, google, radicale_server


async def connect_google(api: Api, **asked: Any) -> dict[str, Any]:
    begun = await api.call(
        "POST", "/api/me/calendar-accounts/google", asked or None, headers=CAMILLE
    )
    url = begun["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    back = await asyncio.to_thread(consent, url)
    assert back.startswith(api.client.make_url("/oauth/google/callback").human_repr()[:20])
    response = await api.client.get(
        urlsplit(back).path + "?" + urlsplit(back).query, allow_redirects=False
    )
    assert response.status == 302, await response.text()
    account_id = int(response.headers["Location"].split("connected=")[1])
    found: dict[str, Any] = await api.get(
        f"/api/me/calendar-accounts/{account_id}", headers=CAMILLE
    )
    return found


async def test_google_is_connected_with_pkce_and_written_with_refreshed_tokens(
    world: tuple[Api, Google, CalendarServer],
) -> None:
    api, google, radicale_server = world
    account = await connect_google(api)
    assert google.challenges == ["S256"]
    assert account["provider"] == "google" and account["calendar"]["name"] == "Salon Lumière"
    assert "token" not in str(account)
    calendar_id = account["calendar"]["url"].rstrip("/").split("/")[-2]
    path = f"/camille/{calendar_id}/"
    await book(api, soon())
    await until(lambda: len(radicale_server.events(path)) == 1)
    await asyncio.sleep(3.2)  # the access token (3 s) expires: the next write refreshes it
    refreshed = google.refreshed
    await book(api, soon(3))
    await until(lambda: len(radicale_server.events(path)) == 2)
    assert google.refreshed > refreshed
    assert (await api.get(f"/api/calendar-accounts/{account['id']}"))["status"] == "ok"

    # The person revokes feedserver's access in their Google account.
    google.revoke_grant()
    await asyncio.sleep(3.2)
    await book(api, soon(4))
    for _ in range(100):
        found = await api.get(f"/api/calendar-accounts/{account['id']}")
        if found["status"] == "failing":
            break
        await asyncio.sleep(0.1)
    assert found["status"] == "failing" and "connect the account again" in found["last_error"]
    health = await api.get("/healthz")
    assert health["calendar_accounts_failing"] == 1


async def test_a_state_is_taken_once_and_refusals_connect_nothing(
    world: tuple[Api, Google, CalendarServer],
) -> None:
    api, google, _ = world
    begun = await api.call("POST", "/api/me/calendar-accounts/google", None, headers=CAMILLE)
    back = await asyncio.to_thread(consent, begun["authorize_url"])
    target = urlsplit(back).path + "?" + urlsplit(back).query
    first = await api.client.get(target, allow_redirects=False)
    assert first.status == 302
    again = await api.client.get(target, allow_redirects=False)
    assert again.status == 404  # the state was used
    denied = await api.client.get("/oauth/google/callback?error=access_denied&state=x")
    assert denied.status == 422
    assert (await api.client.get("/oauth/google/callback")).status == 422
    forged = await api.client.get("/oauth/google/callback?state=forged&code=abc")
    assert forged.status == 404
    listed = await api.get("/api/me/calendar-accounts", headers=CAMILLE)
    assert len(listed["calendar_accounts"]) == 1
    # Disconnecting gives the grant back.
    account = listed["calendar_accounts"][0]
    await api.call("DELETE", f"/api/me/calendar-accounts/{account['id']}", headers=CAMILLE)
    assert set(google.grants.values()) == {"revoked"}


async def test_google_needs_a_configured_client(api: Api, org: dict[str, Any]) -> None:
    refused = await api.call(
        "POST", "/api/me/calendar-accounts/google", None, status=409, headers=CAMILLE
    )
    assert "google.client_id" in refused["message"]
    await api.call(
        "POST",
        "/api/me/calendar-accounts",
        {"provider": "google"},
        status=422,
        headers=CAMILLE,
    )
