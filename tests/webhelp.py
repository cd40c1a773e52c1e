"""Driving the web app over HTTP like a browser without JavaScript: GET a page, read its form
token, POST the form (cookies kept by the test client)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


class Pages:
    """A browser-like visitor: ``get`` keeps the last form token, ``post`` sends it."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.token = ""

    async def get(self, path: str, status: int = 200) -> str:
        response = await self.client.get(path, allow_redirects=True)
        text = await response.text()
        assert response.status == status, (path, response.status, text[:500])
        if CSRF.search(text):
            self.token = csrf_of(text)
        return text

    async def post(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, str]] | None = None,
        status: int = 303,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """POST a form; returns (Location or '', body)."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        fields.append(("csrf", self.token if token is None else token))
        response = await self.client.post(
            path, data=fields, allow_redirects=False, headers=headers or {}
        )
        text = await response.text()
        assert response.status == status, (path, response.status, text[:800])
        if CSRF.search(text):
            self.token = csrf_of(text)
        return response.headers.get("Location", ""), text

    async def sign_in(self, email: str, password: str) -> None:
        await self.get("/")
        location, _ = await self.post("/sign-in", {"email": email, "password": password})
        assert location == "/links"
        await self.get("/links")
