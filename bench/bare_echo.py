"""The floor: a bare aiohttp handler that parses the message and posts one reply.

What any Teams bot on aiohttp must do at minimum per message, with nothing else: one
JSON parse, one POST to the connector on a shared `ClientSession`, then 200.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

REPLY = {"type": "message", "text": "echo"}
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def post_messages(request: web.Request) -> web.Response:
    """Reply `echo` to the activity through the connector it names."""
    activity = json.loads(await request.read())
    url = (f"{activity['serviceUrl']}v3/conversations/{activity['conversation']['id']}"
           f"/activities/{activity['id']}")
    async with request.app[SESSION].post(url, json=REPLY) as reply:
        await reply.read()
        if reply.status >= 300:
            return web.Response(status=502, text=f"connector answered {reply.status}")
    return web.Response(status=200)


async def get_healthz(request: web.Request) -> web.Response:
    """Ready as soon as it listens."""
    return web.Response(status=200)


async def client_session(app: web.Application) -> AsyncIterator[None]:
    """One session for the app's lifetime, so replies reuse keep-alive connections."""
    app[SESSION] = aiohttp.ClientSession()
    yield
    await app[SESSION].close()


def create_app() -> web.Application:
    """The bare echo server."""
    app = web.Application()
    app.cleanup_ctx.append(client_session)
    app.router.add_post("/api/messages", post_messages)
    app.router.add_get("/healthz", get_healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
