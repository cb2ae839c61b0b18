"""`POST /api/alerts/{source}`: where Alertmanager and Grafana post alert notifications
(docs/alerts.md; what they do: bot/incidents/alerts.py).

The checks run in the order `/api/messages` uses (bot/web/messages.py), cheapest first,
for a hostile or slow client: the source must be one the rules file names (404), and a
bearer-token source's `Authorization` header must carry its token (401), both from the
headers alone, before a byte of the body is read; then the body must arrive within
REQUEST_BODY_TIMEOUT_SECONDS (408) and the size limit (413); an HMAC source's signature
is checked over the raw body (401), with its timestamp, when it sends one, no more than
five minutes away; only then is the JSON parsed (400 naming what is wrong). A refused
request changes nothing.

- Alertmanager sends `Authorization: Bearer <credentials>` from its receiver's
  `http_config.authorization` (https://prometheus.io/docs/alerting/latest/configuration/#http_config).
- Grafana's webhook contact point sends the same header (Authentication Header Scheme
  and Credentials), or signs the body: the header (`X-Grafana-Alerting-Signature` by
  default) holds the hex HMAC-SHA256 of the body with the secret, or of
  "<timestamp>:<body>" when a timestamp header is configured, the Unix time in seconds
  (https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/,
  and the signer, https://github.com/grafana/alerting/blob/main/http/hmac.go).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot.incidents import alerts
from bot.incidents.alert_rules import AlertSource
from bot.store.availability import answered_within, is_unavailable
from bot.web import REFUSALS, RUNTIME
from bot.web.errors import problem
from bot.web.request_body import closing, read_body

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
# How far a signed timestamp may be from now (replayed or badly clocked senders).
TIMESTAMP_SKEW_S = 300


async def post_alerts(request: web.Request) -> web.StreamResponse:
    """Authenticate, read and act on one notification; 200 when it did something, 202
    when it was understood and changed nothing (the body says which)."""
    runtime: Runtime = request.app[RUNTIME]
    refused = request.app[REFUSALS]
    name = request.match_info["source"]
    source = runtime.settings.alert_rules.sources.get(name)
    if source is None:
        refused.info("alert from an unknown source", repr(name[:40]))
        return await closing(request, problem(404, f"no alert source {name[:40]!r} is "
                                                    "configured (ALERT_RULES_FILE)"))
    if source.token is not None and not _bearer_ok(request, source):
        refused.info("unauthenticated alert", source.name)
        return await closing(request, problem(401, "unauthorized: this source needs "
                                                    "'Authorization: Bearer <token>'"))
    if request.content_type != "application/json":
        return await closing(request, problem(415, "Content-Type must be application/json"))
    raw = await read_body(request, runtime.settings.request_body_timeout_s, refused,
                          "alert body too slow")
    if isinstance(raw, web.Response):
        return raw
    if source.hmac_secret is not None:
        wrong = _signature_problem(request, source, raw)
        if wrong:
            refused.info("badly signed alert", f"{source.name}: {wrong}")
            return problem(401, f"unauthorized: {wrong}")
    try:
        note = alerts.parse(source.kind, orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        return problem(400, f"body is not JSON: {type(exc).__name__}")
    except alerts.BadNotification as exc:
        return problem(400, f"not a valid {source.kind} notification: {exc}")
    return await _act(runtime, source, note)


def _bearer_ok(request: web.Request, source: AlertSource) -> bool:
    assert source.token is not None
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), source.token.get_secret_value().encode())


def _signature_problem(request: web.Request, source: AlertSource, raw: bytes) -> str:
    """What is wrong with the request's signature; empty when it is right."""
    assert source.hmac_secret is not None
    given = (request.headers.get(source.signature_header) or "").strip().lower()
    if not given:
        return f"the {source.signature_header} header is missing"
    signed = raw
    if source.timestamp_header:
        stamp = (request.headers.get(source.timestamp_header) or "").strip()
        if not stamp.isdigit():
            return f"the {source.timestamp_header} header must hold the Unix time in seconds"
        if abs(time.time() - int(stamp)) > TIMESTAMP_SKEW_S:
            return (f"the {source.timestamp_header} timestamp is more than "
                    f"{TIMESTAMP_SKEW_S // 60} minutes from now")
        signed = stamp.encode() + b":" + raw
    expected = hmac.new(source.hmac_secret.get_secret_value().encode(), signed,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return f"the {source.signature_header} signature does not match the body"
    return ""


async def _act(runtime: Runtime, source: AlertSource, note: alerts.Notification) -> web.Response:
    settings = runtime.settings

    async def transaction() -> alerts.Received:
        return await runtime.in_tenant(
            settings.alerts_tenant,
            lambda ctx: alerts.receive(ctx, source, settings.alert_rules, note))

    try:
        try:
            received = await answered_within(settings.database_timeout_s, transaction)
        except IntegrityError:
            # Two first notifications of one group raced (Alertmanager and a Grafana HA
            # pair both send): the other made the group; this one updates it.
            received = await answered_within(settings.database_timeout_s, transaction)
    except alerts.NotSetUp as exc:
        log.warning("alert from %s not posted: %s", source.name, exc)
        response = problem(503, f"not posted: {exc}")
        response.headers["Retry-After"] = "60"
        return response
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        runtime.gate.failed(exc)
        # Alertmanager and Grafana send again after a 5xx: nothing is lost.
        response = problem(503, "the incident record is unavailable right now; send again")
        response.headers["Retry-After"] = "30"
        return response
    log.info("alert from %s (%s): %s", source.name, note.status, received.said)
    return web.json_response({"result": received.said}, status=200 if received.acted else 202)
