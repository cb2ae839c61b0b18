"""`POST /api/messages`: where Teams delivers every activity.

The order of checks is chosen for a hostile or slow client (issue 14): the bearer token
is checked from the headers alone, before a byte of the body is read, so a client without
a token costs one header parse; the body must then arrive within a deadline and a size
limit; only then is it parsed, its channel required to be Teams, the token's `serviceurl`
matched with it and its tenant checked. Requests refused early close the connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bot.errors import AuthError, BadActivityError, TenantNotAllowedError
from bot.teams.auth import TEAMS_CHANNEL, Caller, check_activity, check_tenant
from bot.teams.turns import Answer
from bot.web import REFUSALS, RUNTIME
from bot.web.activity_body import tenant_of, validate_activity
from bot.web.errors import problem
from bot.web.request_body import closing, read_body

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


async def post_messages(request: web.Request) -> web.StreamResponse:
    """Authenticate, read, parse and run one activity; an invoke gets its response body."""
    runtime: Runtime = request.app[RUNTIME]
    _refused = request.app[REFUSALS]
    if request.content_type != "application/json":
        return await closing(request, problem(415, "Content-Type must be application/json"))
    caller: Caller | None = None
    if runtime.auth is not None:
        try:
            caller = await runtime.auth.verify(request.headers.get("Authorization"))
        except AuthError as exc:
            _refused.info("unauthenticated request", str(exc))
            return await closing(request, problem(401, "unauthorized"))
    raw = await read_body(request, runtime.settings.request_body_timeout_s, _refused,
                          "request body too slow")
    if isinstance(raw, web.Response):
        return raw
    try:
        data = validate_activity(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        return problem(400, f"body is not JSON: {type(exc).__name__}")
    except BadActivityError as exc:
        return problem(400, str(exc))
    if data["channelId"] != TEAMS_CHANNEL:
        _refused.warning("refused activity from another channel", repr(data["channelId"][:40]))
        return problem(403, f"only Microsoft Teams ({TEAMS_CHANNEL!r}) is served")
    try:
        if caller is not None:
            check_activity(caller, service_url=data["serviceUrl"])
        check_tenant(runtime.settings, tenant_of(data))
    except TenantNotAllowedError as exc:
        _refused.warning("refused activity", str(exc))
        return problem(403, "tenant not allowed")
    except BadActivityError as exc:
        return problem(400, str(exc))
    except AuthError as exc:
        _refused.info("unauthenticated request", str(exc))
        return problem(401, "unauthorized")
    return await _run_turn(runtime, data)


def _delivery_key(data: dict[str, Any]) -> tuple[str, str]:
    """What makes a delivery the same activity again: its conversation and id, and for a
    message's edits and deletion (`messageUpdate` / `messageDelete`, which carry the
    message's own id, bot.teams.conversation) also their type and time."""
    activity_id = data.get("id") or ""
    if activity_id and data.get("type") in ("messageUpdate", "messageDelete"):
        activity_id = f"{activity_id}|{data['type']}|{data.get('timestamp') or ''}"
    return data["conversation"]["id"], activity_id


async def _run_turn(runtime: Runtime, data: dict[str, Any]) -> web.Response:
    key = _delivery_key(data)
    if key[1]:
        earlier = runtime.recent.first_delivery(key)
        if earlier is not None:
            previous: Answer | None = await earlier
            if previous is not None:
                return _response(previous)
            # The first delivery failed, so this one runs again (the activity key in the
            # database still keeps it from changing anything twice).
    try:
        answer = await runtime.turns.run(data)
    except BaseException:
        runtime.recent.forget(key)
        raise
    if answer.remember:
        runtime.recent.finish(key, answer)
    else:
        runtime.recent.forget(key)
    return _response(answer)


def _response(answer: Answer) -> web.Response:
    if answer.body is None:
        return web.Response(status=answer.status)
    return web.Response(body=orjson.dumps(answer.body), status=answer.status,
                        content_type="application/json")
