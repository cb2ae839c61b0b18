"""`POST /api/zoom/events`: Zoom's webhooks, for who joins and leaves incident rooms.

Zoom signs every request with the event subscription's Secret Token
(`ZOOM_WEBHOOK_SECRET_TOKEN`): `x-zm-signature: v0=<hex HMAC-SHA256(secret,
"v0:{x-zm-request-timestamp}:{raw body}")>` ("Using webhooks", "Verify webhook events":
https://developers.zoom.us/docs/api/webhooks/; the format is in
`integrations/zoom_webhooks.py`). The order of checks follows `/api/messages`
(`bot/web/messages.py`): the timestamp header first (older or later than 5 minutes is a
replay: 401, before a byte of the body is read), then the body within the deadline and the
size limit, then the signature over the raw bytes (401), and only then is it parsed (400
if it is not JSON). A signed `endpoint.url_validation` is answered with the token Zoom
asks for; a participant's join or leave is recorded in the incident's transaction
(`bot/incidents/attendance.py`); any other event, or one about no open incident's room,
is answered 200 and ignored, since Zoom retries anything else. Without the secret the
route answers 404: nothing unsigned is ever acted on.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bot.incidents import attendance
from bot.store.availability import answered_within, is_unavailable
from bot.web import REFUSALS, RUNTIME
from bot.web.errors import problem
from bot.web.request_body import closing, read_body
from integrations import zoom_webhooks as zoom

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


async def post_zoom_events(request: web.Request) -> web.StreamResponse:
    """Verify, read and act on one Zoom webhook."""
    runtime: Runtime = request.app[RUNTIME]
    refused = request.app[REFUSALS]
    secret = runtime.settings.zoom_webhook_secret_token.get_secret_value()
    if not secret:
        return problem(404, "Zoom events are not configured (ZOOM_WEBHOOK_SECRET_TOKEN)")
    timestamp = request.headers.get(zoom.TIMESTAMP_HEADER) or ""
    if not zoom.fresh(timestamp, time.time()) or not request.headers.get(zoom.SIGNATURE_HEADER):
        refused.info("zoom event refused", "missing, malformed or stale timestamp or signature")
        return await closing(request, problem(401, "unauthorized"))
    raw = await read_body(request, runtime.settings.request_body_timeout_s, refused,
                          "zoom event body too slow")
    if isinstance(raw, web.Response):
        return raw
    if not zoom.signed(secret, timestamp, raw, request.headers.get(zoom.SIGNATURE_HEADER)):
        refused.info("zoom event refused", "bad signature")
        return problem(401, "unauthorized")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return problem(400, f"body is not JSON: {type(exc).__name__}")
    if not isinstance(data, dict):
        return problem(400, "body must be a JSON object")
    if data.get("event") == zoom.URL_VALIDATION:
        answer = zoom.validation_answer(secret, data)
        if answer is None:
            return problem(400, "payload.plainToken must be a non-empty string")
        return web.json_response(answer)
    event = zoom.participant_event(data)
    if event is None:
        return web.json_response({"ignored": str(data.get("event"))[:64]})
    try:
        await answered_within(runtime.settings.database_timeout_s,
                              lambda: _record(runtime, event))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        runtime.gate.failed(exc)
        response = problem(503, "the incident record is unavailable right now")
        response.headers["Retry-After"] = "30"
        return response
    return web.json_response({"ok": True})


async def _record(runtime: Runtime, event: zoom.ParticipantEvent) -> None:
    incident_id = await attendance.incident_for(event)
    if incident_id is None or runtime.in_incident is None:
        log.info("zoom event for meeting %s: no open incident has that room", event.meeting_id)
        return
    work: Any = attendance.joined if event.joined else attendance.left
    await runtime.in_incident(incident_id, lambda ctx: work(ctx, incident_id, event))

