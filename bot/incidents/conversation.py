"""The conversation on the record: what people write in an incident's place without
mentioning the bot (issue 19; docs/conversation-capture.md).

With `CAPTURE_CONVERSATION` the Teams app asks for the resource-specific permissions
`ChannelMessage.Read.Group` and `ChatMessage.Read.Chat`, and Teams then sends the bot
every message in the team's channels and in its chats, mentioned or not. The transport
(`bot.teams.conversation`) hands this module the messages said in an incident's place:
its thread in the incidents channel, its own channel (`bot.incidents.spaces`), or a
private incident's group chat (`bot.incidents.privacy`). Everything else is never
stored.

Each message is one `ChatEntry` (author, time, text as shown, links, attachments and
images as references: names and URLs, never their content) and one timeline event of
kind `EventKind.CHAT` beside the others, at the time the bot received it, as every other
entry. Edits replace the text and mark it edited; a deletion replaces it everywhere with
"message deleted by its author" (or by whom, a team owner may delete anyone's) and drops
its links and attachments; an edit or deletion of a message never heard is ignored.
Nothing is told: no reply, no card refresh (one per chat message would spend the
thread's rate budget on nothing new, docs/architecture.md, "Delivery under Teams' rate
limits"), and `timeline.recent` leaves chat out of the card and `status`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from bot.incidents.context import Ctx, Origin
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import MAX_NAME, MAX_TEXT, clip
from bot.incidents.pir_record import ChatLine
from bot.incidents.timeline import record
from bot.store.incident_models import ChatEntry, Incident, IncidentStatus, TimelineEvent

DELETED = "message deleted by its author"
# Teams lets a team's owners delete anyone's channel message.
DELETED_BY = "message deleted by {name}"
MAX_CHAT_TEXT = MAX_TEXT
MAX_LINKS = 20
MAX_ATTACHMENTS = 20
MAX_URL = 2048


@dataclass(frozen=True)
class Attachment:
    """A file, image or card sent with a message: what it is called and where it is."""

    name: str
    url: str | None
    kind: str  # "image", "file" or "card"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url or "", "kind": self.kind}


@dataclass(frozen=True)
class ChatMessage:
    """One message as Teams showed it, already plain text (`bot.teams.message_html`)."""

    message_id: str
    text: str
    links: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


async def place_of(origin: Origin) -> Incident | None:
    """The incident whose thread, own channel or chat `origin` is in, if any.

    The same places `queries.find_incident` looks in first (a thread or chat by its
    conversation id, a post in an incident's open channel), and nothing else: a message
    anywhere else is no incident's conversation.
    """
    if not origin.conversation_id or origin.conversation_type == "personal":
        return None
    # One query for both places (every message pays it, incident place or not).
    place = Q(thread_id=origin.conversation_id)
    if origin.channel_id and origin.conversation_type == "channel":
        place |= Q(channel_id=origin.channel_id, space_state="open")
    found = await Incident.filter(place, tenant_id=origin.tenant_id).limit(2)
    # A reply in a thread under an incident's own channel matches both: its thread wins.
    return next((i for i in found if i.thread_id == origin.conversation_id),
                found[0] if found else None)


async def entry_of(incident: Incident, message_id: str) -> ChatEntry | None:
    """The chat entry of `message_id` in `incident`, if it was heard."""
    return await ChatEntry.get_or_none(incident_id=incident.id, message_id=message_id)


def _links(message: ChatMessage) -> list[str] | None:
    links = list(dict.fromkeys(u for u in message.links if _is_url(u)))[:MAX_LINKS]
    return links or None


def _attachments(message: ChatMessage) -> list[dict[str, str]] | None:
    found = [Attachment(clip(a.name, MAX_NAME) or a.kind,
                        a.url if a.url and _is_url(a.url) else None, a.kind).to_json()
             for a in message.attachments[:MAX_ATTACHMENTS]]
    return found or None


def _is_url(url: str) -> bool:
    return url.startswith("https://") and len(url) <= MAX_URL


def _shown(message: ChatMessage) -> str:
    """The text as the timeline holds it; an image-only message still says what it was."""
    text = clip(message.text, MAX_CHAT_TEXT)
    if text:
        return text
    names = ", ".join(clip(a.name, MAX_NAME) or a.kind for a in message.attachments[:3])
    return f"[{names}]" if names else ""


async def heard(ctx: Ctx, incident: Incident, message: ChatMessage) -> ChatEntry | None:
    """Put a message said in the incident's place on its timeline (None: nothing to keep,
    or heard already, or the incident is closed: its record is final)."""
    text = _shown(message)
    if (incident.status is IncidentStatus.CLOSED or not text
            or await entry_of(incident, message.message_id) is not None):
        return None
    event = await record(ctx, incident, EventKind.CHAT, text, {"messageId": message.message_id})
    return await ChatEntry.create(
        incident=incident, message_id=message.message_id, author_id=ctx.actor.id,
        author_name=clip(ctx.actor.name, MAX_NAME) or "someone", sent_at=ctx.now, text=text,
        links=_links(message), attachments=_attachments(message), event_id=event.id)


async def edited(ctx: Ctx, incident: Incident, message: ChatMessage, *,
                 undeleted: bool = False) -> bool:
    """A heard message was edited (or restored, `undeleted`): the entry and its timeline
    event say the new text. False when the message was never heard, or the incident is
    closed (its record is final; a deletion still takes the text out, `deleted`)."""
    entry = await entry_of(incident, message.message_id)
    text = _shown(message)
    if (incident.status is IncidentStatus.CLOSED or entry is None or not text
            or (entry.deleted_at is not None and not undeleted)):
        return False
    entry.text, entry.edited_at = text, ctx.now
    entry.links, entry.attachments = _links(message), _attachments(message)
    if undeleted:
        entry.deleted_at = None
    await entry.save()
    await _retell(entry, text, edited=True)
    return True


async def deleted(ctx: Ctx, incident: Incident, message_id: str) -> bool:
    """A heard message was deleted by its author: its text, links and attachments go.
    False when the message was never heard."""
    entry = await entry_of(incident, message_id)
    if entry is None or entry.deleted_at is not None:
        return False
    by_author = ctx.actor.id == entry.author_id
    entry.text = DELETED if by_author else DELETED_BY.format(name=clip(ctx.actor.name, MAX_NAME))
    entry.deleted_at, entry.links, entry.attachments = ctx.now, None, None
    await entry.save()
    await _retell(entry, entry.text, edited=False)
    return True


async def _retell(entry: ChatEntry, text: str, *, edited: bool) -> None:
    if entry.event_id is None:
        return
    data = {"messageId": entry.message_id, "edited": edited or None,
            "deleted": entry.deleted_at is not None or None}
    await TimelineEvent.filter(id=entry.event_id, incident_id=entry.incident_id).update(
        text=text, data={k: v for k, v in data.items() if v is not None})


async def transcript(incident: Incident) -> tuple[ChatLine, ...]:
    """The incident's conversation, in the order it was heard."""
    return tuple(
        ChatLine(e.sent_at, e.author_name, e.text,
                 tuple(e.links or ()),
                 tuple((a.get("name") or "attachment", a.get("url") or None)
                       for a in e.attachments or ()),
                 e.edited_at, e.deleted_at is not None)
        for e in await ChatEntry.filter(incident_id=incident.id).order_by("sent_at", "id"))
