"""A channel per incident in a team, through Microsoft Graph (docs/incident-channels.md).

With the process's app-only token (`GraphToken`), and the application permissions
`Channel.Create` (create) and `ChannelSettings.ReadWrite.All` (rename, archive, and the
channel count, which is best effort), each with admin consent. Microsoft's pages:
https://learn.microsoft.com/graph/api/channel-post (`POST /teams/{id}/channels`, 201 with
the channel, `displayName` at most 50 characters),
https://learn.microsoft.com/graph/api/channel-patch (`PATCH /teams/{id}/channels/{id}`, 204),
https://learn.microsoft.com/graph/api/channel-archive (`POST .../archive`, 202; application
permission `ChannelSettings.ReadWrite.All` only: no resource-specific consent, which is
why the Graph app is used rather than the bot's own RSC permissions),
https://learn.microsoft.com/graph/api/channel-list (`GET /teams/{id}/channels`; an older
copy of that page lists only Group.Read.All: a count Graph refuses is logged, not fatal).
`{id}` is the team's Entra group id, not the Bot Framework team id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.errors import BridgeError
from integrations.graph_calls import GraphCalls, graph_error

PROVIDER = "teams-channels"
DOCS = "docs/incident-channels.md"
# The application permission each call needs (what a 403 names).
CREATE_PERMISSION = "Channel.Create"
SETTINGS_PERMISSION = "ChannelSettings.ReadWrite.All"
READ_PERMISSION = "ChannelSettings.ReadWrite.All"


class ChannelNameTaken(BridgeError):
    """The team has a channel of that name already (archived and deleted ones count)."""


@dataclass(frozen=True)
class NewChannel:
    """What Graph answered for a created channel."""

    id: str
    name: str
    web_url: str | None


class GraphChannels(GraphCalls):
    """Creates, renames, archives and counts a team's channels with the Graph app."""

    provider = PROVIDER

    async def create(self, *, group_id: str, name: str, description: str) -> NewChannel:
        """A standard channel named `name`; `ChannelNameTaken` when the team has one."""
        body = {"displayName": name, "description": description[:1024],
                "membershipType": "standard"}
        status, answer, retry_after = await self._call("POST", _team(group_id) + "/channels",
                                                        body)
        if status == 201 and isinstance(answer.get("id"), str):
            web_url = answer.get("webUrl")
            return NewChannel(answer["id"], str(answer.get("displayName") or name),
                              web_url if isinstance(web_url, str) else None)
        raise self._refusal(status, answer, retry_after, CREATE_PERMISSION, name=name)

    async def rename(self, *, group_id: str, channel_id: str, name: str) -> None:
        """Give the channel a new display name."""
        path = f"{_team(group_id)}/channels/{quote(channel_id, safe='')}"
        status, answer, retry_after = await self._call("PATCH", path, {"displayName": name})
        if status not in (200, 204):
            raise self._refusal(status, answer, retry_after, SETTINGS_PERMISSION, name=name)

    async def archive(self, *, group_id: str, channel_id: str) -> None:
        """Archive the channel (Teams finishes it asynchronously)."""
        path = f"{_team(group_id)}/channels/{quote(channel_id, safe='')}/archive"
        status, answer, retry_after = await self._call("POST", path, {})
        if status not in (200, 202, 204):
            raise self._refusal(status, answer, retry_after, SETTINGS_PERMISSION)

    async def count(self, *, group_id: str) -> int:
        """How many channels the team lists (deleted ones, which Teams also counts for
        30 days, are not listed)."""
        status, answer, retry_after = await self._call(
            "GET", _team(group_id) + "/channels?$select=id", None)
        if status == 200 and isinstance(answer.get("value"), list):
            return len(answer["value"])
        raise self._refusal(status, answer, retry_after, READ_PERMISSION)

    def _refusal(self, status: int, answer: dict[str, Any], retry_after: str | None,
                 permission: str, *, name: str | None = None) -> BridgeError:
        """Graph's refusal in words that say who must do what."""
        code, message = graph_error(answer)
        if status == 429 or status >= 500:
            wait = f"; retry after {retry_after} s" if retry_after else ""
            return BridgeError(f"Microsoft Graph was busy (HTTP {status}{wait})",
                               provider=PROVIDER)
        if status == 409 or code == "NameAlreadyExists" or (
                status == 400 and "already exist" in message.lower()):
            return ChannelNameTaken(f"the team already has a channel named {name!r}",
                                    provider=PROVIDER, retryable=False)
        if status in (401, 403):
            return BridgeError(
                f"Microsoft Graph refused the Graph app {self._app_id} (HTTP {status}): it "
                f"needs the {permission} application permission with admin consent, see "
                f"{DOCS}", provider=PROVIDER, retryable=False)
        if status == 404:
            return BridgeError("Microsoft Graph does not know this team (HTTP 404): run "
                               "`@incident setup space channel` again in its incidents channel",
                               provider=PROVIDER, retryable=False)
        detail = f": {code} {message}".rstrip() if code or message else ""
        return BridgeError(f"Microsoft Graph refused (HTTP {status}{detail})"[:400],
                           provider=PROVIDER, retryable=False)


def _team(group_id: str) -> str:
    return f"/teams/{quote(group_id, safe='')}"
