"""Fallback load generator when wrk is not installed: an aiohttp client pool.

Usage: python bench/load.py URL SECONDS CONNECTIONS HEADERS_JSON; prints {"rps": ...}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def main(url: str, seconds: float, connections: int, headers: dict[str, str]) -> None:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status >= 400:
                    raise RuntimeError(f"status {response.status}")
            done += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.monotonic() - started
    print(json.dumps({"rps": done / elapsed, "requests": done}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])))
