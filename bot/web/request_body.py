"""Reading a request's body on the bot's terms: the one rule for every route that takes a
body from outside (/api/messages, /api/zoom/events, /api/alerts/<source>).

A refused request is answered and its connection closed at once (`closing`): aiohttp
would otherwise keep reading, and ignoring, the unread body for up to 10 s, which is what
a slow client wants. A body must arrive within REQUEST_BODY_TIMEOUT_SECONDS (`read_body`);
its size is capped by the application's `client_max_size` (413).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.logs import REQUEST_ID, Throttled
from bot.web.errors import problem
from bot.web.request_ids import HEADER as REQUEST_ID_HEADER


async def closing(request: web.Request, response: web.Response) -> web.Response:
    """Answer `response`, then close the connection without reading the rest."""
    response.force_close()
    response.headers[REQUEST_ID_HEADER] = REQUEST_ID.get()
    await response.prepare(request)
    await response.write_eof()
    if request.protocol is not None:
        request.protocol.force_close()
    return response


async def read_body(request: web.Request, limit_s: float, refused: Throttled,
                    what: str) -> bytes | web.Response:
    """The whole body, or the 408 already sent (and logged, throttled, as `what`) when it
    did not arrive within `limit_s`."""
    try:
        async with asyncio.timeout(limit_s):
            return await request.read()
    except TimeoutError:
        refused.info(what, f"not received within {limit_s:g} s")
        return await closing(request,
                             problem(408, f"the body did not arrive within {limit_s:g} s"))
