"""What people learn and decide during an incident: notes, updates, impact, hypotheses,
tasks. Each is a timeline event with its author and time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.errors import CommandError, NotAllowedError, NotFoundError
from bot.incidents import external
from bot.incidents import notices as say
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.incidents.local_time import incident_zone, written
from bot.incidents.people import Person
from bot.incidents.roles import holds_any_role, is_admin, require_role_holder
from bot.incidents.team_settings import stakeholder_channel
from bot.incidents.timeline import record
from bot.store.incident_models import Hypothesis, Incident, IncidentStatus, ItemStatus, Task

# A filed message is evidence, not a transcript: enough to read it on the timeline.
MAX_FILED_TEXT = 2000
MAX_FILED_NOTE = 500
NO_TEXT = ("That message has no text to file (pictures and files are not copied); add a "
           "note with `@incident note` instead.")


def _text(text: str, usage: str) -> str:
    cleaned = clip(text)
    if not cleaned:
        raise CommandError(f"Usage: `@incident {usage}`")
    return cleaned


async def note(ctx: Ctx, incident: Incident, text: str) -> None:
    """Evidence, links to dashboards, what was tried: anyone may add."""
    body = _text(text, "note <text>")
    await record(ctx, incident, EventKind.NOTE, body)
    ctx.tell(say.Reply(f"Noted on INC-{incident.number}'s timeline.", routine=say.Routine(
        f"noted:{incident.id}", f"Noted {{n}} entries on INC-{incident.number}'s timeline.")))


@dataclass(frozen=True)
class FiledMessage:
    """A chat message someone files into an incident's timeline, already plain text."""

    text: str
    author: str
    posted_at: dt.datetime | None = None
    link: str | None = None
    message_id: str | None = None


async def file_message(ctx: Ctx, incident: Incident, message: FiledMessage,
                       note: str = "") -> None:
    """Copy a message into the timeline: the people working the incident decide what is
    evidence, since the message may come from a chat the incident's audience cannot see."""
    await require_role_holder(ctx, incident, "file messages into its timeline")
    if incident.status is IncidentStatus.CLOSED:
        raise CommandError(f"INC-{incident.number} is closed; its timeline is final.")
    body = clip(message.text, MAX_FILED_TEXT)
    if not body:
        raise CommandError(NO_TEXT)
    when = (f" at {written(message.posted_at, await incident_zone(ctx, incident))}"
            if message.posted_at else "")
    remark = clip(note, MAX_FILED_NOTE)
    text = f"Message from {clip(message.author, 200) or 'someone'}{when}: {body}"
    await record(ctx, incident, EventKind.MESSAGE,
                 text + (f" (note: {remark})" if remark else ""), {
        "author": clip(message.author, 200), "link": message.link,
        "messageId": message.message_id, "note": remark or None,
        "postedAt": message.posted_at.isoformat() if message.posted_at else None,
    })


async def update(ctx: Ctx, incident: Incident, text: str) -> None:
    """A status update: in the thread, on the card, and to the stakeholder channel."""
    await require_role_holder(ctx, incident, "post status updates")
    body = _text(text, "update <text>")
    incident.last_update, incident.last_update_at = body, ctx.now
    await incident.save()
    await record(ctx, incident, EventKind.UPDATE, body)
    ctx.tell(say.ThreadPost(incident.id, f"Status update from {ctx.actor.name}: {body}"),
             say.CardChanged(incident.id))
    # The level may keep its updates in the incident (`Level.stakeholders`, process file).
    if (ctx.policy.severity.level(incident.severity).stakeholders
            and await stakeholder_channel(incident.tenant_id, incident.team_id)):
        ctx.tell(say.StakeholderPost(incident.id, body))


async def impact(ctx: Ctx, incident: Incident, text: str) -> None:
    """Which customers and systems are affected."""
    await require_role_holder(ctx, incident, "record the impact")
    body = _text(text, "impact <customers and systems affected>")
    incident.impact = body
    await incident.save()
    await record(ctx, incident, EventKind.IMPACT, body)
    reply = "Impact recorded."
    if await external.customers_untold(ctx, incident):
        reply += f" Customers have not been told yet: `@incident {external.USAGE}`."
    ctx.tell(say.CardChanged(incident.id), say.Reply(reply))


async def _next(model: type[Hypothesis] | type[Task], incident: Incident) -> int:
    last = await model.filter(incident=incident).order_by("-number").first()
    return (last.number if last else 0) + 1


async def hypothesis(ctx: Ctx, incident: Incident, text: str) -> Hypothesis:
    """A possible root cause to prove or disprove."""
    body = _text(text, "hypothesis <text>")
    item = await Hypothesis.create(incident=incident, number=await _next(Hypothesis, incident),
                                   text=body, author_id=ctx.actor.id,
                                   author_name=ctx.actor.name, created_at=ctx.now)
    await record(ctx, incident, EventKind.HYPOTHESIS, f"Hypothesis {item.number}: {body}",
                 {"hypothesis": item.number})
    ctx.tell(say.Reply(f"Hypothesis {item.number} recorded. Close it with "
                       f"`@incident hypothesis {item.number} proved|disproved`."))
    return item


async def settle_hypothesis(ctx: Ctx, incident: Incident, number: int, confirmed: bool) -> None:
    """Mark a hypothesis confirmed or disproved."""
    await require_role_holder(ctx, incident, "settle hypotheses")
    item = await Hypothesis.get_or_none(incident=incident, number=number)
    if item is None:
        raise NotFoundError(f"INC-{incident.number} has no hypothesis {number}.")
    item.status = ItemStatus.CONFIRMED if confirmed else ItemStatus.DISPROVED
    item.resolved_at = ctx.now
    await item.save()
    verdict = item.status.value
    await record(ctx, incident, EventKind.HYPOTHESIS_SETTLED,
                 f"Hypothesis {number} {verdict}: {item.text}", {"hypothesis": number,
                                                                 "result": verdict})
    ctx.tell(say.ThreadPost(incident.id, f"Hypothesis {number} {verdict} by "
                            f"{ctx.actor.name}: {item.text}"))


async def task(ctx: Ctx, incident: Incident, assignee: Person | None, text: str) -> Task:
    """Give someone a piece of work; they are mentioned in the thread."""
    body = _text(text, "task @person <text>")
    item = await Task.create(incident=incident, number=await _next(Task, incident), text=body,
                             assignee_id=assignee.id if assignee else None,
                             assignee_name=assignee.name if assignee else None,
                             created_by_id=ctx.actor.id, created_by_name=ctx.actor.name,
                             created_at=ctx.now)
    who = assignee.name if assignee else "anyone"
    await record(ctx, incident, EventKind.TASK, f"Task {item.number} for {who}: {body}",
                 {"task": item.number, "assignee": assignee.id if assignee else None})
    mentions = (assignee,) if assignee else ()
    ctx.tell(say.ThreadPost(incident.id, f"Task {item.number} for {who}: {body}", mentions))
    return item


async def task_done(ctx: Ctx, incident: Incident, number: int) -> None:
    """The assignee, the creator or a role holder closes a task."""
    item = await Task.get_or_none(incident=incident, number=number)
    if item is None:
        raise NotFoundError(f"INC-{incident.number} has no task {number}.")
    allowed = ctx.actor.id in (item.assignee_id, item.created_by_id)
    if not (allowed or await holds_any_role(incident, ctx.actor) or is_admin(ctx, ctx.actor)):
        raise NotAllowedError(f"Task {number} belongs to {item.assignee_name or 'its creator'}.")
    if item.status is ItemStatus.DONE:
        raise CommandError(f"Task {number} is already done.")
    item.status, item.done_at = ItemStatus.DONE, ctx.now
    await item.save()
    await record(ctx, incident, EventKind.TASK_DONE, f"Task {number} done: {item.text}",
                 {"task": number})
    ctx.tell(say.Reply(f"Task {number} done."))

