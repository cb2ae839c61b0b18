"""Every request gets an id and is counted: the outermost middleware.

The id comes from the caller's `X-Request-Id` when it is a plain token (a proxy or load
balancer usually sets one), else a new one; it is returned in the response's
`X-Request-Id` and every log line written while serving the request carries it.
"""

from __future__ import annotations

import asyncio
import os
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.logs import REQUEST_ID
from bot.web import METRICS

HEADER = "X-Request-Id"
CLIENT_CLOSED = 499
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Anything else (spaces, quotes, newlines, kilobytes) could forge or break log lines.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's id when it is safe to log, else a fresh one."""
    if header and _ACCEPTED.fullmatch(header):
        return header
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def route_of(request: web.Request) -> str:
    """The matched route's pattern (bounded label values), or `unmatched`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Name the request in logs and the response; count it by route and status."""
    request_id = request_id_from(request.headers.get(HEADER))
    token = REQUEST_ID.set(request_id)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[HEADER] = request_id
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED  # the caller went away first (nginx's convention)
        raise
    finally:
        method = request.method if request.method in _METHODS else "other"
        request.app[METRICS].request(method=method, route=route_of(request), status=status)
        REQUEST_ID.reset(token)
