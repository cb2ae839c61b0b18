"""Moving the incident along: its title, severity, mitigated, resolved, the review decision,
close."""

from __future__ import annotations

from bot.errors import CommandError
from bot.incidents import lifecycle, review_meeting
from bot.incidents.context import Ctx
from bot.store.incident_models import Incident
from bot.teams.call import Call
from bot.teams.command_line import Command, severity_of
from bot.teams.commands.about_incident import on_incident
from bot.teams.router import Router

router = Router()


@router.command("sev", "sev <sev1-4>", synonyms=("severity", "priority"))
async def severity(call: Call, cmd: Command) -> None:
    """Change the severity (`help sev`: each level and what it means)."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        await lifecycle.set_severity(ctx, incident, severity_of(rest, ctx.policy.severity))

    await on_incident(call, cmd, work)


@router.command("title", lifecycle.TITLE_USAGE, synonyms=("retitle", "rename"))
async def title(call: Call, cmd: Command) -> None:
    """Rename the incident: its card, its thread and its own channel (if it has one)."""
    await on_incident(call, cmd, lambda ctx, inc, rest: lifecycle.set_title(
        ctx, inc, cmd.named(rest)))


@router.command("mitigated")
async def mitigated(call: Call, cmd: Command) -> None:
    """The bleeding has stopped: record the time to mitigate."""
    await on_incident(call, cmd, lambda ctx, inc, rest: lifecycle.mitigated(ctx, inc))


@router.command("resolved", synonyms=("fixed",))
async def resolved(call: Call, cmd: Command) -> None:
    """Service is restored for good: the review comes next."""
    await on_incident(call, cmd, lambda ctx, inc, rest: lifecycle.resolved(ctx, inc))


@router.command("review", "review meeting <when> | waive <reason>")
async def review(call: Call, cmd: Command) -> None:
    """Commander only: schedule the review meeting, or decide no review is needed."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
        verb, _, reason = rest.partition(" ")
        if verb.lower() == "meeting":
            await review_meeting.request_meeting(ctx, incident, reason)
            return
        if verb.lower() != "waive":
            raise CommandError("Usage: `@incident review meeting 2026-11-30 14:00` or "
                               "`@incident review waive <reason>`.")
        await lifecycle.waive_review(ctx, incident, reason)

    await on_incident(call, cmd, work)


@router.command("close")
async def close(call: Call, cmd: Command) -> None:
    """Close a resolved incident whose review is done or waived."""
    await on_incident(call, cmd, lambda ctx, inc, rest: lifecycle.close(ctx, inc))
