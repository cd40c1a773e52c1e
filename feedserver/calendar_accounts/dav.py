"""A small CalDAV client on aiohttp, for writing into people's own calendar accounts: find
their calendars (RFC 6764 ``/.well-known/caldav``, RFC 5397 ``current-user-principal``,
RFC 4791 ``calendar-home-set``), make one, and PUT, GET and DELETE events with ``If-Match``
and ``If-None-Match`` (RFC 7232), list what a calendar holds by href and ETag, and read the
events of a time range (busy times).

Every request is bounded in time and size. Redirects are followed one by one (at most five),
each checked against the private-network guard like the first address (``netguard``); the
connection's own resolver checks every address a name resolves to.

Errors that concern the account rather than one event are raised: ``Refused`` (401: the
password or grant is wrong or revoked) and ``Unavailable`` (5xx, 429, 403 rate limits,
timeouts, connection failures: try later, after ``retry_after`` when the server said).
Everything else is answered as it came, for the caller to decide (404, 409, 412...).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urljoin, urlsplit

import aiohttp

from feedserver import netguard
from feedserver.times import retry_after

MAX_REDIRECTS = 5
MAX_ANSWER_BYTES = 20_000_000
USER_AGENT = "feedserver calendar-accounts"

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
_NS = {"d": DAV, "c": CALDAV}


class DavFailure(Exception):
    """The account's server cannot be used now; the message says why, for the person."""


class Refused(DavFailure):
    """The server refused the credentials (401): a wrong or revoked password or grant."""


class Unavailable(DavFailure):
    """A failure that may pass: try again later (after ``retry_after`` if the server said)."""

    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotCalDAV(DavFailure):
    """No CalDAV calendars were found at that address."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")


@dataclass(frozen=True)
class RemoteCalendar:
    url: str
    name: str
    events: bool  # it takes VEVENTs
    writable: bool = True


@dataclass(frozen=True)
class Home:
    """Where an account's calendars are: the principal, its calendar home and the calendars
    (``chosen``: the address given was a calendar itself)."""

    principal_url: str
    home_url: str
    calendars: tuple[RemoteCalendar, ...]
    chosen: str = ""


@dataclass
class Resource:
    href: str
    status: int
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, name: str) -> str:
        found = self.props.get(name)
        return (found.text or "").strip() if found is not None else ""


def _propfind(*props: str) -> bytes:
    inner = "".join(props)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<d:propfind xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:prop>{inner}</d:prop></d:propfind>'
    ).encode()


def multistatus(body: bytes, base: str) -> list[Resource]:
    """The responses of a 207 answer: each href (absolute) and its properties found."""
    try:
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise NotCalDAV(f"the server's answer is not WebDAV XML ({exc})") from exc
    found = []
    for response in root.findall("d:response", _NS):
        href = response.findtext("d:href", default="", namespaces=_NS).strip()
        if not href:
            continue
        resource = Resource(urljoin(base, href), 200)
        status = response.findtext("d:status", default="", namespaces=_NS)
        if status:
            resource.status = _status_code(status)
        for propstat in response.findall("d:propstat", _NS):
            code = _status_code(propstat.findtext("d:status", default="", namespaces=_NS))
            if code != 200:
                continue
            prop = propstat.find("d:prop", _NS)
            for element in prop if prop is not None else []:
                resource.props[element.tag] = element
        found.append(resource)
    return found


def _status_code(line: str) -> int:
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _href_of(element: ET.Element | None, base: str) -> str:
    if element is None:
        return ""
    href = element.findtext("d:href", default="", namespaces=_NS).strip()
    return urljoin(base, href) if href else ""


def same_url(one: str, other: str) -> bool:
    """The same resource, whatever the trailing slash or percent-encoding."""

    def key(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.netloc.lower(), unquote(parts.path).rstrip("/")

    return key(one) == key(other)


def collection_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class DavClient:
    """Requests to one account, with its ``Authorization`` header."""

    def __init__(
        self, http: aiohttp.ClientSession, authorization: str, public_only: bool = True
    ) -> None:
        self.http = http
        self.authorization = authorization
        self.public_only = public_only

    async def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {"User-Agent": USER_AGENT, "Authorization": self.authorization, **(headers or {})}
        if body is not None and "Content-Type" not in sent:
            sent["Content-Type"] = "application/xml; charset=utf-8"
        for _ in range(MAX_REDIRECTS + 1):
            if self.public_only and netguard.literal_private(url):
                raise DavFailure(f"{urlsplit(url).hostname} is a private address")
            try:
                async with self.http.request(
                    method, url, data=body, headers=sent, allow_redirects=False
                ) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in (
                        response.headers
                    ):
                        target = urljoin(url, response.headers["Location"])
                        # Credentials go to another host only over HTTPS.
                        moved = urlsplit(target).netloc != urlsplit(url).netloc
                        if moved and urlsplit(target).scheme != "https":
                            raise DavFailure(f"redirected to {target}, not over HTTPS")
                        url = target
                        continue
                    data = await netguard.read_limited(response, MAX_ANSWER_BYTES + 1)
                    answer = Answer(
                        response.status,
                        {k.lower(): v for k, v in response.headers.items()},
                        data,
                        url,
                    )
            except netguard.Refused as exc:
                raise DavFailure(str(exc)) from exc
            except TimeoutError as exc:
                raise Unavailable(f"{urlsplit(url).hostname} did not answer in time") from exc
            except aiohttp.ClientConnectorError as exc:
                raise Unavailable(
                    f"cannot connect to {urlsplit(url).hostname}: {exc.os_error}"
                ) from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise Unavailable(f"{urlsplit(url).hostname}: {exc or type(exc).__name__}") from exc
            if len(answer.body) > MAX_ANSWER_BYTES:
                raise DavFailure(f"the server's answer is larger than {MAX_ANSWER_BYTES} bytes")
            return self._judged(answer)
        raise DavFailure(f"more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _judged(answer: Answer) -> Answer:
        status = answer.status
        host = urlsplit(answer.url).hostname
        if status == 401:
            raise Refused(f"{host} refused the sign-in (401): the password or access was revoked")
        if status in (429, 503) or status >= 500 or (status == 403 and b"imit" in answer.body):
            wait = retry_after(answer.headers.get("retry-after"), datetime.now(UTC))
            raise Unavailable(f"{host} answered {status}", wait)
        return answer

    # -- finding calendars ----------------------------------------------------------------------

    async def propfind(self, url: str, depth: int, *props: str) -> list[Resource]:
        answer = await self.request("PROPFIND", url, _propfind(*props), {"Depth": str(depth)})
        if answer.status != 207:
            raise NotCalDAV(f"PROPFIND {urlsplit(url).path} answered {answer.status}")
        return multistatus(answer.body, answer.url)

    async def discover(self, url: str) -> Home:
        """The account's calendars, from the address given: a server, a principal, a
        calendar, or a host whose ``/.well-known/caldav`` leads to them."""
        principal = ""
        chosen = ""
        home = ""
        candidates = [url]
        if urlsplit(url).path in ("", "/"):
            candidates.append(urljoin(url, "/.well-known/caldav"))
        problem = ""
        for candidate in candidates:
            try:
                found = await self.propfind(
                    candidate,
                    0,
                    "<d:current-user-principal/>",
                    "<c:calendar-home-set/>",
                    "<d:resourcetype/>",
                )
            except NotCalDAV as exc:
                problem = str(exc)
                continue
            if not found:
                continue
            first = found[0]
            kinds = first.props.get(f"{{{DAV}}}resourcetype")
            if kinds is not None and kinds.find("c:calendar", _NS) is not None:
                chosen = first.href
            home = _href_of(first.props.get(f"{{{CALDAV}}}calendar-home-set"), first.href)
            principal = _href_of(first.props.get(f"{{{DAV}}}current-user-principal"), first.href)
            if principal or home:
                break
        if not principal and not home:
            raise NotCalDAV(problem or f"no CalDAV account found at {url}")
        if not home:
            found = await self.propfind(principal, 0, "<c:calendar-home-set/>")
            home = _href_of(
                found[0].props.get(f"{{{CALDAV}}}calendar-home-set") if found else None,
                principal,
            )
        if not home:
            raise NotCalDAV("the account names no calendar home (calendar-home-set)")
        return Home(principal or home, home, tuple(await self.calendars(home)), chosen)

    async def calendars(self, home_url: str) -> list[RemoteCalendar]:
        found = await self.propfind(
            collection_url(home_url),
            1,
            "<d:resourcetype/>",
            "<d:displayname/>",
            "<c:supported-calendar-component-set/>",
            "<d:current-user-privilege-set/>",
        )
        calendars = []
        for resource in found:
            kinds = resource.props.get(f"{{{DAV}}}resourcetype")
            if kinds is None or kinds.find("c:calendar", _NS) is None:
                continue
            components = resource.props.get(f"{{{CALDAV}}}supported-calendar-component-set")
            names = (
                {c.get("name", "").upper() for c in components}
                if components is not None and len(components)
                else {"VEVENT"}
            )
            privileges = resource.props.get(f"{{{DAV}}}current-user-privilege-set")
            writable = privileges is None or any(
                p.find(f"d:{name}", _NS) is not None
                for p in privileges
                for name in ("write", "write-content", "all")
            )
            name = resource.text(f"{{{DAV}}}displayname") or unquote(
                resource.href.rstrip("/").rsplit("/", 1)[-1]
            )
            calendars.append(RemoteCalendar(resource.href, name, "VEVENT" in names, writable))
        return calendars

    async def make_calendar(self, home_url: str, name: str, slug: str) -> str:
        """A new calendar named ``name`` in the home; its URL."""
        url = urljoin(collection_url(home_url), quote(slug) + "/")
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:mkcalendar xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:set><d:prop>'
            f"<d:displayname>{_xml_text(name)}</d:displayname>"
            '<c:supported-calendar-component-set><c:comp name="VEVENT"/>'
            "</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"
        ).encode()
        answer = await self.request("MKCALENDAR", url, body)
        if answer.status not in (200, 201):
            raise DavFailure(f"the server did not make the calendar (MKCALENDAR {answer.status})")
        return url

    # -- events ---------------------------------------------------------------------------------

    async def put(self, url: str, text: bytes, etag: str | None) -> Answer:
        """Write an event: over the one with ``etag`` (If-Match), or only if there is none
        (``etag`` None: If-None-Match)."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if etag is None:
            headers["If-None-Match"] = "*"
        else:
            headers["If-Match"] = etag
        return await self.request("PUT", url, text, headers)

    async def get(self, url: str) -> Answer:
        return await self.request("GET", url, headers={"Accept": "text/calendar"})

    async def delete(self, url: str, etag: str | None) -> Answer:
        return await self.request("DELETE", url, headers={"If-Match": etag} if etag else {})

    async def etag_of(self, url: str) -> str:
        """The event's ETag, for servers that do not send it with a PUT's answer."""
        found = await self.propfind(url, 0, "<d:getetag/>")
        return found[0].text(f"{{{DAV}}}getetag") if found else ""

    async def listing(self, calendar_url: str) -> dict[str, str]:
        """Every item of a calendar: its URL and ETag."""
        found = await self.propfind(collection_url(calendar_url), 1, "<d:getetag/>")
        return {
            r.href: r.text(f"{{{DAV}}}getetag")
            for r in found
            if not same_url(r.href, calendar_url) and r.status == 200
        }

    async def events_between(
        self, calendar_url: str, start: datetime, end: datetime
    ) -> list[tuple[str, bytes]]:
        """(URL, iCalendar text) of the events of a calendar that overlap [start, end)."""
        stamp = "%Y%m%dT%H%M%SZ"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<c:calendar-query xmlns:d="DAV:" xmlns:c="{CALDAV}">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
            f'<c:time-range start="{start.astimezone(UTC):{stamp}}" '
            f'end="{end.astimezone(UTC):{stamp}}"/>'
            "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
        ).encode()
        answer = await self.request("REPORT", collection_url(calendar_url), body, {"Depth": "1"})
        if answer.status != 207:
            raise NotCalDAV(f"REPORT {urlsplit(calendar_url).path} answered {answer.status}")
        return [
            (r.href, r.text(f"{{{CALDAV}}}calendar-data").encode("utf-8"))
            for r in multistatus(answer.body, answer.url)
            if r.text(f"{{{CALDAV}}}calendar-data")
        ]


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
