"""Commandeering: the Commander pulls anyone in; their answer comes from a 1:1 card."""

from __future__ import annotations

from dataclasses import replace

from bot.incidents import commandeer as commandeering
from bot.incidents.context import Ctx
from bot.store.incident_models import Commandeer, Incident
from bot.teams import incident_cards
from bot.teams.call import Call
from bot.teams.command_line import Command, without_people
from bot.teams.commands.about_incident import on_incident
from bot.teams.commands.card_data import yes_no_buttons
from bot.teams.router import Router

router = Router()


@router.command("commandeer", "commandeer @person [why]", synonyms=("page", "escalate"))
async def commandeer(call: Call, cmd: Command) -> None:
    """Pull anyone in: they get a private message and their answer is recorded."""
    if cmd.people:
        # Their Entra id (mentions lack it) lets the bot install itself for them if Teams
        # refuses the 1:1 (bot.teams.undelivered); looked up before the transaction.
        cmd = replace(cmd, people=tuple(await call.complete(list(cmd.people))))

    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        person = cmd.first_person(rest, "commandeer @person [why]")
        await commandeering.commandeer(ctx, incident, person, without_people(rest))

    await on_incident(call, cmd, work)


yes_no_buttons(router, Commandeer, "commandeerId", yes="commandeer.join",
               no="commandeer.decline", missing="That request does not exist.",
               answer=lambda ctx, req, join: commandeering.answer(ctx, req.id, joining=join),
               card=incident_cards.commandeer_card)
