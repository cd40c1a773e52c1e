"""Connected calendar accounts: /api/me/calendar-accounts (one's own) and
/api/calendar-accounts (admins, anyone's): connect a CalDAV account or begin Google's
authorization, list, read (with what happened there), change, resync, list the account's
calendars, disconnect (removing the events written, or keeping them); and Google's return,
/oauth/google/callback."""

from __future__ import annotations

from aiohttp import web

from feedserver.calendar_accounts.google import CALLBACK_PATH
from feedserver.domain import calendar_accounts as rules
from feedserver.domain.views import calendar_account_json
from feedserver.errors import InvalidInput, NotFound
from feedserver.model import AccountLogEntry, CalendarAccount, User
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import ACCOUNTS, RUNNER

routes = web.RouteTableDef()


async def _me(request: web.Request) -> User | None:
    """The account for /api/me/..., None for the admin routes (anyone's)."""
    if request.path.startswith("/api/me/"):
        return await require_account(request)
    await require_admin(request)
    return None


def _account_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not is_whole(raw) or len(raw) > 18:
        raise NotFound(f"no calendar account {raw!r}")
    return int(raw)


async def connect(request: web.Request) -> web.Response:
    me = await _me(request)
    data = await read_json(request)
    made = await request.app[ACCOUNTS].connect(data, me)
    return web.json_response(calendar_account_json(made, []), status=201)


async def begin_google(request: web.Request) -> web.Response:
    me = await _me(request)
    data = await read_json(request) if (await request.read()).strip() else {}
    url = await request.app[ACCOUNTS].begin_google(data, me)
    return web.json_response({"authorize_url": url})


async def list_accounts(request: web.Request) -> web.Response:
    me = await _me(request)
    user_ref = request.query.get("user")
    found = await request.app[RUNNER].run(lambda s: rules.list_accounts(s, me, user_ref))
    return web.json_response({"calendar_accounts": [calendar_account_json(a) for a in found]})


async def get_account(request: web.Request) -> web.Response:
    me = await _me(request)
    account_id = _account_id(request)

    def read(store: Store) -> tuple[CalendarAccount, list[AccountLogEntry]]:
        account = rules.get_account(store, account_id, me)
        return account, store.calendar_accounts.log_entries(account.id)

    account, log = await request.app[RUNNER].run(read)
    return web.json_response(calendar_account_json(account, log))


async def update_account(request: web.Request) -> web.Response:
    me = await _me(request)
    account_id = _account_id(request)
    data = await read_json(request)
    account = await request.app[RUNNER].run(lambda s: rules.get_account(s, account_id, me))
    changed = await request.app[ACCOUNTS].update(account, data)
    return web.json_response(calendar_account_json(changed))


async def resync(request: web.Request) -> web.Response:
    me = await _me(request)
    account_id = _account_id(request)

    def queue(store: Store) -> CalendarAccount:
        account = rules.get_account(store, account_id, me)
        rules.resync(store, account)
        return rules.get_account(store, account_id, me)

    account = await request.app[RUNNER].run(queue)
    return web.json_response(calendar_account_json(account), status=202)


async def calendars(request: web.Request) -> web.Response:
    me = await _me(request)
    account_id = _account_id(request)
    account = await request.app[RUNNER].run(lambda s: rules.get_account(s, account_id, me))
    found = await request.app[ACCOUNTS].calendars(account)
    return web.json_response(
        {
            "calendars": [
                {
                    "url": c.url,
                    "name": c.name,
                    "events": c.events,
                    "writable": c.writable,
                    "written_into": c.url == account.calendar_url,
                }
                for c in found
            ]
        }
    )


async def disconnect(request: web.Request) -> web.Response:
    me = await _me(request)
    account_id = _account_id(request)
    remove = request.query.get("remove_events", "true").lower()
    if remove not in ("true", "false", "1", "0", "yes", "no"):
        raise InvalidInput("remove_events is true (the default) or false", field="remove_events")
    account = await request.app[RUNNER].run(lambda s: rules.get_account(s, account_id, me))
    done = await request.app[ACCOUNTS].disconnect(account, remove in ("true", "1", "yes"))
    return web.json_response({"removed_events": done.removed, "kept_events": done.kept})


for prefix in ("/api/calendar-accounts", "/api/me/calendar-accounts"):
    routes.post(prefix)(connect)
    routes.post(prefix + "/google")(begin_google)
    routes.get(prefix)(list_accounts)
    routes.get(prefix + "/{id}")(get_account)
    routes.patch(prefix + "/{id}")(update_account)
    routes.delete(prefix + "/{id}")(disconnect)
    routes.post(prefix + "/{id}/resync")(resync)
    routes.get(prefix + "/{id}/calendars")(calendars)


@routes.get(CALLBACK_PATH)
async def google_callback(request: web.Request) -> web.Response:
    """Google sends the person back here with ``code`` and ``state`` (or ``error``)."""
    error = request.query.get("error")
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    if error:
        raise InvalidInput(f"Google did not grant access ({error[:100]}): nothing was connected")
    if not state or not code:
        raise InvalidInput("code and state are required (this address is Google's to call)")
    account = await request.app[ACCOUNTS].finish_google(state, code)
    raise web.HTTPFound(f"/calendars?connected={account.id}")
