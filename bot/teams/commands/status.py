"""Looking things up: one incident's picture, and the open incidents."""

from __future__ import annotations

from bot.incidents.queries import find_incident, open_incidents, picture
from bot.teams import incident_cards
from bot.teams.answers import Answer, CardAnswer
from bot.teams.call import Call
from bot.teams.cards import Card
from bot.teams.command_line import Command, split_reference
from bot.teams.router import Router

router = Router()


@router.command("status", "status [INC-n]")
async def status(call: Call, cmd: Command) -> Answer:
    """The current picture: roles, what is known, open hypotheses and tasks."""
    ctx = call.context()
    number, _ = split_reference(cmd.args)

    async def card() -> Card:
        incident = await find_incident(ctx, number, lock=False)
        return incident_cards.status_card(await picture(incident), ctx.policy.severity)

    return CardAnswer(await call.read(card))


@router.command("list", synonyms=("incidents",))
async def listing(call: Call, cmd: Command) -> Answer:
    """Open incidents, most severe first."""
    ctx = call.context()
    incidents = await call.read(lambda: open_incidents(
        ctx.origin.tenant_id, viewer=ctx.actor.id,
        private_too=ctx.origin.conversation_type == "personal"))
    return CardAnswer(incident_cards.list_card(incidents, ctx.policy.severity))
