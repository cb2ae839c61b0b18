"""Loopback Bot Connector: accepts replies, answers `{"id": n}`, counts what arrived.

Run as its own process (`python -m bench.fake_connector --port P`) so its CPU is not
charged to the server under test. `GET /count` lets the bench check that every answered
request really produced a reply, and shows anything the servers sent elsewhere.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Tally:
    """What the connector has received since it started."""

    replies: int = 0
    other: int = 0
    last_reply: bytes = b""
    last_other: str = ""


TALLY = web.AppKey("tally", Tally)


async def post_activity(request: web.Request) -> web.Response:
    """Record one reply or send, like `POST /v3/conversations/{cid}/activities[/{aid}]`."""
    tally = request.app[TALLY]
    tally.last_reply = await request.read()
    tally.replies += 1
    return web.json_response({"id": str(tally.replies)})


async def unexpected(request: web.Request) -> web.Response:
    """Anything else a server calls is counted, so the report can show it."""
    tally = request.app[TALLY]
    tally.other += 1
    tally.last_other = f"{request.method} {request.path_qs}"
    return web.json_response({"error": {"code": "NotFound"}}, status=404)


async def get_count(request: web.Request) -> web.Response:
    """How many replies arrived (plus the last one, to show what the server sent)."""
    tally = request.app[TALLY]
    try:
        last = json.loads(tally.last_reply) if tally.last_reply else None
    except ValueError:
        last = tally.last_reply[:200].decode(errors="replace")
    return web.json_response({"replies": tally.replies, "other": tally.other,
                              "last_other": tally.last_other, "last_reply": last})


def create_app() -> web.Application:
    """The connector's routes; one `Tally` per app."""
    app = web.Application()
    app[TALLY] = Tally()
    app.router.add_post("/v3/conversations/{cid}/activities/{aid}", post_activity)
    app.router.add_post("/v3/conversations/{cid}/activities", post_activity)
    app.router.add_get("/count", get_count)
    app.router.add_route("*", "/{tail:.*}", unexpected)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
