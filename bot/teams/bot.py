"""The bot Teams talks to: turns an activity into one routed call and its answer.

Routing lives in `bot.teams.router` (registrations in `bot.teams.commands`); this class
is botbuilder's `ActivityHandler` only so that the SDK's activity types reach the right
method. It is the one place that turns a handler's answer (or its `CommandError`) into
what Teams shows, and counts each command, button and message action once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.schema import ActivityTypes, ChannelAccount, InvokeResponse

from bot.errors import CommandError
from bot.teams import answers, cards, conversation
from bot.teams.adapter import INVOKE_RESPONSE_KEY
from bot.teams.answers import Answer, CardAnswer, Help, Text
from bot.teams.call import Call, Services
from bot.teams.command_line import parse_command
from bot.teams.mentions import parse_text
from bot.teams.router import CardAction, CommandSpec, Router

log = logging.getLogger(__name__)
T = TypeVar("T")
OUT_OF_DATE = "This card is out of date; mention me with 'help'."
CARD_ACTION = "adaptiveCard/action"
FETCH_TASK = "composeExtension/fetchTask"
SUBMIT_ACTION = "composeExtension/submitAction"


def usage_line(spec: CommandSpec) -> str:
    """How one command goes: its usage, then its summary."""
    return f"`@incident {spec.usage}` — {spec.summary}"


def not_a_command(word: str, meant: CommandSpec | None) -> str:
    """The answer to a word that is not a command: the command it probably means, or
    where the list is (the whole help card is too much for a slip of the keyboard)."""
    if meant is None:
        return f"'{word[:60]}' is not one of my commands. Mention me with `help` for the list."
    return (f"I don't know '{word[:60]}'. Did you mean `@incident {meant.usage}`? "
            f"{meant.summary}")


class TeamsBot(ActivityHandler):  # type: ignore[misc]  # botbuilder ships no types
    """Every command, card button and message action of the incident process."""

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._help_cards: dict[str, cards.Card] = {}

    async def on_turn(self, turn_context: TurnContext) -> None:
        recipient = turn_context.activity.recipient
        if recipient is not None and recipient.id:
            self.services.renderer.bot_id = recipient.id
        if turn_context.activity.type == ActivityTypes.invoke:
            response = await self.on_invoke_activity(turn_context)
            turn_context.turn_state[INVOKE_RESPONSE_KEY] = response
            return
        await super().on_turn(turn_context)

    async def _counted(self, name: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run one command, button or action, counting how it ended."""
        metrics = self.services.metrics
        try:
            result = await run()
        except CommandError:
            metrics.command(name, "refused")
            raise
        except Exception:
            metrics.command(name, "error")
            raise
        metrics.command(name, "ok")
        return result

    async def answer(self, turn: TurnContext, answer: Answer | None) -> None:
        """Send what a handler answered (see `bot.teams.answers` for the rule)."""
        if isinstance(answer, Help):
            about = self.about(answer.topic)
            if about is None:
                await self.send_help(turn, intro=answer.intro)
                return
            answer = about
        if answer is not None:
            await answers.send(turn, answer, defer=self.services.defer,
                               pace=self.services.pace)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and not (activity.text or "").strip():
            await self.on_card_submit(turn_context, activity.value)
            return
        if conversation.is_chat(activity, self.services.policy):
            # Said without mentioning the bot: conversation, never a command or an answer.
            await conversation.heard(Call(self.services, turn_context))
            return
        if conversation.said_aside(activity):
            # Not for the bot (capture is off): neither stored nor answered.
            conversation.ignored(turn_context)
            return
        cmd = parse_command(parse_text(activity))
        spec = self.router.commands.get(cmd.verb)
        if spec is None:
            self.services.metrics.command("unknown", "unknown")
            meant = self.router.meant(cmd.verb)
            await self.answer(turn_context, Text(not_a_command(cmd.verb, meant)))
            return
        call = Call(self.services, turn_context)
        try:
            answer = await self._counted(spec.verb, lambda: spec.run(call, cmd))
        except CommandError as exc:
            answer = Text(call.refusal(str(exc)))
        await self.answer(turn_context, answer)

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        await conversation.changed(Call(self.services, turn_context))

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        await conversation.changed(Call(self.services, turn_context))

    async def send_help(self, turn_context: TurnContext, *, intro: str) -> None:
        """Reply with the help card."""
        await answers.send(turn_context, CardAnswer(self.help_card(intro=intro)),
                           defer=self.services.defer, pace=self.services.pace)

    def about(self, topic: str | None) -> Text | None:
        """`help <topic>`: that command's usage, or the one a near miss means; None when
        there is no topic or it is like no command (`help me`: the whole card is wanted)."""
        if not topic:
            return None
        spec = self.router.commands.get(topic.lower())
        if spec is not None:
            return Text(usage_line(spec))
        meant = self.router.meant(topic)
        return Text(not_a_command(topic, meant)) if meant is not None else None

    def help_card(self, *, intro: str) -> cards.Card:
        """The help card under `intro` (built once per intro: commands do not change)."""
        card = self._help_cards.get(intro)
        if card is None:
            listing = [(f"@incident {s.usage}", s.summary)
                       for s in self.router.commands.values()]
            card = cards.help_card(listing, intro=intro)
            if len(self._help_cards) < 64:  # a few fixed intros; never unbounded
                self._help_cards[intro] = card
        return card

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self.send_help(turn_context, intro="Thanks for adding me. Mention me with a command:")

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        # Teams also sends installationUpdate when the bot is added: greet once, on that.
        return None

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        # Answering here (not via on_adaptive_card_invoke) avoids the SDK's double
        # serialisation that turns every card action into an HTTP 500
        # (docs/architecture.md, "Teams protocol facts").
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        if activity.name in (FETCH_TASK, SUBMIT_ACTION):
            return await self._message_action(turn_context, activity.name, value)
        if activity.name != CARD_ACTION:
            return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST),
                                  body={"error": f"unsupported invoke {activity.name!r}"})
        action = value.get("action")
        action = action if isinstance(action, dict) else {}
        data = action.get("data")
        data = data if isinstance(data, dict) else {}
        return await self.on_card_action(turn_context, str(action.get("verb") or ""), data)

    async def on_card_action(self, turn_context: TurnContext, verb: str,
                             data: dict[str, Any]) -> InvokeResponse:
        """Action.Execute: the change in one transaction, then the card's new look."""
        action = self.router.cards.get(verb)
        if action is None:
            return answers.card_message(OUT_OF_DATE)
        call = Call(self.services, turn_context)
        try:
            shown = await self._pressed(verb, call, action, data)
        except CommandError as exc:
            return answers.card_message(call.refusal(str(exc)))
        if isinstance(shown, str):
            return answers.card_message(shown)
        return answers.card_replaced(shown)

    async def on_card_submit(self, turn_context: TurnContext, data: dict[str, Any]) -> None:
        """Action.Submit from older clients: the same actions, answered in the chat."""
        verb = str(data.get("verb") or "")
        action = self.router.cards.get(verb)
        if action is None:
            await self.answer(turn_context, Text(OUT_OF_DATE))
            return
        call = Call(self.services, turn_context)
        try:
            shown = await self._pressed(verb, call, action, data)
        except CommandError as exc:
            await self.answer(turn_context, Text(call.refusal(str(exc))))
            return
        await self.answer(turn_context, Text(shown if isinstance(shown, str) else "Done."))

    async def _pressed(self, verb: str, call: Call, action: CardAction,
                       data: dict[str, Any]) -> cards.Card | str:
        """Run a card action; one that only reads (a card's refresh) is no one's command,
        and Teams sends one whenever someone sees the card: not counted."""
        if action.work is None:
            return await _press(call, action, data)
        return await self._counted(verb, lambda: _press(call, action, data))

    async def _message_action(self, turn_context: TurnContext, name: str,
                              value: dict[str, Any]) -> InvokeResponse:
        action = self.router.message_actions.get(str(value.get("commandId") or ""))
        if action is None:
            return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST),
                                  body={"error": "unknown message extension command"})
        call = Call(self.services, turn_context)
        try:
            if name != SUBMIT_ACTION:  # opening the dialog changes nothing: not counted
                return await action.run(call, name, value)
            return await self._counted(action.label, lambda: action.run(call, name, value))
        except CommandError as exc:
            return answers.task_message(call.refusal(str(exc)))


async def _press(call: Call, action: CardAction, data: dict[str, Any]) -> cards.Card | str:
    work = action.work
    if work is not None:
        await call.execute(lambda ctx: work(ctx, data))
    return await call.read(lambda: action.view(call.context(), data))
