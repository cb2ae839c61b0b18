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

from bot.store.availability import DatabaseUnavailable
from bot.store.database import ping
from bot.web import RUNTIME

if TYPE_CHECKING:
    from bot.app import Runtime


async def get_healthz(request: web.Request) -> web.Response:
    """200 when the database answers within 2 s and nothing waits in the local journal;
    503 otherwise: `unavailable` (no answer) or `recovering` (it answers, but commands
    taken while it did not are not all applied yet, or cannot be: SQLite still answers
    reads while another process holds its write lock)."""
    answers = await ping()
    runtime: Runtime | None = request.app.get(RUNTIME)
    if runtime is not None and not answers:
        runtime.gate.failed(DatabaseUnavailable("the health check's query got no answer"))
    waiting = runtime.journal.pending if runtime is not None else 0
    status = "unavailable" if not answers else "recovering" if waiting else "ok"
    body: dict[str, object] = {"status": status,
                               "database": "ok" if answers else "unreachable"}
    if status != "ok":
        body["journal"] = {"waiting": waiting}
    return web.json_response(body, status=200 if status == "ok" else 503)


async def get_livez(request: web.Request) -> web.Response:
    """200 while this process serves requests (with or without its database)."""
    runtime: Runtime | None = request.app.get(RUNTIME)
    waiting = runtime.journal.pending if runtime is not None else 0
    return web.json_response({"status": "ok", "journal": {"waiting": waiting}})
