"""`POST /api/messages`: where Teams delivers every activity."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from bot.errors import AuthError, BadActivityError, TenantNotAllowedError
from bot.teams.activity_json import activity_from_dict, to_json
from bot.teams.auth import check_tenant
from bot.web import RUNTIME
from bot.web.activity_body import tenant_of, validate_activity
from bot.web.errors import problem

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


async def post_messages(request: web.Request) -> web.Response:
    """Authenticate, parse and run one activity; an invoke gets its response body."""
    runtime: Runtime = request.app[RUNTIME]
    if request.content_type != "application/json":
        return problem(415, "Content-Type must be application/json")
    try:
        data = validate_activity(orjson.loads(await request.read()))
    except orjson.JSONDecodeError as exc:
        return problem(400, f"body is not JSON: {type(exc).__name__}")
    except BadActivityError as exc:
        return problem(400, str(exc))
    try:
        if runtime.auth is not None:
            await runtime.auth.authenticate(
                request.headers.get("Authorization"),
                channel_id=data["channelId"],
                service_url=data["serviceUrl"],
            )
        check_tenant(runtime.settings, tenant_of(data))
    except TenantNotAllowedError as exc:
        log.warning("refused activity: %s", exc)
        return problem(403, "tenant not allowed")
    except BadActivityError as exc:
        return problem(400, str(exc))
    except AuthError as exc:
        log.info("unauthenticated request: %s", exc)
        return problem(401, "unauthorized")
    return await _run_turn(runtime, data)


async def _run_turn(runtime: Runtime, data: dict) -> web.Response:
    key = (data["conversation"]["id"], data.get("id") or "")
    if key[1]:
        earlier = runtime.recent.first_delivery(key)
        if earlier is not None:
            return _answer(await earlier)
    activity = activity_from_dict(data)
    try:
        response = await runtime.adapter.process(activity, runtime.bot.on_turn)
    except BaseException:
        runtime.recent.forget(key)
        raise
    answer = (response.status, to_json(response.body)) if response is not None else None
    runtime.recent.finish(key, answer)
    return _answer(answer)


def _answer(answer: tuple[int, object] | None) -> web.Response:
    if answer is None:
        return web.Response(status=200)
    status, body = answer
    if body is None:
        return web.Response(status=status)
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
