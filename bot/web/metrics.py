"""`GET /metrics`: Prometheus text exposition of this replica's counters and the shared
outbox and timer backlogs.

Not public by accident: with `METRICS_TOKEN` set, a scrape must send
`Authorization: Bearer <token>`; without it, only loopback clients are answered (a
Prometheus on the same host, or `curl` on the machine).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from aiohttp import web

from bot import __version__
from bot.logs import Throttled
from bot.metrics import (
    CONTENT_TYPE,
    DATABASE_UP,
    JOB_LAG,
    JOURNAL_DEPTH,
    OUTBOX_DEPTH,
    OUTBOX_LAG,
    Family,
)
from bot.store import jobs, outbox
from bot.store.availability import answered_within, is_unavailable
from bot.web import METRICS, RUNTIME, SETTINGS
from bot.web.errors import problem

log = logging.getLogger(__name__)
# The shared gauges come from the database; a scrape while it is away still answers.
DATABASE_GAUGES_TIMEOUT_S = 2.0
_unavailable = Throttled(log, interval_s=60.0)


def may_scrape(*, remote: str | None, authorization: str | None, token: str) -> bool:
    """The access rule: the bearer token when one is configured, else loopback only."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode())
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


async def get_metrics(request: web.Request) -> web.Response:
    """The metrics, or 401/403 for a caller the access rule refuses."""
    token = request.app[SETTINGS].metrics_token.get_secret_value()
    if not may_scrape(remote=request.remote, authorization=request.headers.get("Authorization"),
                      token=token):
        if token:
            response = problem(401, "unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return problem(403, "metrics are served to loopback only; set METRICS_TOKEN to "
                            "scrape from elsewhere")
    gauges: dict[Family, float] = {}
    runtime = request.app.get(RUNTIME)
    if runtime is not None:
        gauges[DATABASE_UP] = float(runtime.gate.up)
        gauges[JOURNAL_DEPTH] = float(runtime.journal.pending)
    async def shared() -> dict[Family, float]:
        return {OUTBOX_DEPTH: await outbox.depth(), OUTBOX_LAG: await outbox.lag_s(),
                JOB_LAG: await jobs.lag_s()}

    try:
        gauges.update(await answered_within(DATABASE_GAUGES_TIMEOUT_S, shared))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        _unavailable.info("metrics without the outbox and timer gauges",
                          "the database is away")
    body = request.app[METRICS].render(gauges, version=__version__)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
