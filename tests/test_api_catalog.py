"""/api/locations, /api/types, /api/users: CRUD and precise errors."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, basic_auth


async def test_location_codes_are_case_insensitive_and_unique(api: Api) -> None:
    created = await api.post(
        "/api/locations", {"code": "anhq", "name": "HQ", "timezone": "Europe/Paris"}
    )
    assert created["code"] == "ANHQ"
    assert (await api.get("/api/locations/anhq"))["name"] == "HQ"
    dup = await api.post(
        "/api/locations", {"code": "ANHQ", "name": "Again", "timezone": "Europe/Paris"}, status=409
    )
    assert dup["error"] == "already_exists"


async def test_location_validation(api: Api) -> None:
    bad_code = await api.post(
        "/api/locations", {"code": "A", "name": "x", "timezone": "UTC"}, status=422
    )
    assert bad_code["field"] == "code"
    bad_tz = await api.post(
        "/api/locations", {"code": "AB", "name": "x", "timezone": "Mars/Olympus"}, status=422
    )
    assert bad_tz["field"] == "timezone"
    wrong_type = await api.post(
        "/api/locations", {"code": "AB", "name": 7, "timezone": "UTC"}, status=422
    )
    assert wrong_type == {"error": "invalid", "message": "name must be a string", "field": "name"}
    unknown = await api.post(
        "/api/locations", {"code": "AB", "name": "x", "timezone": "UTC", "colour": 1}, status=422
    )
    assert unknown["field"] == "colour"


async def test_location_patch_and_delete(api: Api) -> None:
    await api.post("/api/locations", {"code": "LYON", "name": "Lyon", "timezone": "Europe/Paris"})
    patched = await api.patch("/api/locations/lyon", {"address": "Place Bellecour"})
    assert patched["address"] == "Place Bellecour"
    await api.call("DELETE", "/api/locations/LYON", status=204)
    await api.get("/api/locations/LYON", status=404)


async def test_location_in_use_cannot_be_deleted(api: Api, org: dict[str, Any]) -> None:
    body = await api.call("DELETE", "/api/locations/ANHQ", status=409)
    assert body["error"] == "in_use"


async def test_types_crud_and_validation(api: Api) -> None:
    created = await api.post(
        "/api/types",
        {
            "key": "Massage",
            "name": "Massage",
            "duration_minutes": 60,
            "online": False,
            "color": "#aabbcc",
        },
    )
    assert created["key"] == "massage"
    assert created["buffer_before_minutes"] == 0
    patched = await api.patch("/api/types/massage", {"buffer_after_minutes": 10, "online": True})
    assert (patched["buffer_after_minutes"], patched["online"]) == (10, True)
    bad = await api.post(
        "/api/types", {"key": "x", "name": "X", "duration_minutes": "60"}, status=422
    )
    assert bad["field"] == "duration_minutes"
    bad = await api.post("/api/types", {"key": "y", "name": "Y", "duration_minutes": 0}, status=422)
    assert bad["field"] == "duration_minutes"
    bad = await api.patch("/api/types/massage", {"online": "yes"}, status=422)
    assert bad["field"] == "online"
    await api.call("DELETE", "/api/types/massage", status=204)
    await api.get("/api/types/massage", status=404)


async def test_users_never_expose_password_hashes(api: Api, org: dict[str, Any]) -> None:
    listed = await api.get("/api/users")
    assert len(listed["users"]) == 5
    for user in listed["users"]:
        assert not {"password", "password_hash"} & set(user)
    assert "scrypt" not in str(listed)
    staff = await api.get("/api/users?role=staff")
    assert {u["email"] for u in staff["users"]} == {"camille@example.org", "maya@example.org"}


async def test_user_validation_and_uniqueness(api: Api, org: dict[str, Any]) -> None:
    dup = await api.post("/api/users", {"email": "CAMILLE@example.org", "name": "C2"}, status=409)
    assert dup["field"] == "email"
    bad = await api.post("/api/users", {"email": "not-an-email", "name": "X"}, status=422)
    assert bad["field"] == "email"
    bad = await api.post(
        "/api/users", {"email": "x@example.org", "name": "X", "role": "boss"}, status=422
    )
    assert bad["field"] == "role"
    short = await api.post(
        "/api/users", {"email": "x@example.org", "name": "X", "password": "short"}, status=422
    )
    assert short["field"] == "password"
    patched = await api.patch(f"/api/users/{org['alice']['id']}", {"timezone": "Europe/Berlin"})
    assert patched["timezone"] == "Europe/Berlin"
    by_email = await api.get("/api/users/alice@example.com")
    assert by_email["id"] == org["alice"]["id"]


async def test_authentication_is_required_and_checked(api: Api, org: dict[str, Any]) -> None:
    client = api.client
    response = await client.get("/api/locations")
    assert response.status == 401
    assert (await response.json())["error"] == "unauthenticated"
    response = await client.get("/api/locations", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    # A customer's personal account is not an admin.
    response = await client.get(
        "/api/locations",
        headers={"Authorization": basic_auth("alice@example.com", "alice-password")},
    )
    assert response.status == 403
    # An admin's personal account may use the admin API.
    response = await client.get(
        "/api/locations",
        headers={"Authorization": basic_auth("owner@example.org", "owner-password")},
    )
    assert response.status == 200


async def test_me_needs_a_personal_account(api: Api, org: dict[str, Any]) -> None:
    refused = await api.get("/api/me", status=403)
    assert refused["error"] == "not_a_personal_account"
    me = await api.client.get(
        "/api/me", headers={"Authorization": basic_auth("Maya@Example.org", "maya-password")}
    )
    assert (await me.json())["email"] == "maya@example.org"
    wrong = await api.client.get(
        "/api/me", headers={"Authorization": basic_auth("maya@example.org", "nope-nope")}
    )
    assert wrong.status == 401
