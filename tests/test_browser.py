"""The web app in a real browser: Debian's Chromium driven by Playwright (``executable_path``:
Playwright's own browser download is not reachable), against ``feedserver serve`` on loopback
with the demo organisation. Sign in, make a Haircut-only link and follow its QR code, connect
a CalDAV client with an app password, download the Apple profile, edit a booking as an admin,
a refused forged form, axe-core on every page, and every page at 360 px wide.

``FEEDSERVER_SCREENSHOTS=docs`` writes the README's screenshots (docs/*.png)."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from caldav.davclient import DAVClient
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from tests.calendar_servers import radicale
from tests.conftest import module_store_env
from tests.process import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.environ.get("FEEDSERVER_SCREENSHOTS", "")
ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """The demo organisation, as `make run` makes it; yields the base URL and the accounts
    by role."""
    data = tmp_path_factory.mktemp("browser") / "data"
    store = module_store_env(request)
    # A person's own CalDAV server runs on loopback in these tests.
    store = {**store, "FEEDSERVER_CALENDAR_ACCOUNTS_ALLOW_PRIVATE_NETWORKS": "true"}
    env = {**os.environ, "FEEDSERVER_STORAGE_DATA_DIR": str(data), **store}
    for args in (["init"], ["demo", "--bookings", "60"]):
        subprocess.run(
            [sys.executable, "-m", "feedserver", *args], env=env, check=True, capture_output=True
        )
    accounts: dict[str, list[str]] = {}
    role = ""
    for line in (data / "demo-accounts.txt").read_text().splitlines()[1:]:
        if line.startswith("# "):
            role = line[2:]
            continue
        email, password = line.split()
        accounts.setdefault(role, []).extend([email, password])
    with serve(data, store, timeout=60) as (base, _):
        yield base, accounts


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def signed_in(browser: Browser, base: str, email: str, password: str, width: int = 1200) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    page.goto(base + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/links")
    return page


def shot(page: Page, name: str) -> None:
    if SHOTS:
        target = ROOT / SHOTS
        target.mkdir(exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def test_sign_in_make_a_haircut_link_and_follow_its_qr_code(browser: Browser, demo: Any) -> None:
    base, accounts = demo
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(base + "/")
    shot(page, "sign-in")
    page.get_by_label("Email").fill(accounts["customer"][0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    page.get_by_label("Password").fill(accounts["customer"][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/links")
    page.get_by_label("Name").fill("My haircuts")
    page.get_by_label("Haircut").check()
    page.get_by_role("button", name="Create link").click()
    page.wait_for_url("**/links?notice=link_created")
    card = page.locator("article.link").first
    webcal = card.locator('a[href^="webcal://"]').get_attribute("href")
    assert webcal and card.get_by_role("link", name="Subscribe").is_visible()
    google = card.get_by_role("link", name="Add to Google Calendar").get_attribute("href")
    assert google and google.startswith("https://calendar.google.com/calendar/render?cid=")
    outlook = card.get_by_role("link", name="Add to Outlook").get_attribute("href")
    assert outlook and outlook.startswith("https://outlook.live.com/calendar/0/addfromweb?url=")
    shot(page, "calendar-links")
    # A phone scans the QR code from the screen: decode the pixels, then fetch the feed.
    image = Image.open(BytesIO(card.locator("figure.qr svg").screenshot()))
    decoded = zxingcpp.read_barcodes(image)
    assert [d.text for d in decoded] == [webcal]
    with urllib.request.urlopen("http://" + webcal.removeprefix("webcal://")) as response:
        body = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in body
    assert "X-WR-CALNAME:My haircuts" in body
    assert set(re.findall(r"CATEGORIES:(.*)\r", body)) <= {"Haircut"}  # only haircuts
    page.reload()
    assert "Python-urllib" in card.inner_text()  # last fetched, by which client
    assert card.locator(".words").inner_text() == "Haircut · All locations"
    # The link's filters change in place: Massage too, same address.
    card.get_by_text("Change what it shows").click()
    card.get_by_label("Massage").check()
    card.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**notice=saved**")
    assert card.locator(".words").inner_text() == "Haircut, Massage · All locations"
    assert card.locator('a[href^="webcal://"]').get_attribute("href") == webcal
    with urllib.request.urlopen("http://" + webcal.removeprefix("webcal://")) as response:
        categories = set(re.findall(r"CATEGORIES:(.*)\r", response.read().decode()))
    assert categories <= {"Haircut", "Massage"} and "Massage" in categories
    # Revoke asks first (a dialog): dismissed, nothing happens; accepted, the link dies.
    page.once("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Revoke").click()
    assert card.get_by_role("button", name="Revoke").is_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Revoke").click()
    page.wait_for_url("**notice=link_revoked")
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen("http://" + webcal.removeprefix("webcal://"))
    assert gone.value.code == 410
    page.close()


def test_an_app_password_connects_a_caldav_client_and_the_profile_downloads(
    browser: Browser, demo: Any
) -> None:
    base, accounts = demo
    email, password = accounts["staff"][0], accounts["staff"][1]
    page = signed_in(browser, base, email, password)
    page.get_by_role("link", name="Devices").click()
    page.get_by_label("Device name").fill("Thunderbird at home")
    page.get_by_role("button", name="Create app password").click()
    secret = page.locator("#app-password").inner_text()
    shot(page, "devices")
    client = DAVClient(url=base + "/dav/", username=email, password=secret)
    calendars = cast(Any, client).principal().calendars()  # caldav's methods are untyped
    assert any("bookings" in str(c.url) for c in calendars)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the configuration profile").click()
    saved = Path(download.value.path())
    profile = plistlib.loads(saved.read_bytes())
    assert profile["PayloadContent"][0]["CalDAVUsername"] == email
    assert secret.encode() not in saved.read_bytes()
    page.close()


def test_a_staff_member_connects_a_caldav_account_and_finds_their_bookings_there(
    browser: Browser, demo: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """iCloud-style: a server address, a user name and an app password, from the page."""
    base, accounts = demo
    own = radicale(tmp_path_factory.mktemp("own") / "radicale")
    try:
        started = time.monotonic()
        page = signed_in(browser, base, accounts["staff"][0], accounts["staff"][1])
        page.get_by_role("link", name="Calendar accounts").click()
        page.get_by_label("Account", exact=True).select_option("other")
        page.get_by_label("Server address (empty for iCloud and Fastmail)").fill(own.base + "/")
        page.get_by_label("User name (the account's email)").fill("camille")
        page.get_by_label("Password", exact=True).fill("secret")
        page.get_by_role("button", name="Connect", exact=True).click()
        page.wait_for_url(re.compile(r".*/calendars\?notice=saved"))
        assert page.get_by_text("working").count() == 1
        home = own.request("PROPFIND", "/camille/", None, {"Depth": "1"})[2].decode()
        path = re.findall(r"<href>(/camille/[^<]+/)</href>", home)[0]
        deadline = time.monotonic() + 10
        while not own.events(path) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert own.events(path), "no booking written"
        assert time.monotonic() - started < 60
        page.reload()
        shot(page, "calendar-accounts")
        page.close()
    finally:
        own.stop()


def test_a_staff_member_sets_hours_with_two_breaks_and_a_holiday_by_keyboard(
    browser: Browser, demo: Any
) -> None:
    base, accounts = demo
    page = signed_in(browser, base, accounts["staff"][0], accounts["staff"][1], width=360)
    page.goto(base + "/availability")
    page.get_by_label("Only during my working hours").check()
    # The time-zone picker: type to filter, arrow down into the list, pick with the keyboard.
    page.get_by_label("Search time zones").fill("lisbon")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "tz"
    assert page.locator("#tz").input_value() == "Europe/Lisbon"
    monday = page.locator("#day-mon")
    for start, end in (("09:00", "12:00"), ("13:00", "15:00"), ("15:30", "18:00")):
        monday.locator('input[name="mon-start"]').last.fill(start)
        monday.locator('input[name="mon-end"]').last.fill(end)
        monday.get_by_role("button", name="Add hours").click()
    holidays = page.locator("#exceptions")
    holidays.locator('input[name="exception-date"]').last.fill("2026-12-24")
    shot(page, "availability")
    page.get_by_role("button", name="Save", exact=True).press("Enter")
    page.wait_for_url("**/availability?notice=saved")
    assert [i.input_value() for i in page.locator('input[name="mon-start"]').all()] == [
        "09:00",
        "13:00",
        "15:30",
        "",
    ]
    assert page.locator('input[name="exception-date"]').first.input_value() == "2026-12-24"
    assert page.locator("#tz").input_value() == "Europe/Lisbon"
    page.close()


def test_an_admin_finds_and_edits_a_booking(browser: Browser, demo: Any) -> None:
    base, accounts = demo
    page = signed_in(browser, base, accounts["admin"][0], accounts["admin"][1])
    page.get_by_role("link", name="Bookings").click()
    page.get_by_label("Type").select_option("haircut")
    page.get_by_role("button", name="Filter").click()
    shot(page, "admin-bookings")
    page.locator("tbody tr a").first.click()
    page.get_by_label("Title").fill("Bring the new colour chart")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**notice=saved")
    assert page.get_by_role("status").inner_text() == "Saved."
    assert page.get_by_label("Title").input_value() == "Bring the new colour chart"
    shot(page, "admin-booking")
    page.goto(base + "/admin/week")
    shot(page, "admin-week")
    page.close()


def test_an_admin_finds_tomorrows_bookings_at_a_location_by_keyboard(
    browser: Browser, demo: Any
) -> None:
    """Tomorrow's bookings of every staff member at one location: Bookings, Day view, the
    location, Next day; then through the grid with the keyboard alone."""
    base, accounts = demo
    page = signed_in(browser, base, accounts["admin"][0], accounts["admin"][1])
    page.get_by_role("link", name="Bookings").click()
    page.get_by_role("link", name="Day view").click()
    page.get_by_label("Location").select_option(label="Lyon Presqu'île")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="Next day").click()
    heads = page.locator(".board h2.head").all_inner_texts()
    assert heads and "Lukas Weber" in heads
    entries = page.locator(".board a.entry")
    for _ in range(30):  # the demo's bookings are spread: on to the next day that has some
        if entries.count():
            break
        page.get_by_role("link", name="Next day").click()
    assert entries.count() > 0
    shot(page, "admin-day")
    day = page.url
    page.locator(".board").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == entries.first.get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(base + focused)
    assert page.get_by_label("Title").is_visible()
    # The week around that day, by keyboard too: the grid, then its first booking.
    page.goto(day)
    page.get_by_role("link", name="Week view").click()
    page.locator(".board").focus()
    for _ in range(40):  # each column's heading links to its day, then come its bookings
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('entry')"):
            break
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == page.locator(".board a.entry").first.get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(base + focused)
    page.close()


def test_a_forged_form_is_refused(browser: Browser, demo: Any) -> None:
    base, accounts = demo
    page = signed_in(browser, base, accounts["customer"][2], accounts["customer"][3])
    page.locator('form[action="/links"] input[name="csrf"]').evaluate(
        "input => { input.value = 'forged' }"
    )
    page.get_by_role("button", name="Create link").click()
    assert "The form expired or came from another site" in page.inner_text("main")
    page.close()


SIGNED_OUT = ["/", "/forgot", "/api/docs"]
EVERYONE = [
    "/bookings",
    "/links",
    "/calendars",
    "/devices",
    "/availability",
    "/notifications",
    "/profile",
]
ADMIN = [
    "/admin/bookings",
    "/admin/week",
    "/admin/day",
    "/admin/bookings/1",
    "/admin/bookings/new",
    "/admin/locations",
    "/admin/types",
    "/admin/people",
    "/admin/feed-links?user=2",
    "/admin/templates",
    "/admin/inbox",
    "/admin/outbox",
    "/admin/webhooks",
    "/admin/meetings",
]


ROLE_PAGES = {
    "customer": [p for p in EVERYONE if p != "/availability"],
    "staff": EVERYONE,
    "admin": [*EVERYONE, *ADMIN],
}
LANGUAGES = ("en", "fr", "de", "es")
ARTIFACTS = ROOT / ".artifacts" / "screenshots"  # every page, every role, language and width


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    """Sign in whatever the page's language (the fields by name, not by their label)."""
    page.goto(base + "/")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    page.locator('form[action="/sign-in"] button[type="submit"]').click()
    page.wait_for_url(base + "/links")


def test_every_page_of_every_role_in_every_language_passes_axe_and_fits_a_phone(
    browser: Browser, demo: Any
) -> None:
    """Each role's pages in English, French, German and Spanish: nothing is wider than a
    360 px phone, and a screenshot of each at 1280 and 360 px is kept in
    .artifacts/screenshots/<language>/<role>/; axe-core finds nothing serious or critical at
    1280 px in English and German (the longest words; the markup is the same in every
    language, and axe takes a third of the sweep's time)."""
    base, accounts = demo
    axe = Axe()
    problems: list[str] = []

    def check(page: Page, where: Path, path: str, status: int = 200) -> None:
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(base + path)
        assert response is not None and response.status == status, path
        name = re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "home"
        if where.parent.name in ("en", "de"):
            for violation in axe.run(page).response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    problems.append(f"{where} {path}: {violation['id']} {violation['help']}")
        page.screenshot(path=str(where / f"{name}-1280.jpg"), quality=60)
        page.set_viewport_size({"width": 360, "height": 740})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        if overflow > 360:
            problems.append(f"{where} {path}: {overflow} px wide at 360 px")
        page.screenshot(path=str(where / f"{name}-360.jpg"), full_page=True, quality=60)

    for language in LANGUAGES:
        context = browser.new_context(locale=language)
        page = context.new_page()
        where = ARTIFACTS / language / "signed-out"
        where.mkdir(parents=True, exist_ok=True)
        for path in SIGNED_OUT:
            check(page, where, path)
        check(page, where, "/no-such-page", 404)  # an error page, as a browser gets it
        for role, paths in ROLE_PAGES.items():
            context.clear_cookies()
            _sign_in(page, base, accounts[role][0], accounts[role][1])
            assert page.locator("html").get_attribute("lang") == language
            if role == "admin" and language == "en":
                page.locator('form[action="/links"] button[type="submit"]').click()  # a card
            where = ARTIFACTS / language / role
            where.mkdir(parents=True, exist_ok=True)
            for path in paths:
                check(page, where, path)
        check(page, where, "/admin/bookings/999999", 404)
        context.close()
    assert problems == []


def test_on_a_phone_the_menu_folds_and_the_links_come_before_the_new_link_form(
    browser: Browser, demo: Any
) -> None:
    base, accounts = demo
    page = signed_in(browser, base, accounts["admin"][0], accounts["admin"][1], width=360)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(base + "/admin/bookings")
    header = page.locator("header.top").bounding_box()
    assert header is not None and header["height"] < 740 * 0.12  # was about 40% of the screen
    assert not page.get_by_role("link", name="Locations").is_visible()
    menu = page.get_by_role("button", name="Menu")
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="Locations").click()
    page.wait_for_url(base + "/admin/locations")
    shot(page, "phone-locations")
    page.goto(base + "/links")
    first_link = page.locator("article.link").first.bounding_box()
    new_link = page.get_by_role("heading", name="New link").bounding_box()
    assert first_link is not None and new_link is not None
    assert first_link["y"] < new_link["y"]
    page.close()


def test_a_customer_gets_403_on_admin_pages_in_french(browser: Browser, demo: Any) -> None:
    base, accounts = demo
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(base + "/")
    assert page.get_by_role("button", name="Se connecter").is_visible()
    page.get_by_label("E-mail").fill(accounts["customer"][4])
    page.get_by_label("Mot de passe").fill(accounts["customer"][5])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/links")
    response = page.goto(base + "/admin/bookings")
    assert response is not None and response.status == 403
    assert "réservée aux administrateurs" in page.inner_text("main")
    context.close()
