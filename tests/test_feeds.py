"""Subscription feeds: links, filters, content, HTTP behaviour and the cache."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import recurring_ical_events

from feedserver.web.state import FEEDS, RUNNER
from tests.conftest import Api, basic_auth, book, make_org
from tests.feedhelp import fetch, new_link, parse, path_of, uids

Org = dict[str, Any]
IDENTITY = {"Accept-Encoding": "identity"}


async def _calendar(api: Api, link: dict[str, Any]) -> Any:
    status, body, _ = await fetch(api, link, **IDENTITY)
    assert status == 200
    return parse(body)


async def test_link_url_is_short_signed_and_has_webcal_form(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org", name="Camille")
    assert link["url"].startswith("http://127.0.0.1:8080/feeds/") and link["url"].endswith(".ics")
    assert link["webcal_url"] == "webcal://" + link["url"].removeprefix("http://")
    assert len(link["url"]) < 120
    assert (link["scope"], link["statuses"], link["show_attendees"]) == (
        "own",
        ["confirmed"],
        False,
    )


async def test_feed_is_valid_icalendar_without_organizer_or_attendees(api: Api, org: Org) -> None:
    booking = await book(api)
    link = await new_link(
        api, "camille@example.org", name="Camille's bookings", show_attendees=True
    )
    status, body, headers = await fetch(api, link, **IDENTITY)
    assert status == 200
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert headers["Content-Disposition"].startswith('inline; filename="Camille_s bookings.ics"')
    calendar = parse(body)
    for name, value in [
        ("VERSION", "2.0"),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", "PUBLISH"),
        ("X-WR-CALNAME", "Camille's bookings"),
        ("NAME", "Camille's bookings"),
    ]:
        assert str(calendar[name]) == value
    assert "feedserver" in str(calendar["PRODID"])
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in body
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == booking["uid"]
    assert "ORGANIZER" not in event and "ATTENDEE" not in event
    assert b"ORGANIZER" not in body and b"ATTENDEE" not in body
    assert str(event["SUMMARY"]) == "Haircut · Alice Liddell"
    assert "Annecy HQ (ANHQ), 12 rue Royale, Annecy" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == "Annecy HQ, 12 rue Royale, Annecy"
    assert event["CATEGORIES"].cats == ["Haircut"]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Paris")) == event.DTSTART
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    stamp = datetime.fromisoformat(booking["updated_at"].replace("Z", "+00:00"))
    assert event.DTSTAMP == event.LAST_MODIFIED == stamp


async def test_filters_never_leak_other_bookings(api: Api, org: Org) -> None:
    mine = await book(api)
    other_type = await book(api, type="coloring", start="2026-12-02T10:00:00+01:00")
    other_place = await book(api, location="NYC1", start="2026-12-03T10:00:00+01:00")
    pending = await book(api, status="pending", start="2026-12-04T10:00:00+01:00")
    maya = await book(
        api, staff=org["maya"]["id"], attendees=[{"email": "bob@example.com", "name": "Bob"}]
    )
    cancelled = await book(api, start="2026-12-05T10:00:00+01:00")
    await api.post(f"/api/bookings/{cancelled['id']}/cancel", status=200)

    haircuts_here = await new_link(
        api, "camille@example.org", types=["haircut"], locations=["anhq"]
    )
    assert uids(await _calendar(api, haircuts_here)) == {mine["uid"]}
    everything = await new_link(api, "camille@example.org", include_pending=True)
    assert uids(await _calendar(api, everything)) == {
        mine["uid"],
        other_type["uid"],
        other_place["uid"],
        pending["uid"],
    }
    # Maya's booking never shows in Camille's own feed, whatever the filters say.
    sneaky = await new_link(api, "camille@example.org", staff=[org["maya"]["id"]])
    assert uids(await _calendar(api, sneaky)) == set()
    # An admin's "all" scope shows the organisation, filtered by staff.
    org_wide = await new_link(api, "owner@example.org", scope="all", staff=["maya@example.org"])
    assert uids(await _calendar(api, org_wide)) == {maya["uid"]}
    # Customers see their own bookings only.
    bob = await new_link(api, "bob@example.com")
    assert uids(await _calendar(api, bob)) == {maya["uid"]}
    alice = await new_link(api, "alice@example.com", include_pending=True)
    assert maya["uid"] not in uids(await _calendar(api, alice))


async def test_customer_never_sees_other_customers_unless_the_type_allows(
    api: Api, org: Org
) -> None:
    group = [
        {"email": "alice@example.com", "name": "Alice Liddell"},
        {"email": "bob@example.com", "name": "Bob Builder"},
    ]
    await book(api, attendees=group, notes="Internal: pays later")
    alice = await new_link(api, "alice@example.com", show_attendees=True)
    body = (await fetch(api, alice, **IDENTITY))[1]
    assert b"Alice Liddell" in body
    assert b"Bob" not in body and b"bob@" not in body
    await api.patch("/api/types/haircut", {"attendees_visible": True})
    body = (await fetch(api, alice, **IDENTITY))[1]
    assert b"Bob Builder" in body
    assert b"pays later" not in body  # notes are for staff
    staff_feed = await new_link(api, "camille@example.org", show_attendees=False)
    body = (await fetch(api, staff_feed, **IDENTITY))[1]
    assert b"Alice" not in body and b"Bob" not in body
    assert b"pays later" in body


async def test_scope_all_is_for_admins_and_superadmin_gets_no_feed(api: Api, org: Org) -> None:
    refused = await api.post(
        "/api/feeds", {"user": "camille@example.org", "scope": "all"}, status=403
    )
    assert "admins" in refused["message"]
    no_user = await api.post("/api/feeds", {"name": "mine"}, status=422)
    assert no_user["field"] == "user" and "super-admin" in no_user["message"]
    me = await api.post("/api/me/feeds", {"name": "mine"}, status=403)
    assert me["error"] == "not_a_personal_account"
    bad = await api.post(
        "/api/feeds", {"user": "camille@example.org", "types": ["massage"]}, status=422
    )
    assert (bad["error"], bad["field"]) == ("unknown_reference", "types")
    bad = await api.post(
        "/api/feeds", {"user": "camille@example.org", "statuses": ["done"]}, status=422
    )
    assert bad["field"] == "statuses"


async def test_revoked_link_returns_410_at_once(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org")
    assert (await fetch(api, link))[0] == 200
    await api.call("DELETE", f"/api/feeds/{link['id']}", status=204)
    assert (await fetch(api, link))[0] == 410
    listed = await api.get(f"/api/feeds/{link['id']}")
    assert listed["revoked"] is True and listed["url"] is None
    await api.post(f"/api/feeds/{link['id']}/rotate", status=409)


async def test_tampered_or_unknown_tokens_return_404_without_detail(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org")
    token = path_of(link).removeprefix("/feeds/").removesuffix(".ics")
    link_id, nonce, signature = token.split(".")
    forged = [
        f"{link_id}.{nonce}.{signature[:-2]}AA",
        f"{int(link_id) + 1}.{nonce}.{signature}",
        f"{link_id}.{nonce[:-1]}x.{signature}",
        "garbage",
        f"{link_id}.{nonce}",
    ]
    for bad in forged:
        response = await api.client.get(f"/feeds/{bad}.ics")
        assert response.status == 404, bad
        assert (await response.json())["message"] == "no such feed"


async def test_rotated_link_kills_the_old_url(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org")
    rotated = await api.post(f"/api/feeds/{link['id']}/rotate", status=200)
    assert rotated["url"] != link["url"] and rotated["id"] == link["id"]
    assert (await fetch(api, link))[0] == 404
    assert (await fetch(api, rotated))[0] == 200


async def test_conditional_requests_and_head(api: Api, org: Org) -> None:
    await book(api)
    link = await new_link(api, "camille@example.org")
    _, body, headers = await fetch(api, link, **IDENTITY)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert headers["Cache-Control"] == "private, max-age=300"
    assert (await fetch(api, link, **IDENTITY, **{"If-None-Match": etag}))[0] == 304
    assert (await fetch(api, link, **IDENTITY, **{"If-None-Match": f'"x", W/{etag}'}))[0] == 304
    assert (await fetch(api, link, **IDENTITY, **{"If-Modified-Since": last_modified}))[0] == 304
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert (await fetch(api, link, **IDENTITY, **{"If-Modified-Since": earlier}))[0] == 200
    # If-None-Match takes precedence over If-Modified-Since.
    both = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert (await fetch(api, link, **IDENTITY, **both))[0] == 200
    head = await api.client.head(path_of(link), headers=IDENTITY)
    assert head.status == 200 and head.headers["ETag"] == etag
    assert int(head.headers["Content-Length"]) == len(body)
    assert await head.read() == b""


async def test_any_accept_header_gets_the_calendar(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org")
    for accept in (None, "text/calendar", "application/json", "text/html;q=0.9"):
        headers = {**IDENTITY, **({"Accept": accept} if accept else {})}
        response = await api.client.get(
            path_of(link), headers=headers, skip_auto_headers=["Accept"]
        )
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"


async def test_gzip_when_asked_and_identical_bytes_every_time(api: Api, org: Org) -> None:
    await book(api)
    link = await new_link(api, "camille@example.org")
    plain = [(await fetch(api, link, **IDENTITY))[1] for _ in range(3)]
    assert plain[0] == plain[1] == plain[2]
    response = await api.client.get(
        path_of(link), headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["ETag"].endswith('-gz"')
    assert gzip.decompress(await response.read()) == plain[0]
    refused = await api.client.get(
        path_of(link), headers={"Accept-Encoding": "gzip;q=0"}, auto_decompress=False
    )
    assert "Content-Encoding" not in refused.headers


async def test_change_shows_on_next_fetch_with_higher_sequence(api: Api, org: Org) -> None:
    booking = await book(api)
    link = await new_link(api, "camille@example.org")
    first = (await _calendar(api, link)).walk("VEVENT")[0]
    _, _, headers = await fetch(api, link, **IDENTITY)
    await api.patch(f"/api/bookings/{booking['id']}", {"start": "2026-12-01T15:00:00+01:00"})
    status, body, new_headers = await fetch(
        api, link, **IDENTITY, **{"If-None-Match": headers["ETag"]}
    )
    assert status == 200
    second = parse(body).walk("VEVENT")[0]
    assert second["SEQUENCE"] == first["SEQUENCE"] + 1
    assert second.LAST_MODIFIED > first.LAST_MODIFIED
    assert second.DTSTART.hour == 15
    assert new_headers["ETag"] != headers["ETag"]


async def test_cancelled_bookings_disappear_or_show_as_cancelled(api: Api, org: Org) -> None:
    booking = await book(api)
    plain = await new_link(api, "camille@example.org")
    shown = await new_link(api, "camille@example.org", show_cancelled=True)
    assert uids(await _calendar(api, plain)) == {booking["uid"]}
    await api.post(f"/api/bookings/{booking['id']}/cancel", status=200)
    assert uids(await _calendar(api, plain)) == set()
    (event,) = (await _calendar(api, shown)).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1


async def test_pending_bookings_are_tentative(api: Api, org: Org) -> None:
    await book(api, status="pending")
    link = await new_link(api, "camille@example.org", include_pending=True)
    (event,) = (await _calendar(api, link)).walk("VEVENT")
    assert str(event["STATUS"]) == "TENTATIVE"


async def test_timezones_across_dst_in_expanded_events(api: Api, org: Org) -> None:
    # Weekly at 10:00 in Paris across 2027-03-28, and at 09:00 in New York across 2027-03-14.
    paris = await book(api, start="2027-03-15T10:00:00+01:00", rrule="FREQ=WEEKLY;COUNT=4")
    york = await book(
        api,
        staff=org["maya"]["id"],
        location="NYC1",
        start="2027-03-08T09:00:00-05:00",
        rrule="FREQ=WEEKLY;COUNT=3",
    )
    link = await new_link(api, "owner@example.org", scope="all")
    calendar = await _calendar(api, link)
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {
        "Europe/Paris",
        "America/New_York",
    }
    occurrences = recurring_ical_events.of(calendar).between((2027, 3, 1), (2027, 4, 30))
    by_uid: dict[str, list[datetime]] = {}
    for event in occurrences:
        by_uid.setdefault(str(event["UID"]), []).append(event.DTSTART)
    paris_starts = sorted(by_uid[paris["uid"]])
    assert [d.astimezone(ZoneInfo("Europe/Paris")).hour for d in paris_starts] == [10] * 4
    assert [d.astimezone(UTC).hour for d in paris_starts] == [9, 9, 8, 8]
    york_starts = sorted(by_uid[york["uid"]])
    assert [d.astimezone(UTC).hour for d in york_starts] == [14, 13, 13]


async def test_all_day_booking_uses_dates_with_exclusive_end(api: Api, org: Org) -> None:
    await book(api, all_day=True, start="2026-12-24", end="2026-12-26")
    link = await new_link(api, "camille@example.org")
    body = (await fetch(api, link, **IDENTITY))[1]
    assert b"DTSTART;VALUE=DATE:20261224\r\n" in body
    assert b"DTEND;VALUE=DATE:20261226\r\n" in body
    days = recurring_ical_events.of(parse(body)).between((2026, 12, 1), (2027, 1, 1))
    assert len(days) == 1


async def test_recurring_booking_with_an_exception(api: Api, org: Org) -> None:
    booking = await book(api, rrule="FREQ=WEEKLY;COUNT=4", exdates=["2026-12-15T10:00:00+01:00"])
    link = await new_link(api, "camille@example.org")
    calendar = await _calendar(api, link)
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == booking["uid"]
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=4"
    starts = [
        e.DTSTART.date().isoformat()
        for e in recurring_ical_events.of(calendar).between((2026, 11, 1), (2027, 2, 1))
    ]
    assert starts == ["2026-12-01", "2026-12-08", "2026-12-22"]


async def test_buffers_widen_the_event_when_asked(api: Api, org: Org) -> None:
    await book(api, type="coloring")  # 15 min before and after
    link = await new_link(api, "camille@example.org", include_buffers=True)
    (event,) = (await _calendar(api, link)).walk("VEVENT")
    assert (event.DTSTART.hour, event.DTSTART.minute) == (9, 45)
    assert (event.DTEND.hour, event.DTEND.minute) == (11, 45)
    assert "Appointment 10:00–11:30" in str(event["DESCRIPTION"])


async def test_long_non_ascii_text_folds_on_character_boundaries(api: Api, org: Org) -> None:
    notes = "Écharpe oubliée 🧣 — " * 40 + "漢字のテキスト" * 20
    await book(api, notes=notes)
    link = await new_link(api, "camille@example.org")
    (event,) = (await _calendar(api, link)).walk("VEVENT")  # parse() checks every line
    assert notes.strip() in str(event["DESCRIPTION"])


async def test_templates_with_shortcodes(api: Api, org: Org) -> None:
    refused = await api.call(
        "PUT",
        "/api/feed-templates/default",
        {"summary": "%service_name% %unknown_code%"},
        status=422,
    )
    assert "%unknown_code%" in refused["message"]
    await api.call(
        "PUT",
        "/api/feed-templates/default",
        {
            "summary": "[%location_code%] %service_name%",
            "description": "Staff: %staff_name%\nGuests: %attendees%",
        },
    )
    await api.call(
        "PUT",
        "/api/feed-templates/coloring",
        {"summary": "Colour for %customer_full_name%", "description": ""},
    )
    await book(api)
    await book(api, type="coloring", start="2026-12-02T10:00:00+01:00")
    link = await new_link(api, "camille@example.org", show_attendees=True)
    events = {str(e["SUMMARY"]): e for e in (await _calendar(api, link)).walk("VEVENT")}
    assert set(events) == {"[ANHQ] Haircut", "Colour for Alice Liddell"}
    assert str(events["[ANHQ] Haircut"]["DESCRIPTION"]) == "Staff: Camille\nGuests: Alice Liddell"
    listed = await api.get("/api/feed-templates")
    assert "%online_meeting_link%" in listed["shortcodes"]
    assert listed["types"]["coloring"]["summary"] == "Colour for %customer_full_name%"
    await api.call("DELETE", "/api/feed-templates/coloring", status=204)
    await api.call("DELETE", "/api/feed-templates/default", status=204)
    summaries = {str(e["SUMMARY"]) for e in (await _calendar(api, link)).walk("VEVENT")}
    assert summaries == {"Haircut · Alice Liddell", "Colouring · Alice Liddell"}


async def test_one_broken_booking_never_breaks_the_feed(api: Api, org: Org) -> None:
    good = await book(api)
    broken = await book(api, start="2026-12-02T10:00:00+01:00")
    runner = api.client.app[RUNNER]
    await runner.run(
        lambda s: s.db.execute(
            "UPDATE bookings SET rrule = 'FREQ=WEEKLY;BYDAY=ZZ' WHERE id = ?", (broken["id"],)
        )
    )
    link = await new_link(api, "camille@example.org")
    assert uids(await _calendar(api, link)) == {good["uid"]}


async def test_unchanged_feed_is_served_without_rendering_again(api: Api, org: Org) -> None:
    await book(api)
    camille = await new_link(api, "camille@example.org")
    maya = await new_link(api, "maya@example.org")
    service = api.client.app[FEEDS]
    await fetch(api, camille)
    await fetch(api, maya)
    renders = service.renders
    for _ in range(5):
        await fetch(api, camille)
    assert service.renders == renders
    # A booking for Maya re-renders Maya's feed only.
    await book(api, staff=org["maya"]["id"])
    await fetch(api, camille)
    assert service.renders == renders
    await fetch(api, maya)
    assert service.renders == renders + 1


async def test_fetches_are_counted_with_the_client(api: Api, org: Org) -> None:
    link = await new_link(api, "camille@example.org")
    for _ in range(3):
        await api.client.get(path_of(link), headers={"User-Agent": "Google-Calendar-Importer"})
    listed = await api.get("/api/feeds?user=camille@example.org")
    (row,) = listed["feeds"]
    assert row["fetch_count"] == 3
    assert row["last_user_agent"] == "Google-Calendar-Importer"
    assert row["last_fetched_at"] is not None


async def test_a_user_manages_their_own_links(api: Api, org: Org) -> None:
    auth = {"Authorization": basic_auth("maya@example.org", "maya-password")}
    mine = await api.post("/api/me/feeds", {"name": "Work"}, headers=auth)
    others = await new_link(api, "camille@example.org")
    listed = await api.get("/api/me/feeds", headers=auth)
    assert [x["id"] for x in listed["feeds"]] == [mine["id"]]
    await api.get(f"/api/me/feeds/{others['id']}", status=404, headers=auth)
    await api.call("DELETE", f"/api/me/feeds/{others['id']}", status=404, headers=auth)
    rotated = await api.post(f"/api/me/feeds/{mine['id']}/rotate", status=200, headers=auth)
    assert rotated["url"] != mine["url"]
    await api.post("/api/me/feeds", {"user": "camille@example.org"}, status=422, headers=auth)
    await api.get("/api/feeds", status=403, headers=auth)


async def test_robots_txt_allows_feeds(api: Api) -> None:
    response = await api.client.get("/robots.txt")
    text = await response.text()
    assert "Allow: /feeds/" in text and "Disallow: /api/" in text


async def test_key_rotation_keeps_old_links(
    aiohttp_client: Any, config: Any, org: Org, api: Api
) -> None:
    old = await new_link(api, "camille@example.org")
    await api.client.close()
    from feedserver.app import create_app
    from feedserver.config import with_changes

    rotated_config = with_changes(config, security={"secret_keys": ["new-key", "test-key-one"]})
    client = await aiohttp_client(create_app(rotated_config))
    assert (await client.get(urlsplit(old["url"]).path)).status == 200
    fresh = Api(client, api.headers)
    new = await new_link(fresh, "camille@example.org")
    assert (await client.get(path_of(new))).status == 200
    dropped_config = with_changes(config, security={"secret_keys": ["new-key"]})
    client2 = await aiohttp_client(create_app(dropped_config))
    assert (await client2.get(path_of(old))).status == 404
    assert (await client2.get(path_of(new))).status == 200


async def test_time_window_keeps_feeds_small(aiohttp_client: Any, config: Any) -> None:
    from datetime import date

    from feedserver.app import create_app
    from feedserver.config import with_changes

    windowed = with_changes(config, feeds={"window_days_past": 30, "window_days_ahead": 365})
    api = Api(
        await aiohttp_client(create_app(windowed)),
        {"Authorization": f"Bearer {config.security.admin_token}"},
    )
    await make_org(api)
    today = date.today()

    async def book_on(days: int) -> str:
        day = today + timedelta(days=days)
        booking = await book(api, start=f"{day.isoformat()}T10:00:00+01:00")
        return str(booking["uid"])

    old, recent, soon, far = (
        await book_on(-40),
        await book_on(-10),
        await book_on(30),
        await book_on(400),
    )
    link = await new_link(api, "camille@example.org")
    shown = uids(await _calendar(api, link))
    assert recent in shown and soon in shown
    assert old not in shown and far not in shown


def test_feed_cache_is_bounded_by_entries_and_bytes() -> None:
    from feedserver.feeds.service import FeedCache, RenderedFeed

    def feed(link_id: int, size: int) -> RenderedFeed:
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        return RenderedFeed(
            link_id=link_id,
            link_updated=moment,
            day=moment.date(),
            body=b"x" * size,
            etag="e",
            last_modified=moment,
            last_modified_http="",
            content_disposition="",
            booking_ids=frozenset(),
        )

    cache = FeedCache(max_entries=2, max_bytes=1000)
    for link_id in (1, 2, 3):
        cache.put(feed(link_id, 100))
    assert [f.link_id for f in cache.items()] == [2, 3]
    cache.get(2)  # recently used: kept over 3
    cache.put(feed(4, 850))  # over two entries: the least recently used (3) goes
    assert [f.link_id for f in cache.items()] == [2, 4] and cache.bytes == 950
    cache.put(feed(6, 900))  # over 1000 bytes: 2 and 4 go
    assert [f.link_id for f in cache.items()] == [6] and cache.bytes == 900
    cache.put(feed(5, 2000))  # larger than the whole cache: not kept
    assert 5 not in [f.link_id for f in cache.items()]
    (kept,) = cache.items()
    cache.grew(kept, 40)  # its gzip form, made later, counts too
    assert cache.bytes == 940


async def test_renamed_location_code_and_type_key_keep_link_filters(api: Api, org: Org) -> None:
    booking = await book(api)
    link = await new_link(api, "camille@example.org", locations=["ANHQ"], types=["haircut"])
    await api.patch("/api/locations/ANHQ", {"code": "ANN1"})
    await api.patch("/api/types/haircut", {"key": "cut"})
    renamed = await api.get(f"/api/feeds/{link['id']}")
    assert (renamed["locations"], renamed["types"]) == (["ANN1"], ["cut"])
    assert uids(await _calendar(api, link)) == {booking["uid"]}
