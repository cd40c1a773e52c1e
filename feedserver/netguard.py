"""Requests the server makes to addresses its users give (busy calendars, webhook endpoints)
never reach its own network unless allowed: loopback, private, link-local (cloud metadata),
multicast, reserved and unspecified addresses are refused, whether written in the URL or
resolved from a name (``PublicOnlyResolver`` checks each address when a connection is made,
so a name that resolves differently the second time gains nothing)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class Refused(Exception):
    """The address may not be reached; the message says why."""


def private_address(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified."""
    ip = ipaddress.ip_address(address.split("%")[0])
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def literal_private(url: str) -> bool:
    """The URL's host is a private address written out, or localhost."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host in ("localhost",) or host.endswith(".localhost")
    return private_address(host)


def refuse_private(url: str) -> None:
    """Refused if ``url`` is, or resolves to, a private or special address (blocking: for a
    client running on its own thread)."""
    if literal_private(url):
        raise Refused(f"{urlsplit(url).hostname} is a private address")
    host = urlsplit(url).hostname or ""
    try:
        found = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise Refused(f"{host} cannot be resolved") from exc
    for *_, address in found:
        if private_address(str(address[0])):
            raise Refused(f"{host} resolves to {address[0]}, a private address")


async def check(url: str) -> None:
    """``refuse_private`` without blocking the event loop."""
    if literal_private(url):
        raise Refused(f"{urlsplit(url).hostname} is a private address")
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
        return  # a public literal address
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        raise Refused(f"{host} cannot be resolved") from exc
    for *_, address in found:
        if private_address(str(address[0])):
            raise Refused(f"{host} resolves to {address[0]}, a private address")


class PublicOnlyResolver(AbstractResolver):
    """The default resolver, refusing names that resolve to a private or special address."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        for entry in found:
            if private_address(entry["host"]):
                raise Refused(f"{host} resolves to {entry['host']}, a private address")
        return found

    async def close(self) -> None:
        await self._resolver.close()


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """An answer's body, up to ``limit`` bytes: what a server sends is read until its end or
    the limit (``content.read(n)`` returns as soon as some bytes came, not n of them)."""
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def connector(limit: int, allow_private: bool) -> aiohttp.TCPConnector:
    """Connections for requests to addresses users give: every name resolved is checked
    (``PublicOnlyResolver``) unless ``allow_private``."""
    if allow_private:
        return aiohttp.TCPConnector(limit=limit, limit_per_host=0)
    return aiohttp.TCPConnector(limit=limit, limit_per_host=0, resolver=PublicOnlyResolver())
