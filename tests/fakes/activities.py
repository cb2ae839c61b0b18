"""Builders for activities shaped as Teams sends them (channel, group chat, 1:1, invokes)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

BOT_ID = "28:00000000-0000-0000-0000-00000000b0t1"
BOT_NAME = "incident"
TENANT = "72f988bf-0000-0000-0000-000000000001"
TEAM_ID = "19:team-general@thread.tacv2"
CHANNEL_ID = "19:incidents-channel@thread.tacv2"
# The team's Entra group id, which Teams sends with channel messages (channelData.team).
TEAM_GROUP_ID = "57fb72d0-d811-46f4-8947-305e6072eaa5"

_ids = itertools.count(1_764_000_000_000)


@dataclass(frozen=True)
class User:
    """A Teams user: `29:` MRI, Entra object id and display name."""

    id: str
    name: str
    aad_object_id: str

    def account(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}

    def mention(self) -> tuple[str, dict[str, Any]]:
        """The `<at>` text and the entity Teams sends with it."""
        text = f"<at>{self.name}</at>"
        return text, {"type": "mention", "text": text,
                      "mentioned": {"id": self.id, "name": self.name}}


ADA = User("29:1ada-lovelace", "Ada Lovelace", "aad-ada")
GRACE = User("29:1grace-hopper", "Grace Hopper", "aad-grace")
LINUS = User("29:1linus", "Linus T", "aad-linus")
BOT_MENTION_TEXT = f"<at>{BOT_NAME}</at>"
BOT_MENTION = {"type": "mention", "text": BOT_MENTION_TEXT,
               "mentioned": {"id": BOT_ID, "name": BOT_NAME}}


def new_id() -> str:
    return str(next(_ids))


def _base(service_url: str, sender: User, conversation: dict, **extra: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "timestamp": "2026-11-27T10:00:00.1234567Z",
        "localTimestamp": "2026-11-27T10:00:00.1234567+00:00",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": sender.account(),
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": "en-US",
        **extra,
    }


def _mentions_in(text: str, mentions: list[User]) -> list[dict[str, Any]]:
    entities = [BOT_MENTION] if BOT_MENTION_TEXT in text else []
    entities += [user.mention()[1] for user in mentions]
    entities.append({"type": "clientInfo", "locale": "en-US", "country": "GB",
                     "platform": "Web", "timezone": "Europe/London"})
    return entities


def channel_message(
    service_url: str, text: str, *, sender: User = ADA, mentions: list[User] = (),  # type: ignore[assignment]
    root_id: str | None = None, channel_id: str = CHANNEL_ID,
) -> dict[str, Any]:
    """A message in a channel: new post, or a reply in the thread `root_id`."""
    activity_id = new_id()
    root = root_id or activity_id
    activity = _base(
        service_url, sender,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
         "id": f"{channel_id};messageid={root}"},
        type="message", textFormat="plain", text=text,
        entities=_mentions_in(text, list(mentions)),
        channelData={"teamsChannelId": channel_id, "teamsTeamId": TEAM_ID,
                     "channel": {"id": channel_id},
                     "team": {"id": TEAM_ID, "aadGroupId": TEAM_GROUP_ID},
                     "tenant": {"id": TENANT}},
    )
    activity["id"] = activity_id
    if root_id:
        activity["replyToId"] = root_id
    return activity


def group_chat_message(service_url: str, text: str, *, sender: User = ADA,
                       mentions: list[User] = (),  # type: ignore[assignment]
                       chat_id: str = "19:group-chat-1@thread.v2") -> dict[str, Any]:
    """A message in a group chat (no team, no channel)."""
    return _base(
        service_url, sender,
        {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT,
         "id": chat_id},
        type="message", textFormat="plain", text=text,
        entities=_mentions_in(text, list(mentions)),
        channelData={"tenant": {"id": TENANT}},
    )


def personal_message(service_url: str, text: str, *, sender: User = ADA) -> dict[str, Any]:
    """A 1:1 chat message: no mention needed, conversation id starts with `a:`."""
    return _base(
        service_url, sender,
        {"conversationType": "personal", "tenantId": TENANT, "id": f"a:1on1-{sender.id}"},
        type="message", textFormat="plain", text=text,
        entities=_mentions_in(text, []),
        channelData={"tenant": {"id": TENANT}},
    )


def card_action(service_url: str, *, verb: str, data: dict[str, Any], card_id: str,
                sender: User = ADA, conversation_id: str | None = None,
                trigger: str = "manual") -> dict[str, Any]:
    """An `adaptiveCard/action` invoke, as Teams sends for Action.Execute (`trigger`
    "automatic" for a card's refresh)."""
    return _base(
        service_url, sender,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
         "id": conversation_id or f"{CHANNEL_ID};messageid={card_id}"},
        type="invoke", name="adaptiveCard/action", replyToId=card_id,
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data},
               "trigger": trigger},
        channelData=_invoke_channel_data(conversation_id),
    )


def _invoke_channel_data(conversation_id: str | None) -> dict[str, Any]:
    """Teams sends the team and channel with invokes from channel cards, not from 1:1."""
    data: dict[str, Any] = {"tenant": {"id": TENANT}, "source": {"name": "message"}}
    if conversation_id is None or conversation_id.startswith("19:"):
        data.update(teamsChannelId=CHANNEL_ID, teamsTeamId=TEAM_ID,
                    channel={"id": CHANNEL_ID}, team={"id": TEAM_ID})
    return data


def card_submit(service_url: str, *, data: dict[str, Any], card_id: str,
                sender: User = ADA) -> dict[str, Any]:
    """What older clients send for Action.Submit: a message with `value` and no text."""
    return _base(
        service_url, sender,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
         "id": f"{CHANNEL_ID};messageid={card_id}"},
        type="message", replyToId=card_id, value=data,
        channelData={"tenant": {"id": TENANT}},
    )


def conversation_update(service_url: str, *, added: list[dict[str, str]]) -> dict[str, Any]:
    """Members added to a team (the bot itself when it is installed)."""
    return _base(
        service_url, ADA,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT, "id": TEAM_ID},
        type="conversationUpdate", membersAdded=added,
        channelData={"eventType": "teamMemberAdded", "team": {"id": TEAM_ID},
                     "tenant": {"id": TENANT}},
    )


def installation_update(service_url: str, *, action: str = "add") -> dict[str, Any]:
    """The app installed in (or removed from) a team."""
    return _base(
        service_url, ADA,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT, "id": TEAM_ID},
        type="installationUpdate", action=action,
        channelData={"team": {"id": TEAM_ID}, "tenant": {"id": TENANT},
                     "settings": {"selectedChannel": {"id": TEAM_ID}}},
    )


def message_payload(*, html: str, author: User = GRACE, message_id: str = "1764000000999",
                    created: str = "2026-11-27T09:58:12.345Z") -> dict[str, Any]:
    """The message a message action was picked on, as Teams puts it in `messagePayload`."""
    return {
        "id": message_id, "replyToId": None, "createdDateTime": created,
        "lastModifiedDateTime": None, "deleted": False, "subject": None, "summary": None,
        "importance": "normal", "locale": "en-us",
        "linkToMessage": f"https://teams.microsoft.com/l/message/{CHANNEL_ID}/{message_id}",
        "body": {"contentType": "html", "content": html},
        "from": {"device": None, "conversation": None, "application": None,
                 "user": {"userIdentityType": "aadUser", "id": author.aad_object_id,
                          "displayName": author.name}},
        "attachments": [], "mentions": [], "reactions": [],
    }


def message_action(service_url: str, name: str, *, payload: dict[str, Any] | None,
                   sender: User = ADA, root_id: str | None = None,
                   data: dict[str, Any] | None = None,
                   command_id: str = "addToTimeline") -> dict[str, Any]:
    """`composeExtension/fetchTask` or `/submitAction` for a message action in a channel."""
    root = root_id or new_id()
    value: dict[str, Any] = {"commandId": command_id, "commandContext": "message",
                             "requestId": "7f7d22efe5414818becebcec649a7912",
                             "context": {"theme": "default"}}
    if payload is not None:
        value["messagePayload"] = payload
    if data is not None:
        value["data"] = data
    return _base(
        service_url, sender,
        {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
         "id": f"{CHANNEL_ID};messageid={root}", "name": "incidents"},
        type="invoke", name=name, id=f"f:{new_id()}", value=value,
        entities=[{"type": "clientInfo", "locale": "en-US", "country": "GB",
                   "platform": "Web", "timezone": "Europe/London"}],
        channelData={"channel": {"id": CHANNEL_ID}, "team": {"id": TEAM_ID},
                     "tenant": {"id": TENANT}, "source": {"name": "message"}},
    )


# --- Conversation capture (RSC): messages that do not mention the bot, edits, deletes ---
# Shaped as Microsoft documents them ("Receive all conversation messages"; "Conversation
# events in your Teams bot", message update events): the plain text in `text`, the
# message as shown in a `text/html` attachment, the channel in `channelData`; an edit is
# `messageUpdate` with `channelData.eventType` "editMessage", a deletion `messageDelete`
# with "softDeleteMessage", both carrying the message's own id.

_edits = itertools.count(1)


def _now_stamp() -> str:
    n = next(_edits)
    return f"2026-11-27T11:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}0000Z"


def chat_message(service_url: str, text: str, *, html: str | None = None,
                 sender: User = ADA, root_id: str | None = None,
                 channel_id: str = CHANNEL_ID, chat_id: str | None = None,
                 attachments: list[dict[str, Any]] = (),  # type: ignore[assignment]
                 mentions: list[User] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A message nobody addressed to the bot: in a channel (a reply in the thread
    `root_id`, or a new post), or in the group chat `chat_id`. `html` is the `text/html`
    attachment ("" sends none); an `<at>` in `text` is not a mention (no entity)."""
    activity_id = new_id()
    if chat_id is not None:
        conversation = {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT,
                        "id": chat_id}
        channel_data: dict[str, Any] = {"tenant": {"id": TENANT}}
    else:
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
                        "id": f"{channel_id};messageid={root_id or activity_id}"}
        channel_data = {"teamsChannelId": channel_id, "teamsTeamId": TEAM_ID,
                        "channel": {"id": channel_id},
                        "team": {"id": TEAM_ID, "aadGroupId": TEAM_GROUP_ID},
                        "tenant": {"id": TENANT}}
    body = html if html is not None else f"<p>{_escape(text)}</p>"
    activity = _base(
        service_url, sender, conversation, type="message", textFormat="plain", text=text,
        attachments=[*([{"contentType": "text/html", "content": body}] if body else []),
                     *attachments],
        entities=[*(user.mention()[1] for user in mentions),
                  {"type": "clientInfo", "locale": "en-US", "country": "GB",
                   "platform": "Web", "timezone": "Europe/London"}],
        channelData=channel_data,
    )
    activity["id"] = activity_id
    if root_id:
        activity["replyToId"] = root_id
    return activity


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_update(original: dict[str, Any], text: str, *, html: str | None = None,
                   event: str = "editMessage", sender: User | None = None) -> dict[str, Any]:
    """`messageUpdate`: the message `original` edited (or restored: "undeleteMessage")."""
    updated = {key: value for key, value in original.items()
               if key not in ("text", "attachments", "entities", "channelData")}
    return {**updated, "type": "messageUpdate", "timestamp": _now_stamp(),
            "from": (sender.account() if sender else original["from"]),
            "textFormat": "plain", "text": text,
            "attachments": [{"contentType": "text/html",
                             "content": html if html is not None else f"<p>{_escape(text)}</p>"}],
            "channelData": {**original["channelData"], "eventType": event}}


def message_delete(original: dict[str, Any], *, sender: User | None = None) -> dict[str, Any]:
    """`messageDelete` (soft delete) of the message `original`."""
    kept = {key: value for key, value in original.items()
            if key not in ("text", "textFormat", "attachments", "entities", "channelData",
                           "replyToId")}
    return {**kept, "type": "messageDelete", "timestamp": _now_stamp(),
            "from": (sender.account() if sender else original["from"]),
            "channelData": {**original["channelData"], "eventType": "softDeleteMessage"}}
