"""Runs the domain's timers (durable jobs) and sends what they have to say."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.errors import BotError, BridgeError
from bot.metrics import Metrics
from bot.incidents import (
    checkins,
    commandeer,
    external,
    handovers,
    pir,
    review_meeting,
    rooms,
    staffing,
)
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.incidents.pir_builder import build_record
from bot.incidents.pir_document import render_html
from bot.store.incident_models import Commandeer, Handover, Incident
from bot.store.jobs import JobHandler, JobRunner, tries_left
from bot.store.models import Job
from bot.store.pir_models import FollowUpAction
from bot.store.status_models import PublicUpdate, SyncState
from bot.store.unit_of_work import UnitOfWork
from bot.teams.members import MemberDirectory
from bot.teams.render import Renderer
from integrations.github_issues import GitHubIssues, TrackerError
from integrations.google_docs import ExportError, GoogleDocsExporter
from integrations.presence import PresenceSource
from integrations.statuspage import PublicPost, StatuspageError, StatusService
from integrations.video_factory import Bridges

log = logging.getLogger(__name__)
BOT = Person(id="", name="incident bot")
Work = Callable[[Ctx, int], Awaitable[Any]]
T = TypeVar("T")


def register_timers(runner: JobRunner, *, renderer: Renderer, policy: Policy,
                    wake: Callable[[], None], bridges: Bridges,
                    presence: PresenceSource, tracker: GitHubIssues | None,
                    members: MemberDirectory, docs: GoogleDocsExporter | None,
                    status_service: StatusService | None = None,
                    metrics: Metrics | None = None) -> None:
    """Give the job runner a handler for every timer kind the domain schedules."""
    count = metrics or Metrics()

    async def in_transaction(incident_id: int, work: Callable[[Ctx], Awaitable[Any]]) -> None:
        async with UnitOfWork(on_commit=wake) as uow:
            incident = await Incident.get(id=incident_id)
            ctx = Ctx(actor=BOT, policy=policy,
                      origin=Origin(incident.tenant_id, incident.service_url))
            await work(ctx)
            await renderer.render(uow, ctx.notices, incoming=None, now=ctx.now)

    async def call_provider(job: Job, incident_id: int, call: Callable[[], Awaitable[T]], *,
                            errors: type[BotError], metric: str | None,
                            failed: Callable[[Ctx, str], Awaitable[Any]],
                            done: Callable[[Ctx, T], Awaitable[Any]]) -> None:
        """One outside call, made outside any transaction, then its outcome recorded in one.
        A retryable failure with tries left re-raises, for the job table's backoff; the
        last one is recorded where people see it. `metric`: the provider-error label
        (a BridgeError names its own), None for none."""
        try:
            result = await call()
        except errors as exc:
            if metric is not None:
                count.provider_error(getattr(exc, "provider", None) or metric)
            if exc.retryable and tries_left(job):  # type: ignore[attr-defined]
                raise
            reason = str(exc)
            await in_transaction(incident_id, lambda ctx: failed(ctx, reason))
            return
        await in_transaction(incident_id, lambda ctx: done(ctx, result))

    async def create_room(job: Job) -> None:
        # The provider call (up to VIDEO_TIMEOUT_SECONDS) runs outside any transaction.
        payload = job.payload
        incident = await Incident.get(id=payload["incident_id"])
        try:
            bridge = bridges.get(payload["chain"][0])
            room = await bridge.create_room(topic=rooms.topic(incident),
                                            request_id=payload["request_id"])
        except BridgeError as exc:
            count.provider_error(exc.provider)
            error = exc
        except Exception as exc:  # noqa: BLE001 - a provider's surprise is one more failed try
            log.exception("room creation on %s failed unexpectedly", payload["chain"][0])
            count.provider_error(payload["chain"][0])
            error = BridgeError(f"unexpected {type(exc).__name__}", provider=payload["chain"][0])
        else:
            await in_transaction(incident.id, lambda ctx: rooms.room_created(
                ctx, incident.id, room, payload["request_id"]))
            return
        await in_transaction(incident.id, lambda ctx: rooms.room_failed(
            ctx, incident.id, payload, error))

    runner.register(rooms.ROOM_JOB, create_room)

    async def staff(job: Job) -> None:
        # Presence (Graph) is asked outside any transaction; it only orders the candidates.
        incident_id, squad_id = int(job.payload["incident_id"]), int(job.payload["squad_id"])
        people = await staffing.people_to_check(squad_id)
        seen = await presence.lookup(p.aad_object_id for p in people if p.aad_object_id)
        await in_transaction(incident_id, lambda ctx: staffing.staff(ctx, incident_id,
                                                                    squad_id, seen))

    runner.register(staffing.STAFF_JOB, staff)

    async def remind_review(job: Job) -> None:
        incident_id = int(job.payload["incident_id"])
        await in_transaction(incident_id, lambda ctx: pir.remind(
            ctx, incident_id, final=bool(job.payload.get("final"))))

    runner.register(pir.REMIND_JOB, remind_review)

    async def track_action(job: Job) -> None:
        # The tracker call runs outside any transaction; a retryable failure raises, and
        # the job table retries it with backoff (the action itself is already recorded).
        action = await FollowUpAction.get(id=int(job.payload["action_id"])).prefetch_related(
            "incident")
        incident = action.incident
        if tracker is None or action.tracker_state == "created":
            return
        await call_provider(
            job, incident.id, lambda: tracker.create_issue(
                title=f"INC-{incident.number} follow-up: {action.text[:120]}",
                body=(f"Follow-up action {action.number} of INC-{incident.number} "
                      f"({incident.title}).\n\n{action.text}\n\nOwner: "
                      f"{action.owner_name or 'unassigned'}"),
                labels=["incident-follow-up"]),
            errors=TrackerError, metric="github",
            failed=lambda ctx, reason: pir.tracking_failed(ctx, action.id, reason),
            done=lambda ctx, issue: pir.tracked(ctx, action.id, issue.url))

    runner.register(pir.TRACK_JOB, track_action)

    async def schedule_meeting(job: Job) -> None:
        # Emails and the provider call happen outside any transaction.
        payload = job.payload
        incident = await Incident.get(id=int(payload["incident_id"]))
        invited = await review_meeting.participants(incident)
        emails = await members.emails(service_url=incident.service_url,
                                      scope=incident.team_id or incident.thread_id or "",
                                      people=invited)
        provider = (policy.video_chain or ("jitsi",))[0]
        await call_provider(
            job, incident.id, lambda: bridges.get(provider).schedule_meeting(
                topic=f"Review of INC-{incident.number}: {incident.title}"[:200],
                starts_at=review_meeting.starts_at(payload),
                duration_min=review_meeting.DURATION_MIN, attendees=emails,
                request_id=payload["request_id"]),
            errors=BridgeError, metric=provider,
            failed=lambda ctx, reason: review_meeting.meeting_failed(ctx, incident.id, reason),
            done=lambda ctx, meeting: review_meeting.meeting_scheduled(ctx, incident.id,
                                                                       meeting))

    runner.register(review_meeting.MEETING_JOB, schedule_meeting)

    async def export_review(job: Job) -> None:
        incident = await Incident.get(id=int(job.payload["incident_id"]))
        if docs is None:
            return
        record = await build_record(incident, default_zone=policy.timezone)
        await call_provider(
            job, incident.id, lambda: docs.export(
                title=f"PIR INC-{incident.number}: {incident.title}"[:200],
                html=render_html(record), request_id=job.payload["request_id"]),
            errors=ExportError, metric="google_docs",
            failed=lambda ctx, reason: pir.export_failed(ctx, incident.id, reason),
            done=lambda ctx, doc: pir.exported(ctx, incident.id, doc.url))

    runner.register(pir.EXPORT_JOB, export_review)

    async def sync_external(job: Job) -> None:
        # One update of one public incident at a time (see `external`); the call runs
        # outside any transaction, a retryable failure raises for the job table's backoff.
        update = await PublicUpdate.get(id=int(job.payload["update_id"])).prefetch_related(
            "public_incident")
        public = update.public_incident
        if status_service is None or update.sync_state is not SyncState.PENDING:
            return
        post = PublicPost(title=public.title, status=update.status.value, body=update.text,
                          components=tuple(public.components or ()))
        await call_provider(
            job, public.incident_id,
            lambda: status_service.post(post, incident_id=public.statuspage_id),
            errors=StatuspageError, metric=None,
            failed=lambda ctx, reason: external.sync_failed(ctx, update.id, reason),
            done=lambda ctx, found: external.synced(ctx, update.id, found))

    runner.register(external.SYNC_JOB, sync_external)

    def handler(work: Work, key: str,
                incident_of: Callable[[int], Awaitable[int]]) -> JobHandler:
        async def run(job: Job) -> None:
            target = int(job.payload[key])
            async with UnitOfWork(on_commit=wake) as uow:
                incident = await Incident.get(id=await incident_of(target))
                ctx = Ctx(actor=BOT, policy=policy,
                          origin=Origin(incident.tenant_id, incident.service_url))
                await work(ctx, target)
                await renderer.render(uow, ctx.notices, incoming=None, now=ctx.now)

        return run

    async def of_handover(handover_id: int) -> int:
        return (await Handover.get(id=handover_id)).incident_id

    async def of_commandeer(commandeer_id: int) -> int:
        return (await Commandeer.get(id=commandeer_id)).incident_id

    async def itself(incident_id: int) -> int:
        return incident_id

    runner.register(handovers.EXPIRY_JOB, handler(handovers.expire, "handover_id", of_handover))
    runner.register(commandeer.REMINDER_JOB,
                    handler(commandeer.remind, "commandeer_id", of_commandeer))
    runner.register(checkins.CHECKIN_JOB, handler(checkins.run, "incident_id", itself))
