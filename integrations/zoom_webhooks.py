"""Zoom's webhooks as plain values: the signature check, the URL validation answer, and the
participant events of a meeting.

What Zoom documents ("Using webhooks", https://developers.zoom.us/docs/api/webhooks/,
sections "Verify webhook events" and "Validate your webhook endpoint"; the change that
introduced both: https://developers.zoom.us/changelog/platform/webhook-url-validation.md):

- every request carries `x-zm-request-timestamp` (Unix seconds) and `x-zm-signature:
  v0=<hex HMAC-SHA256(secret token, "v0:{timestamp}:{raw body}")>`, the secret token being
  the event subscription's *Secret Token*; the raw bytes are signed, so the body is checked
  before it is parsed;
- `{"event": "endpoint.url_validation", "payload": {"plainToken": ...}}` (when the
  endpoint is saved, then every 72 hours) is answered 200 with `{"plainToken": ...,
  "encryptedToken": <hex HMAC-SHA256(secret token, plainToken)>}`;
- `meeting.participant_joined` / `meeting.participant_left`: `payload.object.id` is the
  meeting id (the number in the join URL), `payload.object.uuid` the meeting instance, and
  `payload.object.participant` holds `user_id`, `user_name`, `email`, `participant_uuid`,
  `id`, and `join_time` or `leave_time` (field list as Zoom's own typed SDK declares them:
  https://zoom.github.io/rivet-javascript/types/Meetings.MeetingParticipantJoinedEvent.html
  and .../Meetings.MeetingParticipantLeftEvent.html).

Zoom retries a delivery that is not answered 2xx, so the same event may come twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

URL_VALIDATION = "endpoint.url_validation"
JOINED = "meeting.participant_joined"
LEFT = "meeting.participant_left"
SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
# A signed request older (or further ahead) than this is refused: a replay.
MAX_AGE_S = 5 * 60
# Longest stored values (Zoom's own are far shorter).
NAME_CHARS = 256
KEY_CHARS = 128


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `x-zm-signature` Zoom sends for `body` at `timestamp`."""
    return "v0=" + _hex_hmac(secret, b"v0:" + timestamp.encode() + b":" + body)


def fresh(timestamp: str | None, now_s: float) -> bool:
    """Whether the timestamp header is a number of seconds within `MAX_AGE_S` of now."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(now_s - int(timestamp)) <= MAX_AGE_S


def signed(secret: str, timestamp: str, body: bytes, given: str | None) -> bool:
    """Whether `given` is Zoom's signature of `body` (compared in constant time)."""
    if not given:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body).encode(),
                               given.encode(errors="replace"))


def validation_answer(secret: str, data: dict[str, Any]) -> dict[str, str] | None:
    """The answer to `endpoint.url_validation`, None when it has no usable plainToken."""
    payload = data.get("payload")
    token = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token or len(token) > 512:
        return None
    return {"plainToken": token, "encryptedToken": _hex_hmac(secret, token.encode())}


@dataclass(frozen=True)
class ParticipantEvent:
    """Someone joined or left a Zoom meeting."""

    joined: bool
    meeting_id: str
    # Who, stably within the meeting: participant_uuid, else id, else user_id.
    key: str
    name: str
    email: str | None
    at: dt.datetime


def participant_event(data: dict[str, Any]) -> ParticipantEvent | None:
    """A joined/left event as a value; None for any other event or one that lacks what
    it needs (a meeting id, someone, a time)."""
    event = data.get("event")
    if event not in (JOINED, LEFT):
        return None
    payload = data.get("payload")
    meeting = payload.get("object") if isinstance(payload, dict) else None
    person = meeting.get("participant") if isinstance(meeting, dict) else None
    if not isinstance(meeting, dict) or not isinstance(person, dict):
        return None
    meeting_id = meeting.get("id")
    if isinstance(meeting_id, int) and not isinstance(meeting_id, bool):
        meeting_id = str(meeting_id)
    if not isinstance(meeting_id, str) or not meeting_id.isdigit() or len(meeting_id) > 20:
        return None
    key = next((str(person[k]) for k in ("participant_uuid", "id", "user_id")
                if isinstance(person.get(k), str | int) and str(person[k])), "")
    at = _time(person.get("join_time" if event == JOINED else "leave_time"))
    if not key or at is None:
        return None
    name = person.get("user_name")
    email = person.get("email")
    return ParticipantEvent(
        joined=event == JOINED, meeting_id=meeting_id, key=key[:KEY_CHARS],
        name=(name if isinstance(name, str) and name.strip() else "Someone")[:NAME_CHARS],
        email=email.strip()[:NAME_CHARS] if isinstance(email, str) and email.strip() else None,
        at=at)


def _time(value: Any) -> dt.datetime | None:
    """"2019-07-16T17:13:13Z" as an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None
