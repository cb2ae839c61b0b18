"""The bot's own botbuilder adapter: turns run in-process, replies go over shared aiohttp.

A `BotAdapter` subclass rather than the stock CloudAdapter, which spends most of each
request building msrest clients and sends through `requests` in a thread pool
(PERFORMANCE.md). Authentication happens before a turn starts (`bot.teams.auth`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    InvokeResponse,
    ResourceResponse,
)

from bot.errors import ConnectorError, new_error_id
from bot.store.models import OutboxOperation
from bot.teams.activity_json import to_json
from bot.teams.connector import ConnectorClient
from bot.teams.handler import INVOKE_RESPONSE_KEY, card_message_response
from bot.teams.message_actions import task_message
from bot.teams.turn_context import ShallowCopyTurnContext

log = logging.getLogger(__name__)

# Called with an outbox operation and its fields when an inline send failed retryably.
Deferral = Callable[..., Awaitable[None]]


class TeamsAdapter(BotAdapter):
    """Runs turns for activities that `bot.web` has already authenticated and parsed."""

    def __init__(self, connector: ConnectorClient, *, defer: Deferral | None = None) -> None:
        super().__init__(on_turn_error=self._apologise)
        self._connector = connector
        self._defer = defer

    async def _apologise(self, context: TurnContext, error: Exception) -> None:
        """A bug must not reach Teams as a 500 and a silent bot: say so, with an error id."""
        error_id = new_error_id()
        log.error("turn failed, error id %s", error_id, exc_info=error)
        text = (f"Sorry, something went wrong on my side (error id {error_id}). "
                "If it happens again, give this id to whoever runs the bot.")
        if context.activity.type == ActivityTypes.invoke:
            dialog = (context.activity.name or "").startswith("composeExtension/")
            context.turn_state[INVOKE_RESPONSE_KEY] = (
                task_message(text) if dialog else card_message_response(text))
            return
        try:
            await context.send_activity(text)
        except Exception:  # noqa: BLE001 - the apology is best effort, the log has the bug
            log.exception("could not send the apology for error id %s", error_id)

    async def process(
        self, activity: Activity, logic: Callable[[TurnContext], Awaitable[None]]
    ) -> InvokeResponse | None:
        """Run one turn; for an invoke, the response Teams waits for."""
        context = ShallowCopyTurnContext(self, activity)
        await self.run_pipeline(context, logic)
        if activity.type != ActivityTypes.invoke:
            return None
        response = context.turn_state.get(INVOKE_RESPONSE_KEY)
        if isinstance(response, Activity):  # sent the SDK's way, as an invokeResponse
            response = response.value
        return response if isinstance(response, InvokeResponse) else InvokeResponse(status=200)

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

    async def _send(self, activity: Activity) -> str | None:
        body = to_json(activity)
        conversation_id = activity.conversation.id
        reply_to = activity.reply_to_id
        try:
            if reply_to:
                result = await self._connector.reply(
                    activity.service_url, conversation_id, reply_to, body
                )
            else:
                result = await self._connector.send(activity.service_url, conversation_id, body)
        except ConnectorError as exc:
            if not exc.retryable or self._defer is None:
                raise
            # The user must still get the answer: hand it to the outbox, which retries.
            log.info("inline send failed (%s); deferring to the outbox", exc)
            await self._defer(
                operation=OutboxOperation.REPLY if reply_to else OutboxOperation.SEND,
                service_url=activity.service_url,
                conversation_id=conversation_id,
                activity_id=reply_to,
                payload=body,
            )
            return None
        return result.get("id")

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        result = await self._connector.update(
            activity.service_url, activity.conversation.id, activity.id, to_json(activity)
        )
        return ResourceResponse(id=result.get("id") or activity.id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        await self._connector.delete(
            reference.service_url, reference.conversation.id, reference.activity_id
        )
