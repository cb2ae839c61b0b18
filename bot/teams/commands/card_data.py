"""Reading what a card button sends back: ids that must match what is stored, in the
tenant the press comes from. The actor is always the activity's sender, never anything
in the card's data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.errors import NotFoundError
from bot.incidents import privacy
from bot.incidents.context import Ctx
from bot.incidents.severity import SeverityScale
from bot.store.incident_models import Commandeer, Handover, Incident
from bot.teams.cards import Card
from bot.teams.router import CardAction, Router

# Rows a card answers: each belongs to one incident.
Answered = TypeVar("Answered", Handover, Commandeer)


def card_id(data: dict[str, Any], key: str) -> int:
    """The id the card carries under `key`."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise NotFoundError("This card is missing what it refers to; it may be out of date.")
    return int(value)


async def card_row(ctx: Ctx, model: type[Answered], data: dict[str, Any], key: str, *,
                   missing: str) -> tuple[Answered, Incident]:
    """The row the card names under `key`, if it belongs to the incident the card names,
    in the tenant the press comes from; `missing` is what to say otherwise."""
    row = await model.get_or_none(id=card_id(data, key))
    if row is None or row.incident_id != card_id(data, "incidentId"):
        raise NotFoundError(missing)
    return row, await card_incident(ctx, row.incident_id)


async def card_incident(ctx: Ctx, incident_id: int) -> Incident:
    """The incident the card names, if it is in the tenant the press comes from (and, for
    a private incident, if the one pressing is a member: ids are guessable)."""
    incident = await Incident.get_or_none(id=incident_id, tenant_id=ctx.origin.tenant_id)
    if incident is None:
        raise NotFoundError("This card refers to an incident that does not exist.")
    await privacy.require_member(incident, ctx.actor.id)
    return incident


def yes_no_buttons(router: Router, model: type[Answered], key: str, *, yes: str, no: str,
                   missing: str, answer: Callable[[Ctx, Answered, bool], Awaitable[object]],
                   card: Callable[[Answered, Incident, SeverityScale], Card]) -> None:
    """Register the `yes` and `no` buttons of a request card (a role request, being
    commandeered): each answers the request the card shows, then shows the card anew."""
    for verb, choice in ((yes, True), (no, False)):
        router.card(verb, _answering(model, key, choice, missing=missing, answer=answer,
                                     card=card))


def _answering(model: type[Answered], key: str, choice: bool, *, missing: str,
               answer: Callable[[Ctx, Answered, bool], Awaitable[object]],
               card: Callable[[Answered, Incident, SeverityScale], Card]) -> CardAction:
    async def work(ctx: Ctx, data: dict[str, Any]) -> None:
        row, _ = await card_row(ctx, model, data, key, missing=missing)
        await answer(ctx, row, choice)

    async def view(ctx: Ctx, data: dict[str, Any]) -> Card:
        row, incident = await card_row(ctx, model, data, key, missing=missing)
        return card(row, incident, ctx.policy.severity)

    return CardAction(work, view)
