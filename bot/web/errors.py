"""Turning failures into short HTTP answers: never a stack trace to the caller."""

from __future__ import annotations

import logging
from aiohttp import web

from bot.errors import new_error_id

log = logging.getLogger(__name__)


def problem(status: int, reason: str, **extra: str) -> web.Response:
    """A small JSON error body."""
    return web.json_response({"error": reason, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    """Log anything unexpected with an error id and answer 500 with that id only."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return problem(exc.status, exc.reason)
        raise
    except Exception:  # noqa: BLE001 - the last line of defence for every route
        error_id = new_error_id()
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        return problem(500, "internal error", errorId=error_id)
