"""The Post Incident Review: drafted from the record at mitigation, due one working day
later, follow-up actions tracked, the Customer Support Engineer told when it is ready.

Guide: "Ensure the PIR document is complete and accurate within 1 working day of the
incident ... Ensure follow up actions have been identified and have been added to
appropriate systems ... and linked from the PIR", and the Commander "notifies the Customer
Support Engineer when it is ready".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.errors import CommandError, NotFoundError
from bot.incidents import external, privacy, review_links
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.incidents.local_time import written
from bot.incidents.people import Person
from bot.incidents.pir_builder import build_record
from bot.incidents.roles import require_commander, require_role_holder
from bot.incidents.timeline import record
from bot.incidents.working_days import pir_due, reminder_times
from bot.store import jobs
from bot.store.incident_models import Incident, ReviewState, TeamSettings
from bot.store.models import Job
from bot.store.pir_models import FollowUpAction, Review
from integrations.github_issues import TrackerError
from integrations.google_docs import ExportError


@dataclass(frozen=True)
class RemindReview(jobs.JobPayload):
    """Remind the Commander of the review's due time (`final`: it has passed)."""

    KIND = "review.remind"
    incident_id: int
    final: bool = False


@dataclass(frozen=True)
class TrackAction(jobs.JobPayload):
    """File follow-up action `action_id` in the tracker."""

    KIND = "action.track"
    action_id: int


@dataclass(frozen=True)
class ExportReview(jobs.JobPayload):
    """Export the ready review as a Google Doc (`request_id` keeps it to one document)."""

    KIND = "review.export"
    incident_id: int
    request_id: str


class Section(Enum):
    """The parts of the review people write, by the review's field for each."""

    ROOT_CAUSE = "root_cause"
    CONTRIBUTING_FACTORS = "contributing_factors"
    WENT_WELL = "went_well"
    WENT_BADLY = "went_badly"


async def review_rules(incident: Incident, ctx: Ctx) -> tuple[str, str | None]:
    team = (await TeamSettings.get_or_none(tenant_id=incident.tenant_id, team_id=incident.team_id)
            if incident.team_id else None)
    zone = (team.timezone if team and team.timezone else None) or ctx.policy.timezone
    country = (team.holidays_country if team and team.holidays_country else None) or (
        ctx.policy.holidays_country or None)
    return zone, country


async def open_review(ctx: Ctx, incident: Incident) -> Review | None:
    """Start the review when the bleeding stops: due date, reminders, the draft's link."""
    existing = await Review.get_or_none(incident=incident)
    if existing is not None or incident.review_state is ReviewState.WAIVED:
        return existing
    zone, country = await review_rules(incident, ctx)
    country_code, _, region = (country or "").partition("-")
    try:
        due = pir_due(incident.mitigated_at or ctx.now, zone=zone, country=country_code or None,
                      subdivision=region or None)
    except ValueError as exc:
        # A wrong working-day setting must never block marking an incident mitigated.
        ctx.tell(say.ThreadPost(incident.id, f"The review's working-day rules are not usable "
                                f"({exc}); counting weekdays in UTC instead. Fix them with "
                                "`@incident setup timezone|holidays`."))
        zone = "UTC"
        due = pir_due(incident.mitigated_at or ctx.now, zone=zone, country=None)
    review = await Review.create(incident=incident, created_at=ctx.now, due_at=due)
    for index, when in enumerate(reminder_times(due)):
        await jobs.schedule(RemindReview(incident.id, final=index > 0),
                            due_ms=int(when.timestamp() * 1000),
                            dedupe_key=f"review:{incident.id}:{index}")
    text = (f"Post Incident Review draft: {await draft_link(ctx, incident)} — due "
            f"{written(due, zone)}. Add follow-ups with `@incident action <text> "
            "[@owner]`; the Commander marks it done with `@incident pir ready`.")
    if ctx.policy.review_meeting(incident.severity):
        text += (" A review meeting is recommended at this severity: "
                 "`@incident review meeting <when>`.")
    await record(ctx, incident, EventKind.REVIEW_OPENED, f"Review due {written(due, zone)}.")
    ctx.tell(say.ThreadPost(incident.id, text))
    return review


async def draft_link(ctx: Ctx, incident: Incident, fmt: str = "html") -> str:
    """A signed link to the review page (or its Markdown download)."""
    expires = int(ctx.now.timestamp()) + ctx.policy.review_link_s
    return await review_links.link(ctx.policy.base_url, incident.id, fmt=fmt, expires=expires)


async def review_of(incident: Incident) -> Review:
    review = await Review.get_or_none(incident=incident)
    if review is None:
        raise CommandError(f"INC-{incident.number} has no review yet: it starts when the "
                           "incident is marked `mitigated`.")
    return review


async def show(ctx: Ctx, incident: Incident) -> None:
    """`pir`: the links and the due time."""
    review = await review_of(incident)
    zone, _ = await review_rules(incident, ctx)
    state = f"ready since {written(review.ready_at, zone)}" if review.ready_at else (
        f"due {written(review.due_at, zone)}")
    ctx.tell(say.Reply(f"INC-{incident.number} review ({state}): "
                       f"{await draft_link(ctx, incident)} · Markdown: "
                       f"{await draft_link(ctx, incident, 'md')}"))


async def write_section(ctx: Ctx, incident: Incident, section: Section, text: str) -> None:
    """Write one of the parts people write (`pir rootcause|factors|well|badly <text>`)."""
    field = section.value
    await require_role_holder(ctx, incident, "write its review")
    review = await review_of(incident)
    setattr(review, field, clip(text))
    await review.save()
    await record(ctx, incident, EventKind.REVIEW_EDITED, f"{ctx.actor.name} wrote the "
                 f"{field.replace('_', ' ')} section.")
    ctx.tell(say.Reply("Saved in the review."))


async def ready(ctx: Ctx, incident: Incident) -> None:
    """The Commander declares the review complete: thread, timeline, the CSE told."""
    require_commander(ctx, incident, "mark the review ready")
    review = await review_of(incident)
    if review.ready_at:
        raise CommandError("The review is already marked ready.")
    review.ready_at, review.ready_by = ctx.now, ctx.actor.name
    await review.save()
    incident.review_state = ReviewState.DONE
    await incident.save()
    await stop_reminders(incident)
    link = await draft_link(ctx, incident)
    await record(ctx, incident, EventKind.REVIEW_READY, f"Review marked ready by {ctx.actor.name}.")
    # A private incident's review is not copied to Google Docs, where its sharing is
    # Google's (bot.incidents.privacy).
    not_exported = ""
    if ctx.policy.docs_enabled and incident.private:
        not_exported = " It is not exported to Google Docs: the incident is private."
    elif ctx.policy.docs_enabled:
        await jobs.schedule(ExportReview(incident.id, f"review-{incident.id}-{ctx.now_ms}"),
                            due_ms=ctx.now_ms, max_attempts=8)
    ctx.tell(say.ThreadPost(incident.id, f"The Post Incident Review is ready: {link}"
                            f"{not_exported}"),
             say.CardChanged(incident.id))
    team = (await TeamSettings.get_or_none(tenant_id=incident.tenant_id, team_id=incident.team_id)
            if incident.team_id else None)
    if team and team.cse_id:
        cse = Person(team.cse_id, team.cse_name or "Customer Support Engineer")
        told = (f"The Post Incident Review of {privacy.reference(incident)} is ready: ask "
                f"its Commander, {incident.commander_name or incident.declared_by_name}."
                if incident.private else f"The Post Incident Review of "
                f"INC-{incident.number} ({incident.title}) is ready: {link}")
        ctx.tell(say.DirectMessage(incident.id, cse, told))
    else:
        ctx.tell(say.Reply("No Customer Support Engineer is set for this team "
                           "(`@incident setup cse @name`): tell them yourself."))


async def stop_reminders(incident: Incident) -> None:
    """No more reminders: the review is ready or was waived."""
    for index in range(2):
        await jobs.cancel(f"review:{incident.id}:{index}")


async def remind(ctx: Ctx, incident_id: int, *, final: bool) -> None:
    """Timer: remind the Commander before the due time, and when it passes."""
    incident = await Incident.get(id=incident_id)
    review = await Review.get_or_none(incident=incident)
    if (review is None or review.ready_at or incident.commander_id is None
            or incident.review_state is ReviewState.WAIVED):
        return
    commander = Person(incident.commander_id, incident.commander_name or "")
    zone, _ = await review_rules(incident, ctx)
    when = "is now overdue" if final else f"is due at {written(review.due_at, zone)}"
    text = f"The review of INC-{incident.number} {when}: {await draft_link(ctx, incident)}"
    if await external.customers_untold(ctx, incident):
        text += (" Customer impact is recorded but customers were never told: publish with "
                 f"`@incident {external.USAGE}`.")
    await record(ctx, incident, EventKind.REVIEW_REMINDER, f"Commander reminded: review {when}.")
    ctx.tell(say.DirectMessage(incident.id, commander, text))


async def add_action(ctx: Ctx, incident: Incident, owner: Person | None, text: str) -> None:
    """A follow-up action; with a tracker configured it becomes an issue or a card (retried)."""
    body = clip(text)
    if not body:
        raise CommandError("Usage: `@incident action <text> [@owner]`.")
    await require_role_holder(ctx, incident, "add its follow-up actions")
    last = await FollowUpAction.filter(incident=incident).order_by("-number").first()
    action = await FollowUpAction.create(
        incident=incident, number=(last.number if last else 0) + 1, text=body,
        owner_id=owner.id if owner else None, owner_name=owner.name if owner else None,
        created_at=ctx.now, tracker_state="pending" if ctx.policy.tracker_enabled else "none")
    if ctx.policy.tracker_enabled:
        await jobs.schedule(TrackAction(action.id), due_ms=ctx.now_ms, max_attempts=12)
    who = f" (owner: {owner.name})" if owner else ""
    await record(ctx, incident, EventKind.ACTION, f"Follow-up action {action.number}: {body}{who}")
    ctx.tell(say.Reply(f"Follow-up action {action.number} recorded{who}."))


async def action_done(ctx: Ctx, incident: Incident, number: int) -> None:
    """Mark a follow-up action done: its owner, the people working the incident, admins."""
    action = await FollowUpAction.get_or_none(incident=incident, number=number)
    if action is None:
        raise NotFoundError(f"INC-{incident.number} has no follow-up action {number}.")
    if action.owner_id != ctx.actor.id:
        owner = (f" (and {action.owner_name}, who owns action {number})"
                 if action.owner_name else "")
        await require_role_holder(ctx, incident, f"mark follow-up actions done{owner}")
    action.status, action.done_at = "done", ctx.now
    await action.save()
    await record(ctx, incident, EventKind.ACTION_DONE, f"Follow-up action {number} done.")
    ctx.tell(say.Reply(f"Follow-up action {number} done."))


async def tracked(ctx: Ctx, action_id: int, url: str) -> None:
    """The tracker made the issue: keep its link, say so in the thread."""
    action = await FollowUpAction.get(id=action_id).prefetch_related("incident")
    action.tracker_url, action.tracker_state = url, "created"
    await action.save()
    ctx.tell(say.ThreadPost(action.incident.id, f"Follow-up action {action.number} is "
                            f"tracked at {url}"))


async def tracking_failed(ctx: Ctx, action_id: int, error: str, ticket: str) -> None:
    """The tracker refused for good: the action stays recorded here. `ticket` is what the
    tracker makes ("an issue", "a Trello card"); the error names the tracker."""
    action = await FollowUpAction.get(id=action_id).prefetch_related("incident")
    action.tracker_state = "failed"
    await action.save()
    ctx.tell(say.ThreadPost(action.incident.id, f"Could not create {ticket} for follow-up "
                            f"action {action.number} ({error}); it stays recorded in the review."))



async def exported(ctx: Ctx, incident_id: int, url: str) -> None:
    """The review is also a Google Doc now: keep and share its link."""
    await Review.filter(incident_id=incident_id).update(doc_url=url)
    incident = await Incident.get(id=incident_id)
    await record(ctx, incident, EventKind.REVIEW_EXPORTED, f"Review exported to Google Docs: {url}")
    ctx.tell(say.ThreadPost(incident_id, f"The review is also in Google Docs: {url}"))


async def export_failed(ctx: Ctx, incident_id: int, error: str) -> None:
    """Google refused for good: the review stays available through the bot's link."""
    ctx.tell(say.ThreadPost(incident_id, f"Could not export the review to Google Docs "
                            f"({error}); the bot's link keeps working."))


async def remind_job(bg: Background, job: Job, payload: RemindReview) -> None:
    """The reminder, in the incident's transaction."""
    await bg.in_incident(payload.incident_id, lambda ctx: remind(
        ctx, payload.incident_id, final=payload.final))


async def track_job(bg: Background, job: Job, payload: TrackAction) -> None:
    """The tracker call runs outside any transaction; a retryable failure raises, and the
    job table retries it with backoff (the action itself is already recorded)."""
    action = await FollowUpAction.get(id=payload.action_id).prefetch_related("incident")
    incident, tracker = action.incident, bg.tracker
    if tracker is None or action.tracker_state == "created":
        return
    await bg.call_provider(
        job, incident.id, lambda: tracker.create_issue(
            title=f"INC-{incident.number} follow-up: {action.text[:120]}",
            body=(f"Follow-up action {action.number} of {privacy.reference(incident)}."
                  f"\n\n{action.text}\n\nOwner: "
                  f"{action.owner_name or 'unassigned'}"),
            labels=["incident-follow-up"]),
        errors=TrackerError, metric=tracker.name.lower(),
        failed=lambda ctx, reason: tracking_failed(ctx, action.id, reason, tracker.ticket),
        done=lambda ctx, issue: tracked(ctx, action.id, issue.url))


async def export_job(bg: Background, job: Job, payload: ExportReview) -> None:
    """The Google Docs call runs outside any transaction, with the review as HTML."""
    incident = await Incident.get(id=payload.incident_id)
    docs, html = bg.docs, bg.review_html
    if docs is None or html is None:
        return
    review = await build_record(incident, default_zone=bg.policy.timezone,
                                scale=bg.policy.severity)
    await bg.call_provider(
        job, incident.id, lambda: docs.export(
            title=f"PIR INC-{incident.number}: {incident.title}"[:200],
            html=html(review), request_id=payload.request_id),
        errors=ExportError, metric="google_docs",
        failed=lambda ctx, reason: export_failed(ctx, incident.id, reason),
        done=lambda ctx, doc: exported(ctx, incident.id, doc.url))


JOBS = (JobHandler(RemindReview, remind_job), JobHandler(TrackAction, track_job),
        JobHandler(ExportReview, export_job))
