"""Title, severity and status: investigating, mitigated ("the bleeding has stopped"),
resolved, closed (once the review is done or waived by the Commander)."""

from __future__ import annotations

import datetime as dt

from bot.errors import CommandError
from bot.incidents import checkins, external, handovers, pir, spaces
from bot.incidents import notices as say
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind, SeverityChanged, TitleChanged
from bot.incidents.limits import MAX_TITLE, clip
from bot.incidents.roles import require_commander, require_role_holder
from bot.incidents.timeline import record
from bot.store.incident_models import Incident, IncidentStatus, ReviewState


def duration(start: dt.datetime, end: dt.datetime) -> str:
    """"1 h 05 min" or "7 min"."""
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


async def set_severity(ctx: Ctx, incident: Incident, level: int) -> None:
    """Raise or lower the severity."""
    await require_role_holder(ctx, incident, "change the severity")
    scale = ctx.policy.severity
    if not scale.highest <= level <= scale.lowest:
        raise CommandError(f"{level} is not a severity: {scale.name(scale.highest)} to "
                           f"{scale.name(scale.lowest)}.")
    if level == incident.severity:
        raise CommandError(f"INC-{incident.number} is already {scale.name(level)}.")
    before = incident.severity
    incident.severity = level
    await incident.save()
    text = (f"Severity changed from {scale.name(before)} to {scale.name(level)} by "
            f"{ctx.actor.name}.")
    await record(ctx, incident, EventKind.SEVERITY, text, SeverityChanged(before, level).to_json())
    await spaces.name_changed(incident, ctx.now_ms)
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))


TITLE_USAGE = "title <new title>"


async def set_title(ctx: Ctx, incident: Incident, title: str) -> None:
    """Rename the incident: its card, its thread, and (in channel space) its channel follow.
    What customers read keeps its own public title (`external`)."""
    await require_role_holder(ctx, incident, "change the title")
    if incident.status is IncidentStatus.CLOSED:
        raise CommandError(f"INC-{incident.number} is closed; its timeline is final.")
    after = clip(" ".join(title.split()), MAX_TITLE)
    if not after:
        raise CommandError(f"Usage: `@incident {TITLE_USAGE}`")
    if after == incident.title:
        raise CommandError(f"INC-{incident.number} is already titled '{after}'.")
    before, incident.title = incident.title, after
    await incident.save()
    text = f"{ctx.actor.name} renamed INC-{incident.number}: {before} → {after}"
    await record(ctx, incident, EventKind.TITLE, text, TitleChanged(before, after).to_json())
    await spaces.name_changed(incident, ctx.now_ms)
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))


async def mitigated(ctx: Ctx, incident: Incident) -> None:
    """The impact has stopped; the cause may still be there."""
    await require_role_holder(ctx, incident, "mark it mitigated")
    if incident.status is not IncidentStatus.INVESTIGATING:
        raise CommandError(f"INC-{incident.number} is already {incident.status.value}.")
    incident.status, incident.mitigated_at = IncidentStatus.MITIGATED, ctx.now
    await incident.save()
    text = (f"Mitigated by {ctx.actor.name}, {duration(incident.declared_at, ctx.now)} after "
            "it was declared. Keep preserving evidence for the review.")
    await record(ctx, incident, EventKind.MITIGATED, text)
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))
    await pir.open_review(ctx, incident)
    await external.at_mitigation(ctx, incident)


async def resolved(ctx: Ctx, incident: Incident) -> None:
    """Service restored for good; check-ins stop."""
    await require_role_holder(ctx, incident, "mark it resolved")
    if incident.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        raise CommandError(f"INC-{incident.number} is already {incident.status.value}.")
    incident.status, incident.resolved_at = IncidentStatus.RESOLVED, ctx.now
    incident.mitigated_at = incident.mitigated_at or ctx.now
    await incident.save()
    await checkins.stop(incident)
    await handovers.withdraw_open(ctx, incident)
    text = (f"Resolved by {ctx.actor.name}, {duration(incident.declared_at, ctx.now)} after "
            f"it was declared. {_after_resolution(incident)}")
    await record(ctx, incident, EventKind.RESOLVED, text)
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, text))
    await pir.open_review(ctx, incident)  # resolved without a separate mitigation
    await external.at_mitigation(ctx, incident)


def _after_resolution(incident: Incident) -> str:
    """The next step once resolved, as the review stands (never a step already done)."""
    if incident.review_state is ReviewState.DONE:
        return "The review is ready: close the incident with `@incident close`."
    if incident.review_state is ReviewState.WAIVED:
        return "The review was waived: close the incident with `@incident close`."
    return "Next: the Post Incident Review, due within one working day."


async def waive_review(ctx: Ctx, incident: Incident, reason: str) -> None:
    """The Commander decides this incident needs no review."""
    require_commander(ctx, incident, "waive the review")
    why = clip(reason, 500)
    if not why:
        raise CommandError("Say why: `@incident review waive <reason>`.")
    incident.review_state = ReviewState.WAIVED
    await incident.save()
    await pir.stop_reminders(incident)
    await record(ctx, incident, EventKind.REVIEW_WAIVED,
                 f"Review waived by {ctx.actor.name}: {why}")
    ctx.tell(say.CardChanged(incident.id), say.Reply("Review waived; the incident can close."))


async def close(ctx: Ctx, incident: Incident) -> None:
    """Close a resolved incident whose review is done or waived."""
    await require_role_holder(ctx, incident, "close it")
    if incident.status is IncidentStatus.CLOSED:
        raise CommandError(f"INC-{incident.number} is already closed.")
    if incident.status is not IncidentStatus.RESOLVED:
        raise CommandError(f"INC-{incident.number} is {incident.status.value}: mark it "
                           "`resolved` before closing.")
    if incident.review_state is ReviewState.PENDING:
        raise CommandError(f"INC-{incident.number} closes once its review is done "
                           "(`@incident pir ready`), or waived by the Commander with "
                           "`@incident review waive <reason>`.")
    incident.status, incident.closed_at = IncidentStatus.CLOSED, ctx.now
    await incident.save()
    await record(ctx, incident, EventKind.CLOSED, f"Closed by {ctx.actor.name}.")
    await spaces.closed(incident, ctx.now_ms)
    ctx.tell(say.CardChanged(incident.id), say.ThreadPost(incident.id, "Incident closed."))
