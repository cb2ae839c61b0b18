"""Serving a fake's aiohttp app on a free loopback port, the one way every fake does it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Request:
    """One request that reached a fake, as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 with a free port; the runner (to clean up) and its base URL
    with a trailing slash."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/"
