"""Google, played locally: an OAuth 2.0 authorization server built with authlib (its Flask
integration: authorization code with PKCE required, refresh tokens, short-lived access
tokens) in a thread, and a CalDAV endpoint that takes its bearer tokens in front of a stock
Radicale (Google's layout: a calendar at ``/<calendar id>/events/``), with the Calendar
API's ``POST /calendar/v3/calendars``.

Revoking a grant, as a person does in their Google account, is ``revoke_grant``.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, TokenMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, request
from werkzeug.serving import make_server

from feedserver.calendar_accounts.access import basic
from tests.calendar_servers import CalendarServer
from tests.process import free_port

CLIENT_ID = "feedserver-test.apps.example"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Client(ClientMixin):
    redirect_uri: str

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):
    access_token: str
    refresh_token: str
    scope: str
    expires_at: float
    revoked: bool = False

    def check_client(self, client: Any) -> bool:
        return True

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return "camille"

    def get_client(self) -> Any:
        return None


@dataclass
class Google:
    """The authorization server's state, shared with the CalDAV endpoint."""

    redirect_uri: str
    access_seconds: int = 3
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # by access token
    grants: dict[str, str] = field(default_factory=dict)  # refresh token -> "ok" / "revoked"
    refreshed: int = 0
    challenges: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid(self, access_token: str) -> bool:
        with self.lock:
            token = self.tokens.get(access_token)
            return bool(
                token and not token.is_expired() and self.grants.get(token.refresh_token) == "ok"
            )

    def revoke_grant(self) -> None:
        with self.lock:
            for key in self.grants:
                self.grants[key] = "revoked"


def flask_app(google: Google) -> Flask:
    app = Flask("oauth")
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": google.access_seconds,
        "refresh_token": google.access_seconds,
    }
    client = Client(google.redirect_uri)

    def save_token(token: dict[str, Any], req: Any) -> None:
        with google.lock:
            refresh = token.get("refresh_token") or req.refresh_token.refresh_token
            google.grants.setdefault(refresh, "ok")
            google.tokens[token["access_token"]] = Token(
                token["access_token"],
                refresh,
                token.get("scope", ""),
                time.time() + token["expires_in"],
            )

    server = AuthorizationServer(
        app, lambda client_id: client if client_id == CLIENT_ID else None, save_token
    )

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            google.challenges.append(data.get("code_challenge_method", ""))
            google.codes[code] = Code(
                code,
                req.payload.redirect_uri,
                req.payload.scope,
                "camille",
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Any) -> Code | None:
            return google.codes.get(code)

        def delete_authorization_code(self, authorization_code: Code) -> None:
            google.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.user

    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
        INCLUDE_NEW_REFRESH_TOKEN = False

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            with google.lock:
                if google.grants.get(refresh_token) != "ok":
                    return None
                google.refreshed += 1
                return Token("", refresh_token, "https://www.googleapis.com/auth/calendar", 0)

        def authenticate_user(self, credential: Token) -> str:
            return "camille"

        def revoke_old_credential(self, credential: Token) -> None:
            pass

    server.register_grant(CodeGrant, [CodeChallenge(required=True)])
    server.register_grant(RefreshGrant)

    @app.get("/authorize")
    def authorize() -> Any:
        grant = server.get_consent_grant(end_user="camille")
        return server.create_authorization_response(grant_user="camille", grant=grant)

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    @app.post("/revoke")
    def revoke() -> Any:  # as Google's: the token alone
        with google.lock:
            value = request.form.get("token", "")
            if value in google.grants:
                google.grants[value] = "revoked"
        return ""

    return app


class OAuthServer:
    def __init__(self, google: Google) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, flask_app(google), threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OAuthServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join()


def bearer_caldav(google: Google, radicale: CalendarServer) -> web.Application:
    """Google's CalDAV and Calendar API in front of Radicale, for bearer tokens only."""

    async def proxy(req: web.Request) -> web.StreamResponse:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not google.valid(header[7:]):
            return web.Response(status=401, text="invalid or expired token")
        path = req.path
        rename = None
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[1] == "events":  # /<id>/events/... -> /camille/<id>/...
            rename = (f"/camille/{parts[0]}/", f"/{parts[0]}/events/")
            path = "/".join([f"/camille/{parts[0]}", *parts[2:]]) + (
                "/" if path.endswith("/") else ""
            )
        if req.method == "POST" and req.path == "/calendar/v3/calendars":
            summary = (await req.json())["summary"]
            calendar_id = f"c{len(google.codes)}{int(time.time() * 1000) % 100000}"
            body = (
                '<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" '
                'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
                f"<d:displayname>{summary}</d:displayname></d:prop></d:set></c:mkcalendar>"
            )
            async with (
                ClientSession() as http,
                http.request(
                    "MKCALENDAR",
                    f"{radicale.base}/camille/{calendar_id}/",
                    data=body.encode(),
                    headers={"Authorization": basic("camille", "secret")},
                ) as made,
            ):
                assert made.status == 201, await made.text()
            return web.json_response({"id": calendar_id, "summary": summary})
        headers = {
            k: v for k, v in req.headers.items() if k.lower() not in ("host", "authorization")
        }
        headers["Authorization"] = basic("camille", "secret")
        headers["Accept-Encoding"] = "identity"
        async with (
            ClientSession() as http,
            http.request(
                req.method,
                radicale.base + path,
                data=await req.read(),
                headers=headers,
                allow_redirects=False,
            ) as answer,
        ):
            payload = await answer.read()
            if rename is not None:
                payload = payload.replace(rename[0].encode(), rename[1].encode())
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() in ("etag", "content-type", "location", "dav")
            }
            return web.Response(status=answer.status, body=payload, headers=kept)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", proxy)
    return app
