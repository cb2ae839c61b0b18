"""`GET /healthz`: is this replica able to serve (its database answers)?"""

from __future__ import annotations

from aiohttp import web

from bot.store.database import ping


async def get_healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise (so a load balancer stops routing here)."""
    healthy = await ping()
    body = {"status": "ok" if healthy else "unavailable",
            "database": "ok" if healthy else "unreachable"}
    return web.json_response(body, status=200 if healthy else 503)
