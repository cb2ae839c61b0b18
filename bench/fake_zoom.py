"""Loopback Zoom API that takes its time: the slow video provider of `declare-slow-zoom`.

Run as its own process (`python -m bench.fake_zoom --port P --delay 3`). Creating a
meeting sleeps `--delay` seconds before answering 201, as a struggling Zoom would, so the
bench can show whether declaring an incident (its HTTP ack) waits for the room or not.
`GET /count` says how many meetings were created, to compare with incidents declared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass

from aiohttp import web

MEETING_ID = 123
TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 3599}


@dataclass
class ZoomTally:
    """What the fake Zoom has done since it started."""

    delay_s: float
    tokens: int = 0
    started: int = 0
    created: int = 0


TALLY = web.AppKey("tally", ZoomTally)


async def post_token(request: web.Request) -> web.Response:
    """Server-to-Server OAuth: every request gets the same long-lived token."""
    request.app[TALLY].tokens += 1
    return web.json_response(TOKEN)


async def post_meeting(request: web.Request) -> web.Response:
    """`POST /v2/users/{user}/meetings`: wait the configured delay, then create it."""
    tally = request.app[TALLY]
    tally.started += 1
    try:
        topic = json.loads(await request.read()).get("topic")
    except (ValueError, AttributeError):
        topic = None
    await asyncio.sleep(tally.delay_s)
    tally.created += 1
    return web.json_response({
        "id": MEETING_ID, "join_url": f"https://zoom.example/j/{MEETING_ID}?pwd=x",
        "password": "x", "start_url": f"https://zoom.example/s/{MEETING_ID}?zak=secret",
        "topic": topic, "type": 2,
    }, status=201)


async def get_count(request: web.Request) -> web.Response:
    """Meetings created (and requests still sleeping), tokens issued."""
    tally = request.app[TALLY]
    return web.json_response({"created": tally.created,
                              "in_flight": tally.started - tally.created,
                              "tokens": tally.tokens})


def create_app(delay_s: float) -> web.Application:
    """The fake Zoom's routes; one `ZoomTally` per app."""
    app = web.Application()
    app[TALLY] = ZoomTally(delay_s=delay_s)
    app.router.add_post("/oauth/token", post_token)
    app.router.add_post("/v2/users/{user}/meetings", post_meeting)
    app.router.add_get("/count", get_count)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds per meeting")
    args = parser.parse_args()
    web.run_app(create_app(args.delay), host="127.0.0.1", port=args.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
