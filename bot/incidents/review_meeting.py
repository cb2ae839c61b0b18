"""The review meeting: proposed for severe incidents, scheduled on the video provider with
the incident's participants invited.

Guide: "If an incident warrants it (non-trivial) then schedule a PIR meeting to review the
PIR document and dive into the root cause and follow up actions".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.errors import BridgeError
from bot.incidents import notices as say
from bot.incidents import privacy
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.local_time import written
from bot.incidents.oncall import parse_until
from bot.incidents.people import Person
from bot.incidents.pir import review_of, review_rules
from bot.incidents.roles import Role, assistants, holder, require_commander
from bot.incidents.rooms import label
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Commandeer, CommandeerStatus, Incident
from bot.store.models import Job
from bot.store.pir_models import Review
from integrations.video import Meeting

DURATION_MIN = 45


@dataclass(frozen=True)
class ScheduleMeeting(jobs.JobPayload):
    """Book the review meeting at `starts_at` (ISO 8601, with its offset)."""

    KIND = "review.meeting"
    incident_id: int
    starts_at: str
    request_id: str

    @property
    def start(self) -> dt.datetime:
        """The meeting time."""
        return dt.datetime.fromisoformat(self.starts_at)


async def participants(incident: Incident) -> list[Person]:
    """Who is invited: role holders, extra investigators, and the commandeered who joined."""
    people = [p for p in (holder(incident, Role.INVESTIGATOR), holder(incident, Role.COMMANDER))
              if p]
    people += await assistants(incident)
    for row in await Commandeer.filter(incident=incident, status=CommandeerStatus.JOINING):
        people.append(Person(row.person_id, row.name, row.aad_object_id))
    unique: dict[str, Person] = {}
    for person in people:
        unique.setdefault(person.id, person)
    return list(unique.values())


async def request_meeting(ctx: Ctx, incident: Incident, when: str) -> None:
    """`review meeting <when>` (Commander): queue the scheduling on the video provider."""
    require_commander(ctx, incident, "schedule the review meeting")
    await review_of(incident)
    zone, _ = await review_rules(incident, ctx)
    starts = parse_until(when, now=ctx.now, zone=zone)
    await jobs.schedule(ScheduleMeeting(incident.id, starts.isoformat(),
                                        f"review-{incident.id}-{ctx.now_ms}"),
                        due_ms=ctx.now_ms, max_attempts=5)
    ctx.tell(say.Reply(f"Scheduling the review meeting for {written(starts, zone)}…"))


async def meeting_scheduled(ctx: Ctx, incident_id: int, meeting: Meeting) -> None:
    """Keep the meeting on the review, put it on the timeline and in the thread."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    await Review.filter(incident=incident).update(meeting_at=meeting.starts_at,
                                                  meeting_url=meeting.join_url)
    invited = await participants(incident)
    zone, _ = await review_rules(incident, ctx)
    names = ", ".join(p.name for p in invited) or "nobody yet"
    text = (f"Review meeting on {label(meeting.provider)}, {written(meeting.starts_at, zone)}: "
            f"{meeting.join_url} — invited: {names}.")
    await record(ctx, incident, EventKind.REVIEW_MEETING, text, {"provider": meeting.provider,
                                                        "starts_at": meeting.starts_at.isoformat()})
    ctx.tell(say.ThreadPost(incident.id, text, tuple(invited)))


async def meeting_failed(ctx: Ctx, incident_id: int, error: str) -> None:
    """Scheduling failed for good: say so, so the Commander can book it by hand."""
    incident = await Incident.get(id=incident_id)
    text = f"Could not schedule the review meeting ({error}). Please book it by hand."
    await record(ctx, incident, EventKind.REVIEW_MEETING_FAILED, text)
    ctx.tell(say.ThreadPost(incident.id, text,
                            tuple(p for p in (holder(incident, Role.COMMANDER),) if p)))


async def meeting_job(bg: Background, job: Job, payload: ScheduleMeeting) -> None:
    """Emails and the provider call happen outside any transaction."""
    incident = await Incident.get(id=payload.incident_id)
    invited = await participants(incident)
    emails = await bg.members.emails(service_url=incident.service_url,
                                     scope=incident.team_id or incident.thread_id or "",
                                     people=invited)
    provider = (bg.policy.video_chain or ("jitsi",))[0]
    await bg.call_provider(
        job, incident.id, lambda: bg.bridges.get(provider).schedule_meeting(
            topic=f"Review of INC-{incident.number}: {privacy.outside_title(incident)}"[:200],
            starts_at=payload.start, duration_min=DURATION_MIN, attendees=emails,
            request_id=payload.request_id),
        errors=BridgeError, metric=provider,
        failed=lambda ctx, reason: meeting_failed(ctx, incident.id, reason),
        done=lambda ctx, meeting: meeting_scheduled(ctx, incident.id, meeting))


JOBS = (JobHandler(ScheduleMeeting, meeting_job),)
