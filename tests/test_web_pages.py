"""The web app's pages and every form handler, over HTTP on the real application: sign-in
(with throttling and no account enumeration), CSRF and Origin checks, sessions, password links
(single use), calendar links with QR codes, devices and the Apple profile, settings, and the
admin pages. The browser-level checks are in ``test_browser.py``."""

from __future__ import annotations

import plistlib
import re
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from feedserver.web.state import RUNNER
from tests.conftest import Api, basic_auth, book
from tests.webhelp import Pages


@pytest.fixture
async def pages(client: TestClient[Any, Any], org: dict[str, Any]) -> Pages:
    return Pages(client)


async def outbox_bodies(client: TestClient[Any, Any]) -> list[str]:
    found = await client.app[RUNNER].run(lambda s: s.outbox.list())
    return [m.body_text for m in found]


def feed_path(url: str) -> str:
    return "/feeds/" + url.split("/feeds/", 1)[1]


def link_in(text: str, kind: str) -> str:
    found = re.search(rf"http://\S+(/set-password/{kind}/\S+)", text)
    assert found, text
    return found.group(1)


# -- signing in -----------------------------------------------------------------------------------


async def test_the_sign_in_page_has_the_labelled_fields_and_sets_a_form_token(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    response = await client.get("/")
    html = await response.text()
    assert response.status == 200
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert ">Sign in</button>" in html
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert "SameSite=Lax" in response.headers["Set-Cookie"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_sign_in_starts_a_new_session_and_sign_out_ends_it(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    await pages.get("/")
    client.session.cookie_jar.update_cookies({"feedserver_session": "stale-id"})
    location, _ = await pages.post(
        "/sign-in", {"email": "alice@example.com", "password": "alice-password"}
    )
    assert location == "/links"
    session = client.session.cookie_jar.filter_cookies(client.make_url("/"))["feedserver_session"]
    assert session.value != "stale-id" and len(session.value) >= 40
    html = await pages.get("/links")
    assert "Alice" in html and "Sign out" in html
    await pages.post("/sign-out", {})
    # The old session id no longer signs anyone in, even if a browser kept it.
    client.session.cookie_jar.update_cookies({"feedserver_session": session.value})
    response = await client.get("/links", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"


async def test_wrong_credentials_get_one_message_whether_or_not_the_email_exists(
    pages: Pages,
) -> None:
    await pages.get("/")
    _, known = await pages.post(
        "/sign-in", {"email": "alice@example.com", "password": "nope-nope"}, status=401
    )
    _, unknown = await pages.post(
        "/sign-in", {"email": "nobody@example.com", "password": "nope-nope"}, status=401
    )
    assert "Wrong email or password." in known and "Wrong email or password." in unknown
    assert known.replace("alice@example.com", "X") == unknown.replace("nobody@example.com", "X")


async def test_failed_sign_ins_are_slowed_per_address(pages: Pages) -> None:
    await pages.get("/")
    for _ in range(5):
        await pages.post("/sign-in", {"email": "bob@example.com", "password": "x"}, status=401)
    _, html = await pages.post(
        "/sign-in", {"email": "bob@example.com", "password": "bob-password"}, status=429
    )
    assert "Too many attempts" in html


async def test_a_form_without_its_token_or_from_another_site_is_refused(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    await pages.sign_in("alice@example.com", "alice-password")
    _, html = await pages.post("/links", {"name": "x"}, status=403, token="")
    assert "The form expired or came from another site" in html
    await pages.post(
        "/links", {"name": "x"}, status=403, headers={"Origin": "https://evil.example"}
    )
    # The sign-in form too: without the token cookie the field alone is not enough.
    client.session.cookie_jar.clear()
    await pages.post(
        "/sign-in",
        {"email": "alice@example.com", "password": "alice-password"},
        status=403,
        token="A" * 43,
    )
    links = await client.app[RUNNER].run(lambda s: s.feed_links.list())
    assert links == []


async def test_pages_need_a_session_and_admin_pages_need_an_admin(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    response = await client.get("/links", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"
    await pages.sign_in("alice@example.com", "alice-password")
    for path in ("/admin/bookings", "/admin/people", "/admin/inbox", "/admin/meetings.csv"):
        html = await pages.get(path, status=403)
        assert "This page is for admins." in html


# -- password links ------------------------------------------------------------------------------


async def test_forgot_password_sends_a_link_that_works_once(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    await pages.get("/forgot")
    _, html = await pages.post("/forgot", {"email": "alice@example.com"}, status=200)
    assert "a link is on its way" in html
    _, same = await pages.post("/forgot", {"email": "nobody@example.com"}, status=200)
    assert "a link is on its way" in same
    path = link_in((await outbox_bodies(client))[-1], "password_reset")
    html = await pages.get(path)
    assert "Alice" in html
    location, _ = await pages.post(
        path, {"password": "brand-new-pass", "password_again": "brand-new-pass"}
    )
    assert location.startswith("/links")
    await pages.get(path, status=410)  # used: the password hash changed
    client.session.cookie_jar.clear()
    await pages.sign_in("alice@example.com", "brand-new-pass")


async def test_a_forged_or_unknown_kind_of_link_is_refused(pages: Pages) -> None:
    await pages.get("/set-password/password_reset/not-a-token", status=410)
    await pages.get("/set-password/other/not-a-token", status=404)


async def test_an_admin_invites_a_person_who_sets_a_password_from_the_email(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/people")
    _, refused = await pages.post(
        "/admin/people",
        {"name": "Zoé Typo", "email": "alice@example.com", "role": "staff"}
        | {"timezone": "Asia/Tokyo"},
        status=422,
    )
    assert 'value="Zoé Typo"' in refused and 'value="alice@example.com"' in refused
    assert '<option value="staff" selected>' in refused
    assert '<option value="Asia/Tokyo" selected>' in refused
    location, _ = await pages.post(
        "/admin/people",
        {"name": "Zoé Client", "email": "zoe@example.com", "role": "customer", "timezone": "UTC"},
    )
    assert "notice=invited" in location
    body = (await outbox_bodies(client))[-1]
    assert "Zoé Client" in body
    path = link_in(body, "invitation")
    client.session.cookie_jar.clear()
    html = await pages.get(path)
    assert "zoe@example.com" in html
    await pages.post(path, {"password": "zoe-password", "password_again": "zoe-password"})
    html = await pages.get("/links")
    assert "Zoé Client" in html


async def test_an_admin_sends_a_password_link_to_a_customer_made_by_the_api(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    made = await api.post("/api/users", {"email": "carl@example.com", "name": "Carl"})
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/people")
    await pages.post(f"/admin/people/{made['id']}/password-link", {})
    assert "/set-password/invitation/" in (await outbox_bodies(client))[-1]


# -- calendar links ------------------------------------------------------------------------------


async def test_a_customer_makes_a_haircut_link_and_the_feed_answers(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    await book(api)
    await book(api, type="coloring", start="2026-12-02T10:00:00+01:00")
    await pages.sign_in("alice@example.com", "alice-password")
    html = await pages.get("/links")
    assert 'name="staff"' not in html  # staff filters are for staff and admins
    location, _ = await pages.post("/links", [("name", "Haircuts"), ("types", "haircut")])
    assert location == "/links?notice=link_created"
    html = await pages.get("/links")
    webcal = re.search(r'href="(webcal://[^"]+)"', html)
    assert webcal
    https = "http://" + webcal.group(1).removeprefix("webcal://")
    assert "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F" in html
    assert "https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2F" in html
    assert "&amp;name=Haircuts" in html
    assert "https://outlook.office.com/calendar/0/addfromweb?url=" in html
    assert "<svg" in html and "Never fetched yet." in html
    feed = await client.get(feed_path(https))
    text = await feed.text()
    assert feed.status == 200 and "Haircut" in text and "Colouring" not in text


async def test_a_link_says_what_it_shows_and_its_filters_change_in_place(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    await book(api)
    await book(api, type="coloring", start="2026-12-02T10:00:00+01:00")
    await pages.sign_in("alice@example.com", "alice-password")
    html = await pages.get("/links")
    assert "A calendar link puts your bookings in the calendar you already use" in html
    await pages.post("/links", [("name", "Haircuts"), ("types", "haircut")])
    (link,) = (await api.get("/api/feeds?user=alice@example.com"))["feeds"]
    html = await pages.get("/links")
    assert '<p class="words">Haircut · All locations</p>' in html
    assert html.index('id="link-') < html.index("New link")  # the list comes first
    location, _ = await pages.post(
        f"/links/{link['id']}/edit",
        [
            ("name", "Hair and colour"),
            ("types", "haircut"),
            ("types", "coloring"),
            ("locations", "ANHQ"),
        ],
    )
    assert location == f"/links?notice=saved#link-{link['id']}"
    html = await pages.get("/links")
    assert '<p class="words">Colouring, Haircut · Annecy HQ</p>' in html
    after = await api.get(f"/api/feeds/{link['id']}")
    assert after["url"] == link["url"] and after["name"] == "Hair and colour"
    text = await (await client.get(feed_path(link["url"]))).text()
    assert "Haircut" in text and "Colouring" in text
    # A refused edit shows the card open with what was ticked, and changes nothing.
    _, html = await pages.post(
        f"/links/{link['id']}/edit", [("name", "Typo"), ("types", "nope")], status=422
    )
    assert "unknown reservation type" in html and '<details class="edit" open>' in html
    assert 'value="Typo"' in html
    assert (await api.get(f"/api/feeds/{link['id']}"))["name"] == "Hair and colour"
    bob = (await api.get("/api/users?role=customer"))["users"][1]
    theirs = await api.post("/api/feeds", {"user": bob["id"], "name": "Bob's"})
    await pages.post(f"/links/{theirs['id']}/edit", {"name": "Mine now"}, status=404)


async def test_the_api_changes_a_links_filters_and_keeps_its_url(
    api: Api, org: dict[str, Any]
) -> None:
    made = await api.post(
        "/api/feeds", {"user": "camille@example.org", "types": ["haircut"], "kind": "busy"}
    )
    changed = await api.patch(f"/api/feeds/{made['id']}", {"locations": ["anhq"]})
    assert changed["url"] == made["url"]
    assert (changed["types"], changed["locations"]) == (["haircut"], ["ANHQ"])
    assert changed["kind"] == "busy"
    await api.patch(f"/api/feeds/{made['id']}", {"types": ["nope"]}, status=422)
    await api.call("DELETE", f"/api/feeds/{made['id']}", status=204)
    await api.patch(f"/api/feeds/{made['id']}", {"name": "x"}, status=409)
    await api.patch("/api/feeds/999999", {"name": "x"}, status=404)


async def test_rotate_and_revoke_only_ones_own_links(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    bob = (await api.get("/api/users?role=customer"))["users"][1]
    theirs = await api.post("/api/feeds", {"user": bob["id"], "name": "Bob's"})
    await pages.sign_in("alice@example.com", "alice-password")
    await pages.post(f"/links/{theirs['id']}/revoke", {}, status=404)
    await pages.post(f"/links/{theirs['id']}/rotate", {}, status=404)
    assert "Bob's" not in await pages.get("/links")
    await pages.post("/links", {"name": "Mine"})
    mine = (await api.get("/api/feeds?user=alice@example.com"))["feeds"][0]
    old = mine["url"]
    _, asked = await pages.post(f"/links/{mine['id']}/rotate", {}, status=200)
    assert "Rotate this link?" in asked and 'name="confirmed" value="1"' in asked
    assert (await api.get(f"/api/feeds/{mine['id']}"))["url"] == old  # nothing yet
    location, _ = await pages.post(f"/links/{mine['id']}/rotate", {"confirmed": "1"})
    assert "link_rotated" in location
    assert (await client.get(feed_path(old))).status == 404
    await pages.post(f"/links/{mine['id']}/revoke", {"confirmed": "1"})
    rotated = await api.get(f"/api/feeds/{mine['id']}")
    assert rotated["revoked"]
    assert "Revoked" in await pages.get("/links")


async def test_an_unknown_type_in_the_form_is_explained(pages: Pages) -> None:
    await pages.sign_in("alice@example.com", "alice-password")
    _, html = await pages.post("/links", [("name", "x"), ("types", "nope")], status=422)
    assert "unknown reservation type" in html


# -- devices, settings ----------------------------------------------------------------------------


async def test_an_app_password_is_shown_once_and_the_profile_has_no_password(
    pages: Pages, client: TestClient[Any, Any]
) -> None:
    await pages.sign_in("camille@example.org", "camille-password")
    await pages.get("/devices")
    _, html = await pages.post("/devices", {"name": "iPhone"}, status=200)
    secret = re.search(r'<code id="app-password">([^<]+)</code>', html)
    assert secret
    assert secret.group(1) not in await pages.get("/devices")
    response = await client.get("/devices/feedserver.mobileconfig")
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    raw = await response.read()
    profile = plistlib.loads(raw)
    payload = profile["PayloadContent"][0]
    assert payload["PayloadType"] == "com.apple.caldav.account"
    assert payload["CalDAVUsername"] == "camille@example.org"
    assert payload["CalDAVPrincipalURL"] == "/dav/camille@example.org/"
    assert payload["CalDAVHostName"] == "127.0.0.1" and payload["CalDAVUseSSL"] is False
    assert b"camille-password" not in raw and secret.group(1).encode() not in raw
    assert "Password" not in str(payload.keys())
    camille = await client.app[RUNNER].run(lambda s: s.users.get_by_email("camille@example.org"))
    assert camille is not None
    device = await client.app[RUNNER].run(lambda s: s.app_passwords.list(camille.id))
    assert [d.name for d in device] == ["iPhone"]
    await pages.get("/devices")
    await pages.post(f"/devices/{device[0].id}/revoke", {"confirmed": "1"})
    assert "<td>iPhone</td>" not in await pages.get("/devices")


async def test_a_customer_sees_their_bookings_in_their_zone_and_adds_one_to_a_calendar(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    await api.patch("/api/users/alice@example.com", {"timezone": "America/New_York"})
    day = date.today() + timedelta(days=3)
    coming = await book(api, type="video", start=f"{day.isoformat()}T15:00:00+01:00")
    past = await book(api, start="2026-11-02T10:00:00+01:00")
    theirs = await book(
        api,
        start=f"{day.isoformat()}T10:00:00+01:00",
        attendees=[{"email": "bob@example.com", "name": "Bob"}],
    )
    await pages.sign_in("alice@example.com", "alice-password")
    html = await pages.get("/bookings")
    assert 'href="/bookings" aria-current="page"' in html
    upcoming, _, before = html.partition("<h2>Past</h2>")
    assert f'id="booking-{coming["id"]}"' in upcoming and f'id="booking-{past["id"]}"' in before
    assert f'id="booking-{theirs["id"]}"' not in html  # Bob's booking is not Alice's
    assert "09:00–09:30" in upcoming  # 15:00 in Paris is 09:00 in New York
    assert "Annecy HQ, 12 rue Royale, Annecy" in upcoming and "Camille" in upcoming
    (mine,) = [
        a
        for a in coming["online_meeting"]["attendee_links"]
        if a["attendee"] == "alice@example.com"
    ]
    assert f'href="{mine["url"]}"' in upcoming  # her own meeting link, not the room
    assert coming["online_meeting"]["provider_link"] not in html
    response = await client.get(f"/bookings/{coming['id']}.ics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    calendar = Calendar.from_ical(await response.text())
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == coming["uid"] and mine["url"] in str(event["LOCATION"])
    assert (await client.get(f"/bookings/{theirs['id']}.ics")).status == 404
    assert (await client.get("/bookings/999999.ics")).status == 404


async def test_a_customers_notification_page_shows_what_concerns_them(
    pages: Pages, api: Api
) -> None:
    await pages.sign_in("alice@example.com", "alice-password")
    html = await pages.get("/notifications")
    assert "Always sent to you" in html and "your booking is cancelled" in html
    assert 'name="short_notice"' not in html and 'name="booked"' not in html
    assert 'name="reminder" checked' in html  # the true default
    await pages.post("/notifications", {})
    found = await api.get("/api/users/alice@example.com/notification-settings")
    assert found["reminder"] is False
    assert 'name="reminder">' in await pages.get("/notifications")


async def test_notification_switches_and_profile_are_saved(pages: Pages, api: Api) -> None:
    await pages.sign_in("camille@example.org", "camille-password")
    await pages.get("/notifications")
    await pages.post("/notifications", {"booked": "on"})
    found = await api.get("/api/users/camille@example.org/notification-settings")
    assert found == {
        "booked": True,
        "cancelled": False,
        "rejected": False,
        "short_notice": False,
        "changed": False,
        "reminder": False,
    }
    await pages.get("/profile")
    await pages.post(
        "/profile", {"name": "Camille M.", "timezone": "Europe/Paris", "language": "fr"}
    )
    html = await pages.get("/profile")
    assert 'lang="fr"' in html and "Profil" in html and "Camille M." in html
    _, html = await pages.post(
        "/profile", {"name": "Typed name", "timezone": "Mars/Base", "language": ""}, status=422
    )
    assert 'value="Typed name"' in html  # kept, with the refusal (in French: her language)
    assert "Camille M." not in html.split("<main", 1)[1]


async def test_a_password_change_ends_the_other_sessions(
    pages: Pages, client: TestClient[Any, Any], aiohttp_client: Any
) -> None:
    other = Pages(await aiohttp_client(client.server))
    await other.sign_in("maya@example.org", "maya-password")
    await pages.sign_in("maya@example.org", "maya-password")
    await pages.get("/profile")
    _, html = await pages.post(
        "/profile/password",
        {"current": "wrong-one!", "password": "new-maya-pass", "password_again": "new-maya-pass"},
        status=422,
    )
    assert "The current password is wrong." in html
    await pages.post(
        "/profile/password",
        {
            "current": "maya-password",
            "password": "new-maya-pass",
            "password_again": "new-maya-pass",
        },
    )
    await pages.get("/profile")  # this browser stays signed in
    response = await other.client.get("/profile", allow_redirects=False)
    assert response.status == 303  # the other one is signed out


async def test_the_language_follows_the_browser_unless_the_person_chose(
    client: TestClient[Any, Any],
) -> None:
    html = await (await client.get("/", headers={"Accept-Language": "fr-CH, en;q=0.5"})).text()
    assert 'lang="fr"' in html and "Mot de passe" in html and "Se connecter" in html
    html = await (await client.get("/", headers={"Accept-Language": "it, en;q=0.8"})).text()
    assert 'lang="en"' in html  # no Italian: the next the browser accepts


# -- admin pages ----------------------------------------------------------------------------------


async def test_an_admin_lists_bookings_from_today_by_name_and_searches_attendees(
    pages: Pages, api: Api
) -> None:
    past = await book(api)  # 2026-12-01
    day = date.today() + timedelta(days=2)
    coming = await book(
        api,
        type="coloring",
        start=f"{day.isoformat()}T10:00:00+01:00",
        attendees=[{"email": "bob@example.com", "name": "Bob Builder"}],
    )
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/bookings")
    assert f'href="/admin/bookings/{coming["id"]}"' in html
    assert f'href="/admin/bookings/{past["id"]}"' not in html  # the list opens on today
    assert "<td>Colouring</td><td>Annecy HQ</td><td>Camille</td>" in html
    assert 'Bob Builder <span class="muted">bob@example.com</span>' in html
    html = await pages.get("/admin/bookings?start=")
    assert f'href="/admin/bookings/{past["id"]}"' in html
    html = await pages.get("/admin/bookings?start=&attendee=LIDDELL")
    assert f'href="/admin/bookings/{past["id"]}"' in html
    assert f'href="/admin/bookings/{coming["id"]}"' not in html
    html = await pages.get("/admin/bookings?start=&attendee=bob%40example")
    assert f'href="/admin/bookings/{coming["id"]}"' in html
    assert f'href="/admin/bookings/{past["id"]}"' not in html
    html = await pages.get("/admin/bookings?start=&attendee=%25")  # a literal %: no match
    assert "No booking matches." in html
    html = await pages.get("/admin/bookings?type=haircut&start=2026-12-02&end=2026-12-31")
    assert f'href="/admin/bookings/{past["id"]}"' not in html


async def test_the_day_and_week_grids_show_every_staff_member_of_a_location(
    pages: Pages, api: Api, org: dict[str, Any]
) -> None:
    weekly = await book(
        api, start="2026-12-01T10:00:00+01:00", rrule="FREQ=WEEKLY;COUNT=3"
    )  # Tuesdays
    other = await book(
        api,
        staff="owner@example.org",
        start="2026-12-08T14:15:00+01:00",
        attendees=[{"email": "bob@example.com", "name": "Bob Builder"}],
        status="pending",
    )
    elsewhere = await book(api, location="NYC1", staff="maya@example.org")
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/day?location=ANHQ&date=2026-12-08")
    columns = re.findall(r'<h2 class="head" id="col-\d+">([^<]*)</h2>', html)
    assert columns == ["Camille", "Owner"]  # everyone at Annecy HQ, by name
    assert f'href="/admin/bookings/{weekly["id"]}"' in html  # the second occurrence
    assert "<strong>10:00–10:45</strong>" in html and "<strong>14:15–15:00</strong>" in html
    assert "from-9 span-3" in html  # 10:00 is the 9th quarter hour after 08:00
    assert f'href="/admin/bookings/{other["id"]}"' in html and "(pending)" in html
    assert f'href="/admin/bookings/{elsewhere["id"]}"' not in html
    assert 'href="/admin/day?location=ANHQ&amp;date=2026-12-09" rel="next"' in html
    html = await pages.get("/admin/week?location=ANHQ&date=2026-12-09")
    assert "Week of 7 December 2026" in html
    assert html.count(f'href="/admin/bookings/{weekly["id"]}"') == 1
    assert len(re.findall(r'<h2 class="head"', html)) == 14  # 7 days x 2 people
    html = await pages.get("/admin/week?location=ANHQ&date=2026-11-30")
    assert html.count(f'href="/admin/bookings/{weekly["id"]}"') == 1
    html = await pages.get(
        f"/admin/week?location=ANHQ&date=2026-12-14&staff={org['camille']['id']}"
    )
    assert len(re.findall(r'<h2 class="head"', html)) == 7
    assert html.count(f'href="/admin/bookings/{weekly["id"]}"') == 1  # the third
    html = await pages.get("/admin/week?location=NOWHERE")
    assert "Annecy HQ ·" in html  # the admin's own location


async def test_an_admin_creates_edits_and_cancels_a_booking(
    pages: Pages, api: Api, org: dict[str, Any]
) -> None:
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/bookings/new")
    location, _ = await pages.post(
        "/admin/bookings/new",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": str(org["camille"]["id"]),
            "start": "2026-12-10T09:30",
            "attendees": "alice@example.com",
            "status": "pending",
        },
    )
    booking_id = int(location.split("/")[-1].split("?")[0])
    made = await api.get(f"/api/bookings/{booking_id}")
    assert made["start"] == "2026-12-10T09:30:00+01:00" and made["status"] == "pending"
    await pages.get(f"/admin/bookings/{booking_id}")
    await pages.post(
        f"/admin/bookings/{booking_id}",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": str(org["camille"]["id"]),
            "start": "2026-12-10T11:00",
            "end": "2026-12-10T12:00",
            "attendees": "alice@example.com\nbob@example.com",
            "title": "Two of them",
        },
    )
    changed = await api.get(f"/api/bookings/{booking_id}")
    assert changed["start"] == "2026-12-10T11:00:00+01:00"
    assert [a["email"] for a in changed["attendees"]] == ["alice@example.com", "bob@example.com"]
    await pages.post(f"/admin/bookings/{booking_id}/confirm", {})
    await pages.post(f"/admin/bookings/{booking_id}/cancel", {"confirmed": "1"})
    assert (await api.get(f"/api/bookings/{booking_id}"))["status"] == "cancelled"
    # A refused form keeps what was typed, the error beside its field.
    typed = {
        "type": "coloring",
        "location": "NYC1",
        "staff": str(org["maya"]["id"]),
        "start": "soon",
        "title": "Kept title",
        "attendees": "zoe@example.com",
        "notes": "Bring the dye",
        "status": "pending",
    }
    _, html = await pages.post("/admin/bookings/new", typed, status=422)
    assert 'id="err-start"' in html and 'aria-describedby="err-start"' in html
    assert 'value="Kept title"' in html and ">zoe@example.com</textarea>" in html
    assert ">Bring the dye</textarea>" in html and '<option value="coloring" selected>' in html
    assert '<option value="NYC1" selected>' in html and '<option value="pending" selected>' in html


async def test_a_bridged_booking_is_read_only_with_the_reason(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    made = await book(api)
    await client.app[RUNNER].run(
        lambda s: s.db.execute("UPDATE bookings SET source = 'caldav' WHERE id = ?", (made["id"],))
    )
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get(f"/admin/bookings/{made['id']}")
    assert "Read-only: this booking comes from a calendar invitation" in html
    assert "<fieldset disabled>" in html
    _, html = await pages.post(
        f"/admin/bookings/{made['id']}/cancel", {"confirmed": "1"}, status=409
    )
    assert "comes from a calendar event" in html


async def test_an_admin_generates_a_link_for_a_person(pages: Pages, api: Api) -> None:
    alice = await api.get("/api/users/alice@example.com")
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get(f"/admin/feed-links?user={alice['id']}")
    location, _ = await pages.post(
        "/admin/feed-links",
        [("user", str(alice["id"])), ("name", "Haircuts for Alice"), ("types", "haircut")],
    )
    assert location == f"/admin/feed-links?user={alice['id']}&notice=link_created"
    found = (await api.get(f"/api/feeds?user={alice['id']}"))["feeds"]
    assert [(f["name"], f["types"]) for f in found] == [("Haircuts for Alice", ["haircut"])]
    html = await pages.get(location)
    assert "Haircuts for Alice" in html and "webcal://" in html
    await pages.post(f"/admin/feed-links/{found[0]['id']}/revoke", {"confirmed": "1"})
    assert (await api.get(f"/api/feeds/{found[0]['id']}"))["revoked"]


async def test_an_admin_adds_and_edits_locations_and_types(pages: Pages, api: Api) -> None:
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/locations")
    await pages.post(
        "/admin/locations",
        {"original": "", "code": "lyon", "name": "Lyon", "address": "", "timezone": "Europe/Paris"},
    )
    await pages.post(
        "/admin/locations",
        {
            "original": "LYON",
            "code": "LYON",
            "name": "Lyon Centre",
            "address": "1 place Bellecour",
            "timezone": "Europe/Paris",
        },
    )
    assert (await api.get("/api/locations/LYON"))["name"] == "Lyon Centre"
    _, bad = await pages.post(
        "/admin/locations",
        {"original": "", "code": "x y", "name": "Bad", "timezone": "Europe/Paris"},
        status=422,
    )
    assert 'class="error"' in bad and "Bad" not in str(await api.get("/api/locations"))
    assert 'id="err-new"' in bad and 'value="x y"' in bad and 'value="Bad"' in bad
    # A location with bookings is not deleted, and the page says how many.
    await book(api)
    _, html = await pages.post("/admin/locations/ANHQ/delete", {"confirmed": "1"}, status=409)
    assert "Annecy HQ (ANHQ) has 1 bookings and cannot be deleted" in html
    location, _ = await pages.post("/admin/locations/LYON/delete", {"confirmed": "1"})
    assert location == "/admin/locations?notice=deleted"
    await api.get("/api/locations/LYON", status=404)
    await pages.post("/admin/locations/NOPE/delete", {"confirmed": "1"}, status=404)
    await pages.get("/admin/types")
    await pages.post(
        "/admin/types",
        {
            "original": "haircut",
            "key": "haircut",
            "name": "Haircut",
            "duration_minutes": "30",
            "buffer_before_minutes": "5",
            "buffer_after_minutes": "10",
            "online": "on",
        },
    )
    found = await api.get("/api/types/haircut")
    assert (found["duration_minutes"], found["buffer_before_minutes"], found["online"]) == (
        30,
        5,
        True,
    )


async def test_templates_preview_on_a_real_booking_and_save(pages: Pages, api: Api) -> None:
    made = await book(api)
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/templates?type=haircut")
    _, html = await pages.post(
        "/admin/templates",
        {
            "type": "haircut",
            "summary": "%service_name% with %staff_name%",
            "description": "",
            "action": "preview",
        },
        status=200,
    )
    assert "Haircut with Camille" in html
    _, html = await pages.post(
        "/admin/templates",
        {"type": "haircut", "summary": "%nope%", "description": "", "action": "save"},
        status=422,
    )
    assert "nope" in html
    await pages.post(
        "/admin/templates",
        {"type": "haircut", "summary": "✂ %service_name%", "description": "", "action": "save"},
    )
    saved = await api.get("/api/feed-templates")
    assert "✂ %service_name%" in str(saved)
    await pages.post(
        "/admin/email-templates",
        {
            "audience": "attendee",
            "kind": "booked",
            "language": "en",
            "subject": "Hi [customer_name]",
            "body": "See you at [booking_start_time]",
        },
    )
    html = await pages.get("/admin/templates?email=attendee/booked&language=en")
    assert 'value="Hi [customer_name]"' in html and "Reset to default" in html
    assert "<strong data-preview-subject>Hi Alice Liddell</strong>" in html
    assert '<optgroup label="To attendees">' in html and "A booking is made (changed)" in html
    # The preview in another language, of a draft, on the same real booking.
    _, html = await pages.post(
        "/admin/email-templates",
        {
            "audience": "staff",
            "kind": "booked",
            "language": "de",
            "subject": "[service_name] am [booking_start_date]",
            "body": "Mit [customer_name]",
            "action": "preview",
        },
        status=200,
    )
    assert "Haircut am Dienstag, 1. Dezember 2026" in html and "Mit Alice Liddell" in html
    live = await pages.client.post(
        "/admin/email-templates/preview",
        data={
            "csrf": pages.token,
            "audience": "account",
            "kind": "invitation",
            "language": "es",
            "subject": "Hola [person_name]",
            "body": "[link_valid_for]",
        },
    )
    assert await live.json() == {
        "booking": f"#{made['id']}",
        "booking_link": f"/admin/bookings/{made['id']}",
        "subject": "Hola Alice Liddell",
        "body": "7 días",
    }
    _, html = await pages.post(
        "/admin/email-templates",
        {"audience": "attendee", "kind": "booked", "language": "en", "subject": "[nope]"}
        | {"body": "kept body"},
        status=422,
    )
    assert 'id="err-email"' in html and ">kept body</textarea>" in html
    # Reset to default asks first, then the default wording is back.
    reset = {"audience": "attendee", "kind": "booked", "language": "en", "action": "reset"}
    _, asked = await pages.post("/admin/email-templates", reset, status=200)
    assert "Put this email back to its default wording?" in asked
    await pages.post("/admin/email-templates", {**reset, "confirmed": "1"})
    html = await pages.get("/admin/templates?email=attendee/booked&language=en")
    assert "Hi [customer_name]" not in html and "default wording" in html


async def test_inbox_outbox_and_meetings_pages(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    await book(api, type="video", start="2026-12-05T10:00:00+01:00")
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/inbox")
    assert "Nothing has arrived yet." in html and "[bridge] invite_address" in html
    await pages.get("/admin/outbox")
    await pages.post("/admin/outbox/retry-failed", {})
    html = await pages.get("/admin/meetings?start=2026-12-01&end=2026-12-31")
    assert "alice@example.com" in html
    response = await client.get("/admin/meetings.csv?start=2026-12-01&end=2026-12-31")
    text = await response.text()
    assert response.content_type == "text/csv"
    assert text.splitlines()[0].startswith("booking,start,type,staff,attendee")
    assert "alice@example.com" in text and "/meet/" in text


async def test_the_bootstrap_token_makes_the_first_admin_once(
    client: TestClient[Any, Any],
) -> None:
    pages = Pages(client)
    assert "/bootstrap" in await pages.get("/")
    await pages.get("/bootstrap")
    _, refused = await pages.post(
        "/bootstrap",
        {"token": "wrong", "name": "First", "email": "first@example.org", "password": "first-pass"},
        status=401,
    )
    assert "Admin token" in refused and 'value="first@example.org"' in refused
    location, _ = await pages.post(
        "/bootstrap",
        {
            "token": "test-admin-token-0123456789",
            "name": "First",
            "email": "first@example.org",
            "password": "first-pass",
            "timezone": "Europe/Paris",
        },
    )
    assert location.startswith("/links")
    assert "Bookings" in await pages.get("/admin/bookings")
    client.session.cookie_jar.clear()
    await pages.get("/bootstrap", status=404)


async def test_an_admin_sets_a_types_reminders_and_colour(pages: Pages, api: Api) -> None:
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/types")
    assert 'type="color"' in html and 'name="reminder_amount"' in html
    fields = [
        ("original", "haircut"),
        ("key", "haircut"),
        ("name", "Haircut"),
        ("duration_minutes", "45"),
        ("color", "#aa3366"),
        ("reminders_mode", "custom"),
        *[("reminder_amount", a) for a in ("1", "60", "")],
        *[("reminder_unit", u) for u in ("days", "minutes", "hours")],
        *[("reminder_to", t) for t in ("attendees", "both", "attendees")],
    ]
    await pages.post("/admin/types", fields)
    found = await api.get("/api/types/haircut")
    assert found["reminders"] == [
        {"before_minutes": 1440, "to": ["attendees"]},
        {"before_minutes": 60, "to": ["attendees", "staff"]},
    ]
    assert found["color"] == "#aa3366"
    html = await pages.get("/admin/types")
    assert 'name="reminder_amount" min="1" value="1"' in html
    assert '<option value="hours" selected>hours</option>' in html  # 60 minutes: 1 hour
    # A refused form keeps what was typed, the error beside it.
    typed = [(k, v) for k, v in fields if k != "reminder_amount"]
    typed += [("reminder_amount", "soon"), ("reminder_amount", "2")]
    _, html = await pages.post("/admin/types", [*typed, ("name", "")], status=422)
    assert "Reminder 1: a whole number, a unit and who is reminded" in html
    assert 'id="err-haircut"' in html and 'value="soon"' in html
    await pages.post("/admin/types", [*fields[:4], ("reminders_mode", "none"), ("no_color", "on")])
    found = await api.get("/api/types/haircut")
    assert (found["reminders"], found["color"]) == ([], "")
    await pages.post("/admin/types", [*fields[:4], ("reminders_mode", "default")])
    assert (await api.get("/api/types/haircut"))["reminders"] is None


async def test_an_admin_changes_a_role_and_deactivates_then_reactivates_a_person(
    pages: Pages, client: TestClient[Any, Any], api: Api, aiohttp_client: Any
) -> None:
    made = await book(api)
    camille = await api.get("/api/users/camille@example.org")
    link = await api.post("/api/feeds", {"user": camille["id"], "name": "Work"})
    feed = feed_path(link["url"])
    assert (await client.get(feed)).status == 200
    theirs = Pages(await aiohttp_client(client.server))
    await theirs.sign_in("camille@example.org", "camille-password")
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/people")
    assert f'action="/admin/people/{camille["id"]}/role"' in html
    await pages.post(f"/admin/people/{camille['id']}/role", {"role": "admin"})
    assert (await api.get(f"/api/users/{camille['id']}"))["role"] == "admin"
    await pages.post(f"/admin/people/{camille['id']}/role", {"role": "staff"})
    owner = await api.get("/api/users/owner@example.org")
    _, html = await pages.post(f"/admin/people/{owner['id']}/role", {"role": "staff"}, status=409)
    assert "you cannot change your own role" in html
    _, asked = await pages.post(f"/admin/people/{camille['id']}/deactivate", {}, status=200)
    assert "Deactivate this person?" in asked
    await pages.post(f"/admin/people/{camille['id']}/deactivate", {"confirmed": "1"})
    # At once: the feed, the session, the password and the API answer no more.
    assert (await client.get(feed)).status == 403
    assert (await theirs.client.get("/links", allow_redirects=False)).status == 303
    response = await client.get(
        "/api/me", headers={"Authorization": basic_auth("camille@example.org", "camille-password")}
    )
    assert response.status == 401
    assert (await api.get(f"/api/bookings/{made['id']}"))["status"] == "confirmed"
    assert "deactivated" in await pages.get("/admin/people")
    await pages.post(f"/admin/people/{camille['id']}/reactivate", {})
    assert (await client.get(feed)).status == 200
    response = await client.get(
        "/api/me", headers={"Authorization": basic_auth("camille@example.org", "camille-password")}
    )
    assert response.status == 200
    again = await api.post(f"/api/users/{camille['id']}/deactivate", status=200)
    assert again["active"] is False and again["deactivated_at"]
    assert (await client.get(feed)).status == 403
    assert (await api.post(f"/api/users/{camille['id']}/reactivate", status=200))["active"]


async def test_buttons_that_ask_first_work_without_javascript(pages: Pages, api: Api) -> None:
    made = await book(api)
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get(f"/admin/bookings/{made['id']}")
    _, asked = await pages.post(f"/admin/bookings/{made['id']}/cancel", {}, status=200)
    assert "Cancel this booking? Attendees are told by email." in asked
    assert (await api.get(f"/api/bookings/{made['id']}"))["status"] == "confirmed"
    action = re.search(r'<form method="post" action="([^"]+)">', asked.split("<main", 1)[1])
    assert action and action.group(1) == f"/admin/bookings/{made['id']}/cancel"
    await pages.post(action.group(1), {"confirmed": "1"})
    assert (await api.get(f"/api/bookings/{made['id']}"))["status"] == "cancelled"


async def test_an_admin_retries_a_failed_notification(
    pages: Pages, client: TestClient[Any, Any], api: Api
) -> None:
    await book(api)
    first = (await client.app[RUNNER].run(lambda s: s.outbox.list()))[0]
    await client.app[RUNNER].run(
        lambda s: s.outbox.mark_failed_attempt(first.id, 3, "550 no such user", None)
    )
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/outbox?status=failed")
    assert "550 no such user" in html and f'action="/admin/outbox/{first.id}/retry"' in html
    await pages.post(f"/admin/outbox/{first.id}/retry", {})
    again = await client.app[RUNNER].run(lambda s: s.outbox.one(first.id))
    assert again.status == "pending"


async def test_a_staff_member_sets_working_hours_and_a_calendar_on_their_page(
    pages: Pages, api: Api
) -> None:
    await pages.sign_in("camille@example.org", "camille-password")
    html = await pages.get("/availability")
    assert "Working hours" in html and "<legend>Monday</legend>" in html
    assert 'type="time" name="mon-start"' in html and 'type="date" name="exception-date"' in html
    # Two breaks on Monday, a holiday and a short day; rows left empty are no rows.
    await pages.post(
        "/availability/hours",
        [
            ("mode", "hours"),
            ("timezone", "Europe/Paris"),
            *[("mon-start", t) for t in ("09:00", "13:00", "15:30", "")],
            *[("mon-end", t) for t in ("12:00", "15:00", "18:00", "")],
            ("tue-start", "09:00"),
            ("tue-end", "00:00"),  # midnight at the end of the day
            *[("exception-date", d) for d in ("2026-12-24", "2026-12-31", "")],
            *[("exception-start", t) for t in ("", "09:00", "")],
            *[("exception-end", t) for t in ("", "12:00", "")],
        ],
    )
    saved = await api.get("/api/users/camille@example.org/working-hours")
    assert saved["weekly"] == {
        "mon": [["09:00", "12:00"], ["13:00", "15:00"], ["15:30", "18:00"]],
        "tue": [["09:00", "24:00"]],
    }
    assert saved["exceptions"] == [
        {"date": "2026-12-24", "hours": []},
        {"date": "2026-12-31", "hours": [["09:00", "12:00"]]},
    ]
    html = await pages.get("/availability")
    assert 'name="mon-start" value="15:30"' in html and 'name="tue-end" value="00:00"' in html
    assert 'name="exception-date" value="2026-12-24"' in html
    assert '<option value="Europe/Paris" selected>Paris · France</option>' in html
    await pages.post("/availability/hours", {"mode": "always"})
    await api.get("/api/users/camille@example.org/working-hours", status=404)


async def test_a_refused_working_hours_form_keeps_what_was_typed_and_names_the_day(
    pages: Pages, api: Api
) -> None:
    await pages.sign_in("camille@example.org", "camille-password")
    await pages.get("/availability")
    typed = [
        ("mode", "hours"),
        ("timezone", "Europe/Paris"),
        *[("wed-start", t) for t in ("09:00", "11:00")],
        *[("wed-end", t) for t in ("12:00", "14:00")],
        ("thu-start", "09:00"),
        ("thu-end", "17:00"),
    ]
    _, html = await pages.post("/availability/hours", typed, status=422)
    assert "Wednesday: two ranges overlap" in html and 'id="err-wed"' in html
    assert 'name="wed-start" value="11:00"' in html and 'name="thu-end" value="17:00"' in html
    _, html = await pages.post(
        "/availability/hours",
        [
            ("mode", "hours"),
            ("timezone", "Europe/Paris"),
            ("fri-start", "17:00"),
            ("fri-end", "09:00"),
        ],
        status=422,
    )
    assert "Friday, hours 1: the end must come after the start" in html
    _, html = await pages.post(
        "/availability/hours",
        [("mode", "hours"), ("timezone", "Europe/Paris"), ("sat-start", "10:00")],
        status=422,
    )
    assert "Saturday, hours 1: give both a start and an end" in html
    _, html = await pages.post(
        "/availability/hours",
        [
            ("mode", "hours"),
            ("timezone", "Mars/Olympus"),
            ("mon-start", "09:00"),
            ("mon-end", "12:00"),
            ("exception-start", "09:00"),
            ("exception-end", "10:00"),
        ],
        status=422,
    )
    assert 'id="err-timezone"' in html and "Exception 1: which date?" in html
    # Hours typed while "always available" is chosen are not dropped silently.
    _, html = await pages.post(
        "/availability/hours",
        [
            ("mode", "always"),
            ("timezone", "Europe/Paris"),
            ("mon-start", "09:00"),
            ("mon-end", "12:00"),
        ],
        status=422,
    )
    assert "chose “Always available”" in html and 'name="mon-end" value="12:00"' in html
    await api.get("/api/users/camille@example.org/working-hours", status=404)
    # The calendar form keeps the name and address (never the password) with its error.
    _, html = await pages.post(
        "/availability/calendars",
        {"name": "Mine", "url": "http://127.0.0.1/x.ics", "username": "me", "password": "Zq9-sec"},
        status=422,
    )
    assert "private address" in html and 'id="err-calendar"' in html
    assert 'value="Mine"' in html and 'value="http://127.0.0.1/x.ics"' in html
    assert 'value="me"' in html and "Zq9-sec" not in html


async def test_customers_have_no_availability_page(pages: Pages) -> None:
    await pages.sign_in("alice@example.com", "alice-password")
    html = await pages.get("/availability", status=403)
    assert "This page is for staff members." in html
    assert 'href="/availability"' not in await pages.get("/links")


async def test_staff_make_a_free_busy_link(pages: Pages, api: Api) -> None:
    await pages.sign_in("camille@example.org", "camille-password")
    await pages.get("/links")
    await pages.post("/links", [("name", "For partners"), ("kind", "busy")])
    found = (await api.get("/api/feeds?user=camille@example.org"))["feeds"]
    assert [(f["name"], f["kind"]) for f in found] == [("For partners", "busy")]


# -- errors as pages (issue 25, defect 8) ---------------------------------------------------------


async def test_booking_dates_outside_the_window_are_field_errors_on_the_form(
    pages: Pages, org: dict[str, Any]
) -> None:
    await pages.sign_in("owner@example.org", "owner-password")
    for start in ("9999-06-01T10:00", "1900-01-01T10:00"):
        await pages.get("/admin/bookings/new")
        _, html = await pages.post(
            "/admin/bookings/new",
            {
                "type": "haircut",
                "location": "ANHQ",
                "staff": str(org["camille"]["id"]),
                "start": start,
            },
            status=422,
        )
        assert "1970-01-01 to 2200-12-31" in html
        assert '{"error"' not in html and "<form" in html
    assert "1900" not in await pages.get("/admin/bookings")


async def test_unknown_pages_are_pages_for_browsers_and_json_for_the_api(
    client: TestClient[Any, Any], pages: Pages
) -> None:
    html_accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    response = await client.get("/no-such-page", headers=html_accept)
    assert response.status == 404 and response.content_type == "text/html"
    html = await response.text()
    assert "<h1>Not found</h1>" in html and 'href="/"' in html
    french = await client.get("/no-such-page", headers={**html_accept, "Accept-Language": "fr"})
    assert "<h1>Introuvable</h1>" in await french.text()
    response = await client.delete("/links", headers=html_accept)
    assert response.status == 405 and response.content_type == "text/html"
    assert "GET" in response.headers["Allow"]
    for path in ("/api/nothing", "/feeds/nothing"):
        response = await client.get(path, headers=html_accept)
        assert response.status == 404 and response.content_type == "application/json"
    response = await client.get("/no-such-page")  # no HTML asked: JSON, as before
    assert response.content_type == "application/json"
    await pages.sign_in("owner@example.org", "owner-password")
    html = await pages.get("/admin/bookings/999999", status=404)
    assert 'href="/links"' in html


async def test_a_failing_page_is_a_500_page_that_says_nothing_changed(
    pages: Pages, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from feedserver.web.pages import links

    await pages.sign_in("alice@example.com", "alice-password")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(links, "qr_svg", broken)
    await pages.client.post(
        "/links", data={"name": "Mine", "csrf": pages.token}, allow_redirects=False
    )
    response = await pages.client.get("/links")
    assert response.status == 500 and response.content_type == "text/html"
    text = await response.text()
    assert "Nothing was changed" in text and "disk on fire" not in text
    assert "page failed" in caplog.text
