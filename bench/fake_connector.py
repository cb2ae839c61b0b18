"""Loopback Bot Connector: accepts replies, thread creations and card updates, and counts them.

Run as its own process (`python -m bench.fake_connector --port P`) so its CPU is not
charged to the server under test. `GET /count` lets the bench check that every answered
request really produced a reply, and shows anything the servers sent elsewhere;
`POST /arrivals` tells the load generator when each reply arrived. Declaring
an incident also creates a channel thread (`POST /v3/conversations`) and updates its card
(`PUT .../activities/{aid}`), so those are answered the way Teams answers them.

With `--teams-limits` it also enforces Teams' published bot rate limits
(https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit; the
windows are in `bench.teams_limits`): a call past a limit is answered 429 with
`Retry-After`, as Teams answers it, and is not counted. In that mode every accepted call
is also logged with its arrival time and text (`GET /posts`), so a scenario can time
what reached a thread and when; the log costs a JSON parse per call, so the plain mode
the throughput scenarios use does not keep it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.message import TENANT_ID
from bench.teams_limits import TeamsLimits, thread_key

# The bot announces a finished room in the incident's thread with this text.
ROOM_ANNOUNCEMENT = "Incident Command Room on "
POST_TEXT_CHARS = 200  # of each logged call's text


@dataclass
class Tally:
    """What the connector has received since it started."""

    replies: int = 0
    conversations: int = 0
    updates: int = 0
    room_posts: int = 0
    other: int = 0
    throttled: int = 0  # calls answered 429 (only with --teams-limits)
    last_reply: bytes = b""
    last_other: str = ""
    # First arrival (time.monotonic(), the same clock in every process) of a post into
    # each activity's thread, keyed by that activity's id: the reply-latency probe.
    arrivals: dict[str, float] = field(default_factory=dict)
    # With --teams-limits: the windows, and every accepted call in arrival order.
    limits: TeamsLimits | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


TALLY = web.AppKey("tally", Tally)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def card_texts(value: Any) -> list[str]:
    """Every `text` of a card (or of any JSON inside an activity), in document order."""
    if isinstance(value, dict):
        own = [value["text"]] if isinstance(value.get("text"), str) else []
        return own + [t for k, v in value.items() if k != "text" for t in card_texts(v)]
    if isinstance(value, list):
        return [t for item in value for t in card_texts(item)]
    return []


def activity_text(activity: dict[str, Any]) -> str:
    """What a reader sees of an activity: its text, else its cards' texts."""
    text = activity.get("text")
    if not isinstance(text, str) or not text:
        text = " | ".join(card_texts(activity.get("attachments") or []))
    return text[:POST_TEXT_CHARS]


def tenant_of(body: dict[str, Any]) -> str:
    """The tenant a call counts against: the one the body names, else the fake's own (the
    bench's one tenant), since a reply body usually names none."""
    channel_data = body.get("channelData") or {}
    named = (body.get("tenantId") or (channel_data.get("tenant") or {}).get("id")
             or (body.get("conversation") or {}).get("tenantId"))
    return str(named) if named else TENANT_ID


def throttle(tally: Tally, thread: str, body: dict[str, Any]) -> web.Response | None:
    """None when the call is within Teams' limits (or none are enforced), else its 429."""
    if tally.limits is None:
        return None
    retry_after = tally.limits.admit(thread, tenant_of(body), time.monotonic())
    if retry_after is None:
        return None
    tally.throttled += 1
    return web.json_response(
        {"error": {"code": "TooManyRequests",
                   "message": f"Too many requests to thread {thread}; retry after "
                              f"{retry_after} s"}},
        status=429, headers={"Retry-After": str(retry_after)})


def log_post(tally: Tally, *, kind: str, method: str, conversation: str,
             reply_to: str | None, body: dict[str, Any], answered: str) -> None:
    """Keep one accepted call for `GET /posts` (only when limits are enforced)."""
    if tally.limits is not None:
        tally.posts.append({"t": time.monotonic(), "kind": kind, "method": method,
                            "conversation": conversation, "reply_to": reply_to,
                            "id": answered, "text": activity_text(body)})


async def post_activity(request: web.Request) -> web.Response:
    """Record one reply or send, like `POST /v3/conversations/{cid}/activities[/{aid}]`."""
    tally = request.app[TALLY]
    aid = request.match_info.get("aid")
    raw = await request.read()
    body = _json(raw) if tally.limits is not None else {}
    cid = request.match_info["cid"]
    if refused := throttle(tally, thread_key(cid), body):
        return refused
    if aid is not None:
        tally.arrivals.setdefault(aid, time.monotonic())
    tally.last_reply = raw
    tally.replies += 1
    if ROOM_ANNOUNCEMENT.encode() in tally.last_reply:
        tally.room_posts += 1
    answered = str(tally.replies)
    log_post(tally, kind="reply" if aid is not None else "send", method="POST",
             conversation=cid, reply_to=aid, body=body, answered=answered)
    return web.json_response({"id": answered})


async def post_conversation(request: web.Request) -> web.Response:
    """Create a conversation: a channel thread when the body names a channel, else a 1:1 chat."""
    tally = request.app[TALLY]
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.json_response({"error": {"code": "BadSyntax"}}, status=400)
    channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
    members = body.get("members") or [{}]
    # A channel thread counts against its channel, a new 1:1 chat against that chat.
    if refused := throttle(tally, str(channel or members[0].get("id") or ""), body):
        return refused
    tally.conversations += 1
    number = tally.conversations
    if channel:
        answer = {"id": f"{channel};messageid={number}", "activityId": str(number)}
    else:
        answer = {"id": f"a:{number}"}
    log_post(tally, kind="create", method="POST", conversation=answer["id"], reply_to=None,
             body=body.get("activity") or {}, answered=answer.get("activityId", ""))
    return web.json_response(answer, status=201)


async def put_activity(request: web.Request) -> web.Response:
    """Record one message update (a refreshed card), like `PUT .../activities/{aid}`."""
    tally = request.app[TALLY]
    raw = await request.read()
    body = _json(raw) if tally.limits is not None else {}
    cid, aid = request.match_info["cid"], request.match_info["aid"]
    if refused := throttle(tally, thread_key(cid), body):
        return refused
    tally.updates += 1
    log_post(tally, kind="update", method="PUT", conversation=cid, reply_to=aid, body=body,
             answered=aid)
    return web.json_response({"id": aid})


async def unexpected(request: web.Request) -> web.Response:
    """Anything else a server calls is counted, so the report can show it."""
    tally = request.app[TALLY]
    tally.other += 1
    tally.last_other = f"{request.method} {request.path_qs}"
    return web.json_response({"error": {"code": "NotFound"}}, status=404)


async def get_count(request: web.Request) -> web.Response:
    """How many calls of each kind arrived (plus the last reply, to show what was sent);
    `throttled` counts the 429s answered and `posts` the calls `GET /posts` lists."""
    tally = request.app[TALLY]
    try:
        last = json.loads(tally.last_reply) if tally.last_reply else None
    except ValueError:
        last = tally.last_reply[:200].decode(errors="replace")
    return web.json_response({"replies": tally.replies, "conversations": tally.conversations,
                              "updates": tally.updates, "room_posts": tally.room_posts,
                              "other": tally.other, "last_other": tally.last_other,
                              "throttled": tally.throttled, "posts": len(tally.posts),
                              "last_reply": last})


async def get_posts(request: web.Request) -> web.Response:
    """Accepted calls from index `from` (default 0) on, each `{t, kind, method, conversation,
    reply_to, id, text}`; `next` is the index to ask from next time."""
    posts = request.app[TALLY].posts
    start = int(request.query.get("from", "0"))
    return web.json_response({"posts": posts[start:], "next": len(posts)})


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


def create_app(*, teams_limits: bool = False) -> web.Application:
    """The connector's routes; one `Tally` per app."""
    app = web.Application()
    app[TALLY] = Tally(limits=TeamsLimits() if teams_limits else None)
    app.router.add_post("/v3/conversations", post_conversation)
    app.router.add_post("/v3/conversations/{cid}/activities/{aid}", post_activity)
    app.router.add_put("/v3/conversations/{cid}/activities/{aid}", put_activity)
    app.router.add_post("/v3/conversations/{cid}/activities", post_activity)
    app.router.add_get("/count", get_count)
    app.router.add_get("/posts", get_posts)
    app.router.add_post("/arrivals", post_arrivals)
    app.router.add_delete("/arrivals", delete_arrivals)
    app.router.add_route("*", "/{tail:.*}", unexpected)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--teams-limits", action="store_true",
                        help="answer 429 past Teams' bot rate limits; log accepted calls")
    args = parser.parse_args()
    web.run_app(create_app(teams_limits=args.teams_limits), host="127.0.0.1", port=args.port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
