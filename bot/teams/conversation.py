"""Teams messages that are not commands: the conversation in an incident's place
(`bot.incidents.conversation`, docs/conversation-capture.md).

With the resource-specific permissions `ChannelMessage.Read.Group` (a team's channels)
and `ChatMessage.Read.Chat` (its chats) in the manifest, Teams sends the bot every
message, @mentioned or not ("Receive all conversation messages",
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/channel-messages-with-rsc):
the same `message` activity, without the bot's mention entity. Edits and deletions come
as conversation events ("Conversation events in your Teams bot", message update events,
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events):
`messageUpdate` with `channelData.eventType` "editMessage" (or "undeleteMessage", the
message restored) and `messageDelete` with "softDeleteMessage"; the activity's `id` is
the message's, its conversation id (`<channel>;messageid=<root>` in a channel thread, the
chat's id in a chat) says where it is. Teams sends these for the conversations where the
bot is installed and receives messages; botbuilder's `TeamsActivityHandler` maps the
same event types (`on_teams_message_edit`, `on_teams_message_soft_delete`).

Only with `CAPTURE_CONVERSATION` (`Policy.capture_conversation`): without it, a message
without a mention is handled as it always was (Teams sends none in channels and group
chats without those permissions). With it, such a message is never a command and never
answered, wherever it is: in an incident's place it is stored in one transaction,
anywhere else it is dropped unread. A failing turn says nothing either (the turn is
`silent`, `bot.teams.turns`): nobody asked the bot anything. While the database is away
a message is journaled like a command and placed when it is replayed.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.incidents import conversation
from bot.incidents.context import Policy
from bot.incidents.conversation import Attachment, ChatMessage
from bot.incidents.limits import clip
from bot.store.availability import is_unavailable
from bot.store.incident_models import Incident
from bot.teams import turn_record
from bot.teams.call import Call, origin_of
from bot.teams.mentions import MAX_ID
from bot.teams.message_html import read_message

EDIT = "editMessage"
UNDELETE = "undeleteMessage"
SOFT_DELETE = "softDeleteMessage"
_AT_TAGS = re.compile(r"</?at>", re.IGNORECASE)
_URLS = re.compile(r"https://[^\s<>\"'`]+")
_URL_TAIL = ".,;:!?)"
# Cards the bot or others send are shown as cards, not text: named, not copied.
_CARD = "application/vnd.microsoft.card."
# A pre-authenticated download link: anyone holding it may fetch the file. Not kept.
_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"


def mentions_bot(activity: Activity) -> bool:
    """Whether the bot is @mentioned (a mention entity naming the recipient)."""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "") or "").lower() != "mention":
            continue
        data = getattr(entity, "additional_properties", None) or {}
        mentioned = data.get("mentioned")
        if isinstance(mentioned, dict) and bot_id and mentioned.get("id") == bot_id:
            return True
    return False


def said_aside(activity: Activity) -> bool:
    """A message said in a channel or a group chat without the bot's mention: never a
    command (in a 1:1 everything is one). Teams delivers such messages only with the RSC
    permissions; a package built with CAPTURE_CONVERSATION keeps them after the setting is
    turned off, and people talking to each other must not run commands."""
    conversation_type = (activity.conversation.conversation_type or "") if (
        activity.conversation) else ""
    return (activity.type == ActivityTypes.message and conversation_type != "personal"
            and not mentions_bot(activity))


def is_chat(activity: Activity, policy: Policy) -> bool:
    """Conversation to capture rather than a command to run: the setting is on, and it is
    an edit or deletion, or a message said aside (`said_aside`)."""
    if not policy.capture_conversation:
        return False
    if activity.type in (ActivityTypes.message_update, ActivityTypes.message_delete):
        return True
    return said_aside(activity)


def event_type(activity: Activity) -> str:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    value = data.get("eventType")
    return value if isinstance(value, str) else ""


def chat_message(activity: Activity) -> ChatMessage:
    """The message as Teams showed it: its HTML body when Teams sends one (the `text/html`
    attachment), else its text; links; attachments and inline images as references."""
    body = _html_body(activity)
    if body is not None:
        read = read_message(body)
    else:
        text = _AT_TAGS.sub("", activity.text if isinstance(activity.text, str) else "")
        markup = (activity.text_format or "plain").lower() in ("xml", "markdown")
        read = read_message(text if markup else html.unescape(text), html=markup)
    links = [*read.links, *(u.rstrip(_URL_TAIL) for u in _URLS.findall(read.text))]
    attachments = [Attachment(alt, src, "image") for alt, src in read.images]
    attachments += [a for a in map(_attachment, activity.attachments or []) if a]
    return ChatMessage(message_id=clip(activity.id or "", MAX_ID), text=read.text,
                       links=tuple(links), attachments=tuple(attachments))


def _fields(attachment: Any) -> tuple[str, Any, str, str]:
    """contentType, content, contentUrl, name of a botbuilder Attachment."""
    kind = getattr(attachment, "content_type", None)
    url = getattr(attachment, "content_url", None)
    name = getattr(attachment, "name", None)
    return (kind if isinstance(kind, str) else "", getattr(attachment, "content", None),
            url if isinstance(url, str) else "", name if isinstance(name, str) else "")


def _html_body(activity: Activity) -> str | None:
    for attachment in activity.attachments or []:
        kind, content, _, _ = _fields(attachment)
        if kind == "text/html" and isinstance(content, str):
            return content
    return None


def _attachment(attachment: Any) -> Attachment | None:
    kind, _, url, name = _fields(attachment)
    if kind == "text/html":
        return None
    if kind.startswith(_CARD):
        return Attachment(name or "card", None, "card")
    if kind.startswith("image/"):
        return Attachment(name or "image", url or None, "image")
    if kind == _DOWNLOAD_INFO:
        return Attachment(name or "file", None, "file")
    return Attachment(name or "file", url or None, "file")


def _from_bot(activity: Activity) -> bool:
    """This bot or another (a Workflows post, another app's reply): not people's words."""
    sender = activity.from_property.id if activity.from_property else ""
    role = (activity.from_property.role or "") if activity.from_property else ""
    bot_id = activity.recipient.id if activity.recipient else ""
    return bool(sender) and (sender == bot_id or sender.startswith("28:") or role == "bot")


# Incident places this process found (conversation ids, and "channel:<id>" for an
# incident's own channel), newest last. While the database is away only messages said in
# these are journaled: with RSC Teams sends every message of the team, and the rest would
# fill the journal that acknowledged commands need (and keep text from elsewhere on disk).
_KNOWN_PLACES: OrderedDict[str, None] = OrderedDict()
MAX_KNOWN_PLACES = 10_000


def _place_keys(activity: Activity) -> tuple[str, str]:
    origin = origin_of(activity)
    return origin.conversation_id, f"channel:{origin.channel_id}" if origin.channel_id else ""


def _remember(key: str) -> None:
    _KNOWN_PLACES[key] = None
    _KNOWN_PLACES.move_to_end(key)
    while len(_KNOWN_PLACES) > MAX_KNOWN_PLACES:
        _KNOWN_PLACES.popitem(last=False)


async def _place(call: Call) -> Incident | None:
    """The incident whose place the activity is in. While the database is away a message
    in a place this process knows is journaled (not answered "unavailable") and placed
    when replayed; any other is dropped."""
    record = turn_record.of(call.turn)
    thread, channel = _place_keys(call.activity)
    try:
        found = await call.read(lambda: conversation.place_of(origin_of(call.activity)))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        if thread not in _KNOWN_PLACES and channel not in _KNOWN_PLACES:
            return None
        record.reading = False  # `bot.teams.turns`: journal it, like a command
        raise
    if found is not None:
        _remember(thread if found.thread_id == thread else channel)
    return found


def ignored(turn: TurnContext) -> None:
    """A message said aside with capture off: no answer, whatever happens."""
    turn_record.of(turn).silent = True


async def heard(call: Call) -> None:
    """A message said without the bot's mention: kept if it is in an incident's place."""
    turn_record.of(call.turn).silent = True
    activity = call.activity
    if _from_bot(activity) or not activity.id:
        return
    incident = await _place(call)
    if incident is None:
        return
    message = chat_message(activity)
    await call.execute(lambda ctx: conversation.heard(ctx, incident, message))


async def changed(call: Call) -> None:
    """`messageUpdate` / `messageDelete`: an edit, a restore or a deletion of a message
    the bot heard; anything else (a message never heard, other event types) is ignored."""
    turn_record.of(call.turn).silent = True
    activity = call.activity
    kind = event_type(activity)
    if (kind not in (EDIT, UNDELETE, SOFT_DELETE) or not activity.id
            or not is_chat(activity, call.services.policy) or _from_bot(activity)):
        return
    incident = await _place(call)
    if incident is None or await call.read(
            lambda: conversation.entry_of(incident, activity.id or "")) is None:
        return
    # Every edit of one message shares its id: the key is the event and its time, so a
    # redelivery is applied once and a later edit is not taken for it.
    stamp = activity.timestamp.isoformat() if activity.timestamp else ""
    key = f"{activity.id}|{kind}|{stamp}"
    if kind == SOFT_DELETE:
        await call.execute(lambda ctx: conversation.deleted(ctx, incident, activity.id or ""),
                           key=key)
        return
    message = chat_message(activity)
    await call.execute(lambda ctx: conversation.edited(ctx, incident, message,
                                                       undeleted=kind == UNDELETE), key=key)
