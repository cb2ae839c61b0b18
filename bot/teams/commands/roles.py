"""The two roles and helpers: asking someone to take one, and their answer on the card."""

from __future__ import annotations

from dataclasses import replace

from bot.incidents import handovers
from bot.incidents.context import Ctx
from bot.incidents.roles import Role, require_role_holder
from bot.store.incident_models import Handover, Incident
from bot.teams import incident_cards
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.commands.about_incident import on_incident
from bot.teams.commands.card_data import yes_no_buttons
from bot.teams.router import Router

router = Router()


async def _ask_role(call: Call, cmd: Command, role: Role) -> None:
    if call.services.policy.private_enabled:
        # A private incident adds the person to its chat by their Entra id.
        cmd = replace(cmd, people=tuple(await call.complete(list(cmd.people))))

    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        person = cmd.first_person(rest, f"{role.value} @person")
        await require_role_holder(ctx, incident, "hand roles over")
        await handovers.request_role(ctx, incident, role, person)

    await on_incident(call, cmd, work)


@router.command("commander", "commander @person", synonyms=("ic",))
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


yes_no_buttons(router, Handover, "handoverId", yes="handover.accept", no="handover.decline",
               missing="That role request does not exist.",
               answer=lambda ctx, asked, accept: handovers.answer(ctx, asked.id, accept=accept),
               card=incident_cards.role_request_card)
