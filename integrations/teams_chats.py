"""A private incident's group chat, through Microsoft Graph (docs/private-incidents.md).

With the process's app-only token (`GraphToken`) and three application permissions, each
with admin consent:

- `Chat.Create`: `POST /chats` with `chatType` "group", a `topic` and the members as
  `aadUserConversationMember`s bound to `users('{entra-object-id}')`, each with the role
  "owner"; 201 with the chat (`id` "19:...@thread.v2", `webUrl`)
  (https://learn.microsoft.com/graph/api/chat-post). A group chat is not idempotent: a
  retry after a lost answer can make a second chat, which is why the chat's id is stored
  before anything else is asked of it.
- `TeamsAppInstallation.ReadWriteSelfForChat.All`: `POST /chats/{id}/installedApps` with
  `teamsApp@odata.bind` naming the app in the tenant's catalog (TEAMS_APP_CATALOG_ID); 201
  (https://learn.microsoft.com/graph/api/chat-post-installedapps). Only then may the bot
  post in the chat. (`POST /chats` can install the app itself, but then answers 202 with
  an operation to poll instead of the chat.)
- `ChatMember.ReadWrite.All`: `POST /chats/{id}/members`, one person joining later (asked
  for a role, commandeered); 201 (https://learn.microsoft.com/graph/api/chat-post-members).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.errors import BridgeError
from integrations.graph_calls import GraphCalls, graph_error

PROVIDER = "teams-chats"
DOCS = "docs/private-incidents.md"
CREATE_PERMISSION = "Chat.Create"
INSTALL_PERMISSION = "TeamsAppInstallation.ReadWriteSelfForChat.All"
MEMBER_PERMISSION = "ChatMember.ReadWrite.All"
# A chat's topic: at most 250 characters, and no ':' (Graph's "Update chat":
# https://learn.microsoft.com/graph/api/chat-patch, "Use of ':' is not allowed").
MAX_TOPIC = 250
_USER = "https://graph.microsoft.com/v1.0/users('{}')"
_APP = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{}"


@dataclass(frozen=True)
class NewChat:
    """What Graph answered for a created chat."""

    id: str
    web_url: str | None


def _member(aad_object_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.aadUserConversationMember",
            "roles": ["owner"], "user@odata.bind": _USER.format(aad_object_id)}


class GraphChats(GraphCalls):
    """Creates group chats, installs this bot in them and adds their members."""

    provider = PROVIDER

    def __init__(self, *args: Any, app_catalog_id: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._catalog_id = app_catalog_id

    async def create(self, *, topic: str, members: list[str]) -> NewChat:
        """A group chat of these people (Entra object ids), with `topic`."""
        body = {"chatType": "group", "topic": topic.replace(":", " ")[:MAX_TOPIC],
                "members": [_member(m) for m in members]}
        status, answer, retry_after = await self._call("POST", "/chats", body)
        if status == 201 and isinstance(answer.get("id"), str):
            web_url = answer.get("webUrl")
            return NewChat(answer["id"], web_url if isinstance(web_url, str) else None)
        raise self._refusal(status, answer, retry_after, CREATE_PERMISSION)

    async def install(self, *, chat_id: str) -> None:
        """This bot's app in the chat (already there counts as done)."""
        body = {"teamsApp@odata.bind": _APP.format(self._catalog_id)}
        status, answer, retry_after = await self._call(
            "POST", f"/chats/{quote(chat_id, safe='')}/installedApps", body)
        if status not in (200, 201, 204, 409):
            raise self._refusal(status, answer, retry_after, INSTALL_PERMISSION)

    async def add_member(self, *, chat_id: str, member: str) -> None:
        """One more member (an Entra object id); already a member counts as done."""
        status, answer, retry_after = await self._call(
            "POST", f"/chats/{quote(chat_id, safe='')}/members", _member(member))
        if status not in (200, 201, 204, 409):
            raise self._refusal(status, answer, retry_after, MEMBER_PERMISSION)

    def _refusal(self, status: int, answer: dict[str, Any], retry_after: str | None,
                 permission: str) -> BridgeError:
        """Graph's refusal in words that say who must do what."""
        code, message = graph_error(answer)
        if status == 429 or status >= 500:
            wait = f"; retry after {retry_after} s" if retry_after else ""
            return BridgeError(f"Microsoft Graph was busy (HTTP {status}{wait})",
                               provider=PROVIDER)
        if status in (401, 403):
            return BridgeError(
                f"Microsoft Graph refused the Graph app {self._app_id} (HTTP {status}): it "
                f"needs the {permission} application permission with admin consent, see "
                f"{DOCS}", provider=PROVIDER, retryable=False)
        if status == 404:
            return BridgeError("Microsoft Graph does not know that person, chat or app "
                               "(HTTP 404): check TEAMS_APP_CATALOG_ID", provider=PROVIDER,
                               retryable=False)
        detail = f": {code} {message}".rstrip() if code or message else ""
        return BridgeError(f"Microsoft Graph refused (HTTP {status}{detail})"[:400],
                           provider=PROVIDER, retryable=False)
