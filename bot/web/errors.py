"""Turning failures into short HTTP answers: never a stack trace to the caller."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.errors import new_error_id
from bot.store.availability import answered_within, is_unavailable
from bot.web import RUNTIME, SETTINGS

log = logging.getLogger(__name__)


def problem(status: int, reason: str, **extra: str) -> web.Response:
    """A small JSON error body."""
    return web.json_response({"error": reason, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log anything unexpected with an error id and answer 500 with that id only."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return problem(exc.status, exc.reason)
        raise
    except Exception:
        error_id = new_error_id()
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        return problem(500, "internal error", errorId=error_id)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reads_database(handler: Handler) -> Handler:
    """A page read from the database (a review, the status page): bounded by the database
    deadline, and 503 with a plain reason while the database is away, never a hang."""

    @functools.wraps(handler)
    async def bounded(request: web.Request) -> web.StreamResponse:
        try:
            return await answered_within(request.app[SETTINGS].database_timeout_s,
                                         lambda: handler(request))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            runtime = request.app.get(RUNTIME)
            if runtime is not None:
                runtime.gate.failed(exc)
            log.warning("%s %s: the database is away", request.method, request.path)
            response = problem(503, "the incident record is unavailable right now; "
                                    "try again in a minute")
            response.headers["Retry-After"] = "30"
            return response

    return bounded
