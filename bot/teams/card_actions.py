"""Buttons on cards: Action.Execute invokes (current Teams) and Action.Submit messages
(older clients) reach the same code. The actor is always the activity's sender, never
anything in the card's data; ids in the data must match what is stored, in the tenant
the activity comes from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import InvokeResponse

from bot.errors import CommandError, NotFoundError
from bot.incidents import checkins, commandeer, external, handovers
from bot.incidents.context import Ctx
from bot.incidents.declare import Declaration, declare
from bot.store.incident_models import Commandeer, Handover, Incident
from bot.teams import incident_cards
from bot.teams.cards import Card
from bot.teams.handler import BaseBot, card_message_response, card_response
from bot.teams.markdown import literal


@dataclass(frozen=True)
class CardAction:
    """What a button does (`work`) and what the pressed card then shows (`view`)."""

    work: Callable[[Ctx, dict[str, Any]], Awaitable[Any]]
    view: Callable[[Ctx, dict[str, Any]], Awaitable[Card | str]]


def _id(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise NotFoundError("This card is missing what it refers to; it may be out of date.")
    return int(value)


async def _incident(ctx: Ctx, incident_id: int) -> Incident:
    """The incident the card names, if it is in the tenant the press comes from."""
    incident = await Incident.get_or_none(id=incident_id, tenant_id=ctx.origin.tenant_id)
    if incident is None:
        raise NotFoundError("This card refers to an incident that does not exist.")
    return incident


async def _matching_handover(ctx: Ctx, data: dict[str, Any]) -> tuple[Handover, Incident]:
    handover = await Handover.get_or_none(id=_id(data, "handoverId"))
    if handover is None or handover.incident_id != _id(data, "incidentId"):
        raise NotFoundError("That role request does not exist.")
    return handover, await _incident(ctx, handover.incident_id)


async def _answer_handover(ctx: Ctx, data: dict[str, Any], accept: bool) -> None:
    handover, _ = await _matching_handover(ctx, data)
    await handovers.answer(ctx, handover.id, accept=accept)


async def _handover_view(ctx: Ctx, data: dict[str, Any]) -> Card:
    return incident_cards.role_request_card(*await _matching_handover(ctx, data))


async def _matching_commandeer(ctx: Ctx, data: dict[str, Any]) -> tuple[Commandeer, Incident]:
    request = await Commandeer.get_or_none(id=_id(data, "commandeerId"))
    if request is None or request.incident_id != _id(data, "incidentId"):
        raise NotFoundError("That request does not exist.")
    return request, await _incident(ctx, request.incident_id)


async def _answer_commandeer(ctx: Ctx, data: dict[str, Any], joining: bool) -> None:
    request, _ = await _matching_commandeer(ctx, data)
    await commandeer.answer(ctx, request.id, joining=joining)


async def _commandeer_view(ctx: Ctx, data: dict[str, Any]) -> Card:
    return incident_cards.commandeer_card(*await _matching_commandeer(ctx, data))


async def _checkin(ctx: Ctx, data: dict[str, Any], ok: bool) -> None:
    await checkins.answer(ctx, _id(data, "incidentId"), ok=ok)


def _checkin_view(answer: str) -> Callable[[Ctx, dict[str, Any]], Awaitable[Card]]:
    async def view(ctx: Ctx, data: dict[str, Any]) -> Card:
        incident = await _incident(ctx, _id(data, "incidentId"))
        return incident_cards.checkin_card(incident, answered=answer)

    return view


async def _declare(ctx: Ctx, data: dict[str, Any]) -> Incident:
    level = str(data.get("severity") or "1")
    return await declare(ctx, Declaration(
        title=str(data.get("title") or ""),
        severity=int(level) if level in ("1", "2", "3", "4") else None,
        description=str(data.get("description") or "") or None,
        affected=str(data.get("affected") or "") or None,
    ))


async def _declared_view(ctx: Ctx, data: dict[str, Any]) -> str:
    return "Declared. The incident's thread and card are in the incidents channel."


async def _publish_external(ctx: Ctx, data: dict[str, Any]) -> None:
    await external.submit(ctx, _id(data, "incidentId"), title=str(data.get("title") or ""),
                          components=str(data.get("components") or ""),
                          status=str(data.get("status") or ""), text=str(data.get("text") or ""))


async def _published_view(ctx: Ctx, data: dict[str, Any]) -> str:
    return "Published to customers. It is on the status page now."


ACTIONS: dict[str, CardAction] = {
    "handover.accept": CardAction(lambda c, d: _answer_handover(c, d, True), _handover_view),
    "handover.decline": CardAction(lambda c, d: _answer_handover(c, d, False), _handover_view),
    "commandeer.join": CardAction(lambda c, d: _answer_commandeer(c, d, True), _commandeer_view),
    "commandeer.decline": CardAction(lambda c, d: _answer_commandeer(c, d, False),
                                     _commandeer_view),
    "checkin.ok": CardAction(lambda c, d: _checkin(c, d, True), _checkin_view("Thanks. Keep going.")),
    "checkin.help": CardAction(lambda c, d: _checkin(c, d, False),
                               _checkin_view("The Incident Commander has been told.")),
    "declare.submit": CardAction(_declare, _declared_view),
    "external.publish": CardAction(_publish_external, _published_view),
}


class CardActions(BaseBot):
    """Runs a card's button: the change in one transaction, then the card's new look."""

    async def on_card_action(self, turn_context: TurnContext, verb: str,
                             data: dict[str, Any]) -> InvokeResponse:
        action = ACTIONS.get(verb)
        if action is None:
            return card_message_response("This card is out of date; mention me with 'help'.")
        try:
            await self.execute(turn_context, lambda ctx: action.work(ctx, data))
            shown = await self.read(turn_context, lambda: action.view(
                self.context(turn_context.activity), data))
        except CommandError as exc:
            self.metrics.command(verb, "refused")
            return card_message_response(self.refusal(turn_context, str(exc)))
        self.metrics.command(verb, "ok")
        return card_message_response(shown) if isinstance(shown, str) else card_response(shown)

    async def on_card_submit(self, turn_context: TurnContext, data: dict[str, Any]) -> None:
        action = ACTIONS.get(str(data.get("verb") or ""))
        if action is None:
            await turn_context.send_activity("This card is out of date; mention me with 'help'.")
            return
        try:
            await self.execute(turn_context, lambda ctx: action.work(ctx, data))
        except CommandError as exc:
            await turn_context.send_activity(literal(self.refusal(turn_context, str(exc))))
            return
        shown = await self.read(turn_context, lambda: action.view(
            self.context(turn_context.activity), data))
        await turn_context.send_activity(literal(shown) if isinstance(shown, str) else "Done.")
