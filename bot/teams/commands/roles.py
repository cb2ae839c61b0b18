"""The two roles and helpers: asking someone to take one, and their answer on the card."""

from __future__ import annotations

from typing import Any

from bot.errors import NotFoundError
from bot.incidents import handovers
from bot.incidents.context import Ctx
from bot.incidents.roles import Role, require_role_holder
from bot.store.incident_models import Handover, Incident
from bot.teams import incident_cards
from bot.teams.call import Call
from bot.teams.cards import Card
from bot.teams.command_line import Command
from bot.teams.commands.about_incident import on_incident
from bot.teams.commands.card_data import card_id, card_incident
from bot.teams.router import CardAction, Router

router = Router()


async def _ask_role(call: Call, cmd: Command, role: Role) -> None:
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        person = cmd.first_person(rest, f"{role.value} @person")
        await require_role_holder(ctx, incident, "hand roles over")
        await handovers.request_role(ctx, incident, role, person)

    await on_incident(call, cmd, work)


@router.command("commander", "commander @person")
async def commander(call: Call, cmd: Command) -> None:
    """Ask someone to become Incident Commander; the current one keeps it until they accept."""
    await _ask_role(call, cmd, Role.COMMANDER)


@router.command("investigator", "investigator @person")
async def investigator(call: Call, cmd: Command) -> None:
    """Ask someone to take over as Investigator (they must accept on the card)."""
    await _ask_role(call, cmd, Role.INVESTIGATOR)


@router.command("assist", "assist @person")
async def assist(call: Call, cmd: Command) -> None:
    """Ask someone to join as an extra investigator."""
    await _ask_role(call, cmd, Role.ASSISTANT)


async def _matching_handover(ctx: Ctx, data: dict[str, Any]) -> tuple[Handover, Incident]:
    handover = await Handover.get_or_none(id=card_id(data, "handoverId"))
    if handover is None or handover.incident_id != card_id(data, "incidentId"):
        raise NotFoundError("That role request does not exist.")
    return handover, await card_incident(ctx, handover.incident_id)


def _answer(accept: bool) -> CardAction:
    async def work(ctx: Ctx, data: dict[str, Any]) -> None:
        handover, _ = await _matching_handover(ctx, data)
        await handovers.answer(ctx, handover.id, accept=accept)

    async def view(ctx: Ctx, data: dict[str, Any]) -> Card:
        return incident_cards.role_request_card(*await _matching_handover(ctx, data))

    return CardAction(work, view)


router.card("handover.accept", _answer(True))
router.card("handover.decline", _answer(False))
