"""The Post Incident Review: follow-up actions, written sections, ready."""

from __future__ import annotations

from bot.errors import CommandError
from bot.incidents import pir
from bot.incidents.context import Ctx
from bot.store.incident_models import Incident
from bot.teams.call import Call
from bot.teams.command_line import Command, without_people
from bot.teams.commands.about_incident import on_incident, on_numbered_item
from bot.teams.router import Router

router = Router()
SECTIONS = {"rootcause": pir.Section.ROOT_CAUSE, "factors": pir.Section.CONTRIBUTING_FACTORS,
            "well": pir.Section.WENT_WELL, "badly": pir.Section.WENT_BADLY}


@router.command("action", "action <text> [@owner] | <n> done")
async def action(call: Call, cmd: Command) -> None:
    """Record a follow-up action (filed in GitHub, Jira or Trello when set up), or mark one done."""
    async def add(ctx: Ctx, incident: Incident, rest: str) -> None:
        owner = next((p for w in rest.split() if (p := cmd.person(w))), None)
        await pir.add_action(ctx, incident, owner, without_people(rest))

    await on_numbered_item(call, cmd, add=add, done=pir.action_done)


@router.command("pir", "pir [ready | rootcause|factors|well|badly <text>]",
                synonyms=("postmortem", "retro"))
async def review(call: Call, cmd: Command) -> None:
    """The Post Incident Review: its link, its written sections, 'ready' (Commander)."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        verb, _, text = rest.strip().partition(" ")
        section = SECTIONS.get(verb.lower())
        if not verb:
            await pir.show(ctx, incident)
        elif verb.lower() == "ready":
            await pir.ready(ctx, incident)
        elif section is None or not text.strip():
            raise CommandError("Usage: `@incident pir rootcause|factors|well|badly <text>`.")
        else:
            await pir.write_section(ctx, incident, section, cmd.named(text))

    await on_incident(call, cmd, work)
