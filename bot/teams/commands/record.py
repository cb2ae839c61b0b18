"""The record people keep while they work: notes, status updates, impact, hypotheses and
tasks (each on the timeline)."""

from __future__ import annotations

from bot.incidents import external, journal
from bot.incidents.context import Ctx
from bot.store.incident_models import Incident
from bot.teams.call import Call
from bot.teams.command_line import (
    Command,
    public_status_and_text,
    settled_hypothesis,
    without_people,
)
from bot.teams.commands.about_incident import on_incident, on_numbered_item
from bot.teams.router import Router

router = Router()


@router.command("note", "note <text>", synonyms=("comment",))
async def note(call: Call, cmd: Command) -> None:
    """Add evidence, a finding or a dashboard link to the timeline."""
    await on_incident(call, cmd, lambda ctx, inc, rest: journal.note(ctx, inc, cmd.named(rest)))


@router.command("update", "update [external] <text>")
async def update(call: Call, cmd: Command) -> None:
    """Post a status update; `update external <text>` tells customers (status page)."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        first, _, text = rest.strip().partition(" ")
        if first.lower() == "external":
            # Customers read exactly what was typed: mentions are not turned into names.
            status, body = public_status_and_text(without_people(text))
            await external.request(ctx, incident, body, status)
            return
        await journal.update(ctx, incident, cmd.named(rest))

    await on_incident(call, cmd, work)


@router.command("impact", "impact <text>")
async def impact(call: Call, cmd: Command) -> None:
    """Record which customers and systems are affected."""
    await on_incident(call, cmd, lambda ctx, inc, rest: journal.impact(
        ctx, inc, cmd.named(rest)))


@router.command("hypothesis", "hypothesis <text> | <n> proved|disproved")
async def hypothesis(call: Call, cmd: Command) -> None:
    """Propose a possible cause, or settle one (also: confirmed, proven, refuted)."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        settled = settled_hypothesis(rest)
        if settled is not None:
            await journal.settle_hypothesis(ctx, incident, *settled)
            return
        await journal.hypothesis(ctx, incident, cmd.named(rest))

    await on_incident(call, cmd, work)


@router.command("task", "task [@person] <text> | <n> done")
async def task(call: Call, cmd: Command) -> None:
    """Give someone a piece of work, or mark one done."""
    async def add(ctx: Ctx, incident: Incident, rest: str) -> None:
        first, _, text = rest.partition(" ")
        assignee = cmd.person(first)
        await journal.task(ctx, incident, assignee, cmd.named(text if assignee else rest))

    await on_numbered_item(call, cmd, add=add, done=journal.task_done)
