"""Loopback Bot Connector: accepts replies, thread creations and card updates, and counts them.

Run as its own process (`python -m bench.fake_connector --port P`) so its CPU is not
charged to the server under test. `GET /count` lets the bench check that every answered
request really produced a reply, and shows anything the servers sent elsewhere;
`POST /arrivals` tells the load generator when each reply arrived. Declaring
an incident also creates a channel thread (`POST /v3/conversations`) and updates its card
(`PUT .../activities/{aid}`), so those are answered the way Teams answers them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

# The bot announces a finished room in the incident's thread with this text.
ROOM_ANNOUNCEMENT = "Incident Command Room on "


@dataclass
class Tally:
    """What the connector has received since it started."""

    replies: int = 0
    conversations: int = 0
    updates: int = 0
    room_posts: int = 0
    other: int = 0
    last_reply: bytes = b""
    last_other: str = ""
    # First arrival (time.monotonic(), the same clock in every process) of a post into
    # each activity's thread, keyed by that activity's id: the reply-latency probe.
    arrivals: dict[str, float] = field(default_factory=dict)


TALLY = web.AppKey("tally", Tally)


async def post_activity(request: web.Request) -> web.Response:
    """Record one reply or send, like `POST /v3/conversations/{cid}/activities[/{aid}]`."""
    tally = request.app[TALLY]
    aid = request.match_info.get("aid")
    if aid is not None:
        tally.arrivals.setdefault(aid, time.monotonic())
    tally.last_reply = await request.read()
    tally.replies += 1
    if ROOM_ANNOUNCEMENT.encode() in tally.last_reply:
        tally.room_posts += 1
    return web.json_response({"id": str(tally.replies)})


async def post_conversation(request: web.Request) -> web.Response:
    """Create a conversation: a channel thread when the body names a channel, else a 1:1 chat."""
    tally = request.app[TALLY]
    tally.conversations += 1
    number = tally.conversations
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.json_response({"error": {"code": "BadSyntax"}}, status=400)
    channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
    if channel:
        return web.json_response({"id": f"{channel};messageid={number}",
                                  "activityId": str(number)}, status=201)
    return web.json_response({"id": f"a:{number}"}, status=201)


async def put_activity(request: web.Request) -> web.Response:
    """Record one message update (a refreshed card), like `PUT .../activities/{aid}`."""
    tally = request.app[TALLY]
    await request.read()
    tally.updates += 1
    return web.json_response({"id": request.match_info["aid"]})


async def unexpected(request: web.Request) -> web.Response:
    """Anything else a server calls is counted, so the report can show it."""
    tally = request.app[TALLY]
    tally.other += 1
    tally.last_other = f"{request.method} {request.path_qs}"
    return web.json_response({"error": {"code": "NotFound"}}, status=404)


async def get_count(request: web.Request) -> web.Response:
    """How many calls of each kind arrived (plus the last reply, to show what was sent)."""
    tally = request.app[TALLY]
    try:
        last = json.loads(tally.last_reply) if tally.last_reply else None
    except ValueError:
        last = tally.last_reply[:200].decode(errors="replace")
    return web.json_response({"replies": tally.replies, "conversations": tally.conversations,
                              "updates": tally.updates, "room_posts": tally.room_posts,
                              "other": tally.other, "last_other": tally.last_other,
                              "last_reply": last})


async def post_arrivals(request: web.Request) -> web.Response:
    """Hand over (and forget) the arrival times of the activity ids in the body's `keys`."""
    arrivals = request.app[TALLY].arrivals
    keys = json.loads(await request.read()).get("keys") or []
    found = {key: arrivals.pop(key) for key in keys if key in arrivals}
    return web.json_response({"arrivals": found})


async def delete_arrivals(request: web.Request) -> web.Response:
    """Forget every arrival time (a load run starts with a clean slate)."""
    request.app[TALLY].arrivals.clear()
    return web.json_response({})


def create_app() -> web.Application:
    """The connector's routes; one `Tally` per app."""
    app = web.Application()
    app[TALLY] = Tally()
    app.router.add_post("/v3/conversations", post_conversation)
    app.router.add_post("/v3/conversations/{cid}/activities/{aid}", post_activity)
    app.router.add_put("/v3/conversations/{cid}/activities/{aid}", put_activity)
    app.router.add_post("/v3/conversations/{cid}/activities", post_activity)
    app.router.add_get("/count", get_count)
    app.router.add_post("/arrivals", post_arrivals)
    app.router.add_delete("/arrivals", delete_arrivals)
    app.router.add_route("*", "/{tail:.*}", unexpected)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
