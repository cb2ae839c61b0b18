"""Commandeering: the Commander pulls anyone in; their answer comes from a 1:1 card."""

from __future__ import annotations

from typing import Any

from bot.errors import NotFoundError
from bot.incidents import commandeer as commandeering
from bot.incidents.context import Ctx
from bot.store.incident_models import Commandeer, Incident
from bot.teams import incident_cards
from bot.teams.call import Call
from bot.teams.cards import Card
from bot.teams.command_line import Command, without_people
from bot.teams.commands.about_incident import on_incident
from bot.teams.commands.card_data import card_id, card_incident
from bot.teams.router import CardAction, Router

router = Router()


@router.command("commandeer", "commandeer @person [why]")
async def commandeer(call: Call, cmd: Command) -> None:
    """Pull anyone in: they get a private message and their answer is recorded."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        person = cmd.first_person(rest, "commandeer @person [why]")
        await commandeering.commandeer(ctx, incident, person, without_people(rest))

    await on_incident(call, cmd, work)


async def _matching(ctx: Ctx, data: dict[str, Any]) -> tuple[Commandeer, Incident]:
    request = await Commandeer.get_or_none(id=card_id(data, "commandeerId"))
    if request is None or request.incident_id != card_id(data, "incidentId"):
        raise NotFoundError("That request does not exist.")
    return request, await card_incident(ctx, request.incident_id)


def _answer(joining: bool) -> CardAction:
    async def work(ctx: Ctx, data: dict[str, Any]) -> None:
        request, _ = await _matching(ctx, data)
        await commandeering.answer(ctx, request.id, joining=joining)

    async def view(ctx: Ctx, data: dict[str, Any]) -> Card:
        return incident_cards.commandeer_card(*await _matching(ctx, data))

    return CardAction(work, view)


router.card("commandeer.join", _answer(True))
router.card("commandeer.decline", _answer(False))
