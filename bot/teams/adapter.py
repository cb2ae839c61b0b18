"""The bot's own botbuilder adapter: turns run in-process, replies go over shared aiohttp.

A `BotAdapter` subclass rather than the stock CloudAdapter, which spends most of each
request building msrest clients and sends through `requests` in a thread pool
(docs/architecture.md, "Performance facts"). Authentication happens before a turn starts
(`bot.teams.auth`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.bot_framework_adapter import BotFrameworkAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    ResourceResponse,
)

from bot.errors import ConnectorError
from bot.teams.activity_json import to_json
from bot.teams.connector import ConnectorClient

log = logging.getLogger(__name__)

INVOKE_RESPONSE_KEY = BotFrameworkAdapter._INVOKE_RESPONSE_KEY  # noqa: SLF001 - SDK's own key
# `tell` (no outbox behind it) tries a throttled or failing connector this often, waiting
# at most this long between tries.
TELL_TRIES = 4
TELL_WAIT_CAP_S = 8.0


class TeamsAdapter(BotAdapter):  # type: ignore[misc]  # botbuilder is untyped
    """Runs turns for activities that `bot.web` has already authenticated and parsed.

    It has no turn-error handler: a failed turn raises to `bot.teams.turns`, which
    decides what the failure means (journal it, say the record is unavailable, or
    apologise for a bug) and what Teams is answered.
    """

    def __init__(self, connector: ConnectorClient) -> None:
        super().__init__()
        self._connector = connector

    def context_for(self, activity: Activity) -> TurnContext:
        """A turn context for `activity`; run it with `run_pipeline`."""
        return TurnContext(self, activity)

    async def tell(self, activity: Activity, body: dict[str, Any]) -> bool:
        """Answer `activity` with `body` directly, never through the outbox (which needs
        the database): throttling (429, honouring Retry-After) and 5xx are tried again a
        few times; False, and logged, when the connector refuses or stays away."""
        for attempt in range(TELL_TRIES):
            try:
                await self._connector.reply(activity.service_url, activity.conversation.id,
                                            activity.id or "", body)
                return True
            except ConnectorError as exc:
                if not exc.retryable or attempt + 1 == TELL_TRIES:
                    log.warning("could not tell the sender of activity %s: %s", activity.id,
                                exc)
                    return False
                await asyncio.sleep(min(TELL_WAIT_CAP_S, exc.retry_after or 2.0 ** attempt))
        return False

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type == ActivityTypes.invoke_response:
                context.turn_state[INVOKE_RESPONSE_KEY] = activity
                responses.append(ResourceResponse())
                continue
            responses.append(ResourceResponse(id=await self._send(activity)))
        return responses

    async def answer(self, body: dict[str, Any]) -> str | None:
        """Send one addressed answer (`bot.teams.addressing`) once: into the thread it
        replies to, else as a new message. A refusal raises `ConnectorError` to whoever
        sent it: `bot.teams.answers` decides what a failed answer becomes."""
        service_url, conversation_id = body["serviceUrl"], body["conversation"]["id"]
        reply_to = body.get("replyToId")
        if reply_to:
            result = await self._connector.reply(service_url, conversation_id, reply_to, body)
        else:
            result = await self._connector.send(service_url, conversation_id, body)
        return result.get("id")

    async def _send(self, activity: Activity) -> str | None:
        # The SDK's way in (TurnContext.send_activity); the bot's answers use `answer`.
        return await self.answer(to_json(activity))

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        result = await self._connector.update(
            activity.service_url, activity.conversation.id, activity.id, to_json(activity)
        )
        return ResourceResponse(id=result.get("id") or activity.id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        await self._connector.delete(
            reference.service_url, reference.conversation.id, reference.activity_id
        )
