"""Connecting, changing and disconnecting calendar accounts: what needs the account's server
(finding its calendars, making one, removing the events written) around the store's rules
(``feedserver.domain.calendar_accounts``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp

from feedserver.calendar_accounts.access import Access, basic
from feedserver.calendar_accounts.dav import (
    DavClient,
    DavFailure,
    Home,
    NotCalDAV,
    Refused,
    RemoteCalendar,
    same_url,
)
from feedserver.calendar_accounts.google import GoogleOAuth, NotConfigured, Tokens
from feedserver.domain import calendar_accounts as rules
from feedserver.errors import Conflict, InvalidInput, NotFound
from feedserver.model import CalendarAccount, PendingAuthorization, User
from feedserver.store import Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

STATE_MINUTES = 15  # how long a Google authorization may take


class AccountUnreachable(InvalidInput):
    """The account's server could not be used as given (the message says why)."""


@dataclass(frozen=True)
class Disconnected:
    removed: int  # events removed from the calendar
    kept: int  # events left there (not asked to remove, or could not be)


class CalendarAccounts:
    def __init__(
        self, runner: StoreRunner, access: Access, organisation: str, google: GoogleOAuth
    ) -> None:
        self.runner = runner
        self.access = access
        self.organisation = organisation
        self.google = google

    # -- connecting -----------------------------------------------------------------------------

    async def connect(self, data: object, me: User | None) -> CalendarAccount:
        """A CalDAV account (``provider`` caldav): its calendars found, the chosen one (or a
        new one) written into from now on."""
        request = await self.runner.run(lambda s: rules.parse_connect(s, data, me))
        if request.provider == "google":
            raise InvalidInput(
                "Google accounts are connected through Google's consent page: POST "
                "/api/me/calendar-accounts/google (or the web app's 'Connect Google')",
                field="provider",
            )
        await self._checked(request.url)
        async with self.access.session(4) as http:
            client = DavClient(
                http,
                basic(request.username, request.password),
                self.access.public_only,
            )
            home = await _discovered(client, request.url)
            url, name = await self._calendar(client, home, request.calendar)
        sealed = self.access.box.seal(request.password)
        return await self.runner.run(
            lambda s: _create(
                s,
                request,
                "caldav",
                request.url,
                request.username,
                sealed,
                url,
                name,
            )
        )

    async def _checked(self, url: str) -> None:
        try:
            await self.access.check(url)
        except Exception as exc:
            raise AccountUnreachable(str(exc), field="url") from exc

    async def _calendar(self, client: DavClient, home: Home, wanted: str) -> tuple[str, str]:
        """(URL, name) of the calendar to write into: the one named, or a new one."""
        if home.chosen and wanted == "new":
            wanted = home.chosen
        if wanted != "new":
            for calendar in home.calendars:
                if same_url(calendar.url, wanted) or calendar.name == wanted:
                    if not calendar.events or not calendar.writable:
                        raise AccountUnreachable(
                            f"the calendar {calendar.name!r} takes no events or is read-only",
                            field="calendar",
                        )
                    return calendar.url, calendar.name
            names = ", ".join(c.name for c in home.calendars if c.events and c.writable)
            raise AccountUnreachable(
                f"the account has no calendar {wanted!r}; its calendars: {names or 'none'}",
                field="calendar",
            )
        name = self.organisation
        taken = {c.name for c in home.calendars}
        if name in taken:
            for calendar in home.calendars:  # connected before: write into it again
                if calendar.name == name and calendar.events and calendar.writable:
                    return calendar.url, calendar.name
        slug = "feedserver-" + rules.new_uid_key()
        try:
            return await client.make_calendar(home.home_url, name, slug), name
        except DavFailure as exc:
            raise AccountUnreachable(
                f"{exc}; choose one of the account's calendars instead", field="calendar"
            ) from exc

    async def calendars(self, account: CalendarAccount) -> list[RemoteCalendar]:
        """The calendars of a connected account (to choose another, or to see them)."""
        async with self.access.session(4) as http:
            client = await self.access.client(http, account)
            try:
                return list((await client.discover(account.server_url)).calendars)
            except DavFailure as exc:
                raise AccountUnreachable(str(exc)) from exc

    # -- Google ---------------------------------------------------------------------------------

    async def begin_google(self, data: object, me: User | None) -> str:
        """Where to send the person: Google's consent page (authorization code with PKCE)."""
        request = await self.runner.run(
            lambda s: rules.parse_connect(s, {**_mapping(data), "provider": "google"}, me)
        )
        try:
            url, state, verifier = self.google.authorization()
        except NotConfigured as exc:
            raise Conflict(str(exc)) from exc
        pending = PendingAuthorization(
            request.owner.id,
            verifier,
            request.name,
            request.calendar,
            request.busy,
            request.filters,
        )
        await self.runner.run(lambda s: s.calendar_accounts.save_state(state, pending))
        return url

    async def finish_google(self, state: str, code: str) -> CalendarAccount:
        """The person came back from Google: the code exchanged (with the PKCE verifier) for
        tokens, the calendar chosen or made, the account connected."""
        since = utcnow() - timedelta(minutes=STATE_MINUTES)
        taken = await self.runner.run(lambda s: s.calendar_accounts.take_state(state, since))
        if taken is None:
            raise NotFound("this Google authorization is unknown or too old: start again")
        async with self.access.session(4) as http:
            try:
                tokens = await self.google.exchange(http, code, taken.verifier)
            except DavFailure as exc:
                raise AccountUnreachable(str(exc)) from exc
            client = DavClient(http, f"Bearer {tokens.access_token}", self.access.public_only)
            home = await _discovered(client, self.google.config.caldav_url)
            url, name = await self._google_calendar(http, client, home, tokens, taken.calendar)
        sealed = self.access.box.seal(tokens.to_json())
        caldav_url = self.google.config.caldav_url

        def create(store: Store) -> CalendarAccount:
            owner = store.users.get(taken.user_id)
            if owner is None:
                raise NotFound("the account that began this authorization is gone")
            request = rules.ConnectRequest(
                owner, "google", taken.name, "", "", "", url, taken.filters, taken.busy
            )
            return _create(store, request, "google", caldav_url, "", sealed, url, name)

        return await self.runner.run(create)

    async def _google_calendar(
        self,
        http: aiohttp.ClientSession,
        client: DavClient,
        home: Home,
        tokens: Tokens,
        wanted: str,
    ) -> tuple[str, str]:
        if wanted != "new":
            return await self._calendar(client, home, wanted)
        for calendar in home.calendars:
            if calendar.name == self.organisation and calendar.events and calendar.writable:
                return calendar.url, calendar.name
        try:
            return await self.google.create_calendar(http, tokens, self.organisation), (
                self.organisation
            )
        except DavFailure as exc:
            raise AccountUnreachable(str(exc)) from exc

    # -- changing -------------------------------------------------------------------------------

    async def update(self, account: CalendarAccount, data: object) -> CalendarAccount:
        patch = await self.runner.run(lambda s: rules.parse_patch(s, account, data))
        secret = None
        if patch.password is not None or patch.username is not None:
            if account.provider != "caldav":
                raise InvalidInput("a Google account is signed in again by connecting it again")
            username = patch.username if patch.username is not None else account.username
            password = (
                patch.password
                if patch.password is not None
                else self.access.box.open(account.secret)
            )
            async with self.access.session(4) as http:
                client = DavClient(http, basic(username, password), self.access.public_only)
                await _discovered(client, account.server_url)  # the new password works
            secret = self.access.box.seal(password)

        def change(store: Store) -> CalendarAccount:
            with store.transaction():
                fields: dict[str, object] = {}
                if patch.name is not None:
                    fields["name"] = patch.name
                if patch.username is not None:
                    fields["username"] = patch.username
                if secret is not None:
                    fields["secret"] = secret
                if patch.filters is not None:
                    fields["filters"] = patch.filters
                if patch.busy is not None:
                    fields["busy"] = patch.busy
                if fields:
                    store.calendar_accounts.update(account.id, **fields)
                fresh = store.calendar_accounts.get(account.id)
                assert fresh is not None
                _busy_source(store, fresh)
                if secret is not None or patch.filters is not None:
                    rules.resync(store, fresh)  # reconnected, or other bookings: compare all
                found = store.calendar_accounts.get(account.id)
                assert found is not None
                return found

        return await self.runner.run(change)

    async def disconnect(self, account: CalendarAccount, remove_events: bool) -> Disconnected:
        """Forget the account; with ``remove_events``, first delete the events written
        there (only those)."""
        items = await self.runner.run(lambda s: s.calendar_accounts.items(account.id))
        removed = 0
        async with self.access.session(4) as http:
            if remove_events and items:
                try:
                    client = await self.access.client(http, account)
                    limit = asyncio.Semaphore(4)

                    async def one(href: str, etag: str) -> bool:
                        async with limit:
                            answer = await client.delete(href, None)
                            return answer.status in (200, 204, 404, 410)

                    done = await asyncio.gather(
                        *(one(i.href, i.etag) for i in items), return_exceptions=True
                    )
                    removed = sum(1 for d in done if d is True)
                except DavFailure as exc:
                    log.warning(
                        "events left in a disconnected calendar account",
                        extra={"account_id": account.id, "error": str(exc)},
                    )
            if account.provider == "google":
                await self.google.revoke(http, self.access.tokens(account))

        def forget(store: Store) -> None:
            with store.transaction():
                store.calendar_accounts.delete(account.id)

        await self.runner.run(forget)
        return Disconnected(removed, len(items) - removed)


def _mapping(data: object) -> dict[str, object]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object")
    return dict(data)


async def _discovered(client: DavClient, url: str) -> Home:
    try:
        home = await client.discover(url)
    except Refused as exc:
        raise AccountUnreachable(
            f"{urlsplit(url).hostname} refused the user name and password (iCloud needs an "
            "app-specific password: appleid.apple.com, Sign-In and Security)",
            field="password",
        ) from exc
    except (NotCalDAV, DavFailure) as exc:
        raise AccountUnreachable(str(exc), field="url") from exc
    if not any(c.events for c in home.calendars) and not home.home_url:
        raise AccountUnreachable("the account has no calendar that takes events", field="url")
    return home


def _create(
    store: Store,
    request: rules.ConnectRequest,
    provider: str,
    server_url: str,
    username: str,
    secret: str,
    calendar_url: str,
    calendar_name: str,
) -> CalendarAccount:
    with store.transaction():
        account = store.calendar_accounts.create(
            request.owner.id,
            provider,
            request.name,
            server_url,
            username,
            secret,
            calendar_url,
            calendar_name,
            request.filters,
            request.busy,
            rules.new_uid_key(),
        )
        _busy_source(store, account)
        rules.resync(store, account)
        found = store.calendar_accounts.get(account.id)
        assert found is not None
        return found


def _busy_source(store: Store, account: CalendarAccount) -> None:
    """The account's busy calendar, there when ``account.busy`` and only then."""
    current = store.busy_calendars.of_account(account.id)
    if account.busy and current is None:
        store.busy_calendars.create(
            account.user_id,
            account.name,
            account.server_url,
            "account",
            account_id=account.id,
        )
    elif not account.busy and current is not None:
        store.busy_calendars.delete(current.id)
