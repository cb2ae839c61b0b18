"""`GET /healthz` (does this replica's database answer?) and `GET /livez` (is this
process serving?).

They differ on purpose: while the database is away the bot still takes commands into its
local journal, so a replica whose `/healthz` says 503 is degraded, not dead. Point
alerting and a load balancer that fails open at `/healthz`; point a liveness probe (and a
Kubernetes readiness probe, which removes the only way in when every replica shares the
failing database) at `/livez`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.store.database import ping
from bot.web import RUNTIME

if TYPE_CHECKING:
    from bot.app import Runtime


async def get_healthz(request: web.Request) -> web.Response:
    """200 when the database answers within 2 s, 503 otherwise; the local journal's
    backlog either way."""
    healthy = await ping()
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable",
                               "database": "ok" if healthy else "unreachable"}
    runtime: Runtime | None = request.app.get(RUNTIME)
    if runtime is not None and (runtime.journal.pending or not healthy):
        body["journal"] = {"waiting": runtime.journal.pending}
    return web.json_response(body, status=200 if healthy else 503)


async def get_livez(request: web.Request) -> web.Response:
    """200 while this process serves requests (with or without its database)."""
    runtime: Runtime | None = request.app.get(RUNTIME)
    waiting = runtime.journal.pending if runtime is not None else 0
    return web.json_response({"status": "ok", "journal": {"waiting": waiting}})
