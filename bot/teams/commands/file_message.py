"""The message action "Add to incident timeline" (a message extension with `fetchTask`).

Teams sends `composeExtension/fetchTask` when someone picks the action on a message; the
bot answers with a dialog (an Adaptive Card) asking which open incident, preselecting the
incident whose thread the message is in. Submitting the dialog sends
`composeExtension/submitAction` with the card's inputs and the message itself
(`messagePayload`); the message's text, author, time and link go on the timeline through
the same transaction as `note`, and the dialog closes with a short message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botbuilder.schema import InvokeResponse

from bot.errors import CommandError
from bot.incidents import journal
from bot.incidents.context import Ctx
from bot.incidents.limits import clip
from bot.incidents.queries import find_incident, open_incidents
from bot.incidents.severity import BUILT_IN, SeverityScale
from bot.store.incident_models import Incident
from bot.teams import cards
from bot.teams.answers import task_card, task_message
from bot.teams.bot import FETCH_TASK
from bot.teams.call import Call
from bot.teams.markdown import literal
from bot.teams.message_html import plain_text
from bot.teams.router import Router

router = Router()
COMMAND_ID = "addToTimeline"  # manifest/manifest.json composeExtensions[0].commands[0].id
MAX_LINK = 2048
PREVIEW = 300


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def filed_message(payload: dict[str, Any]) -> journal.FiledMessage:
    """The domain's view of Teams' `messagePayload`: plain text, author, time, link."""
    body = _object(payload, "body")
    html = (_string(body, "contentType") or "html").lower() == "html"
    text = plain_text(_string(body, "content"), html=html)
    return journal.FiledMessage(
        text=text, author=_author(payload.get("from")),
        posted_at=_when(payload.get("createdDateTime")),
        link=_link(payload.get("linkToMessage")),
        message_id=clip(str(payload["id"]), 64) if payload.get("id") else None,
    )


def _author(sender: Any) -> str:
    sender = sender if isinstance(sender, dict) else {}
    for kind in ("user", "application", "device"):
        who = sender.get(kind)
        if isinstance(who, dict) and isinstance(who.get("displayName"), str):
            name: str = who["displayName"]
            return name
    return ""


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    # Teams writes milliseconds; trim anything finer so fromisoformat accepts it.
    head, dot, tail = value.replace("Z", "+00:00").partition(".")
    if dot:
        digits = "".join(c for c in tail if c.isdigit())
        value = f"{head}.{digits[:6]}{tail[len(digits):]}"
    try:
        when = dt.datetime.fromisoformat(value if dot else head)
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _link(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("https://") and len(value) <= MAX_LINK:
        return value
    return None


def _number(data: dict[str, Any]) -> int:
    value = str(data.get("incident") or "").strip().upper().removeprefix("INC-")
    if not value.isdigit():
        raise CommandError("Choose the incident to file this message into.")
    return int(value)


def file_card(incidents: list[Incident], *, selected: Incident | None,
              message: journal.FiledMessage, scale: SeverityScale = BUILT_IN) -> cards.Card:
    """The dialog: the message quoted, which incident, an optional note."""
    preview = clip(message.text, PREVIEW)
    choices = [{"title": clip(f"INC-{i.number} · {scale.name(i.severity)} · {i.title}", 120),
                "value": str(i.number)} for i in incidents]
    chooser: dict[str, Any] = {
        "type": "Input.ChoiceSet", "id": "incident", "label": "Incident", "style": "compact",
        "isRequired": True, "errorMessage": "Choose an incident.", "choices": choices,
    }
    if selected is not None:
        chooser["value"] = str(selected.number)
    return cards.card([
        cards.text(f"From {literal(message.author or 'someone')}", weight="Bolder"),
        cards.text(literal(preview), isSubtle=True),
        chooser,
        {"type": "Input.Text", "id": "note", "label": "Note (optional)", "isMultiline": True,
         "maxLength": journal.MAX_FILED_NOTE, "placeholder": "Why this matters"},
    ], [{"type": "Action.Submit", "title": "Add to timeline", "data": {"verb": "timeline.file"}}])




@router.message_action(COMMAND_ID, label="file")
async def add_to_timeline(call: Call, name: str, value: dict[str, Any]) -> InvokeResponse:
    """The dialog (fetchTask), then the filing (submitAction)."""
    payload = value.get("messagePayload")
    if not isinstance(payload, dict):
        return task_message("Pick a message first: open its … menu, then "
                            "More actions → Add to incident timeline.")
    message = filed_message(payload)
    if name == FETCH_TASK:
        if not message.text:  # say so now rather than after the form is filled in
            return task_message(journal.NO_TEXT)
        return await _ask_where(call, message)
    return await _file(call, message, _object(value, "data"))


async def _ask_where(call: Call, message: journal.FiledMessage) -> InvokeResponse:
    ctx = call.context()
    # The dialog is seen by the one who opened it only: their private incidents too.
    incidents = await call.read(lambda: open_incidents(ctx.origin.tenant_id,
                                                       viewer=ctx.actor.id, private_too=True))
    if not incidents:
        return task_message("There is no open incident to file this message into.")
    # In a thread the conversation id names it; on the thread's first post (the incident
    # card) only the message's own id does.
    here = next((i for i in incidents if i.thread_id == ctx.origin.conversation_id
                 or (message.message_id and i.card_activity_id == message.message_id)), None)
    return task_card("Add to incident timeline",
                     file_card(incidents, selected=here, message=message,
                               scale=ctx.policy.severity))


async def _file(call: Call, message: journal.FiledMessage,
                data: dict[str, Any]) -> InvokeResponse:
    note = _string(data, "note")

    async def work(ctx: Ctx) -> None:
        incident = await find_incident(ctx, _number(data))
        await journal.file_message(ctx, incident, message, note)

    await call.execute(work)
    return task_message(f"Added to INC-{_number(data)}'s timeline.")
