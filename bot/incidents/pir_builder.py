"""Gathering an incident's record into a `PirRecord` for the review document."""

from __future__ import annotations

from typing import TypedDict

from bot.incidents.attendance import attendance_lines, unavailable
from bot.incidents.conversation import transcript
from bot.incidents.event_kinds import Declared, EventKind, SeverityChanged
from bot.incidents.pir_record import (
    ActionLine,
    CommandeerLine,
    EventLine,
    ExternalUpdateLine,
    HandoverLine,
    HypothesisLine,
    PirRecord,
)
from bot.incidents.roles import assistants
from bot.incidents.severity import BUILT_IN, SeverityScale
from bot.store.incident_models import (
    Commandeer,
    Handover,
    HandoverStatus,
    Hypothesis,
    Incident,
    TeamSettings,
    TimelineEvent,
)
from bot.store.pir_models import FollowUpAction, Review
from bot.store.status_models import PublicIncident, PublicUpdate, SyncState


async def build_record(incident: Incident, *, default_zone: str = "UTC",
                       scale: SeverityScale = BUILT_IN) -> PirRecord:
    """Every part of the record the review shows, in time order."""
    events = await TimelineEvent.filter(incident=incident).order_by("at", "id").values_list(
        "at", "kind", "actor_name", "text", "data")
    # The conversation has its own section (`conversation`), beside the timeline.
    timeline = tuple(EventLine(at, kind, actor, text) for at, kind, actor, text, _ in events
                     if kind != EventKind.CHAT)
    severities = tuple((at, SeverityChanged.from_json(data).to_level)
                       for at, kind, _, _, data in events if kind == EventKind.SEVERITY and data)
    review = await Review.get_or_none(incident=incident)
    team = (await TeamSettings.get_or_none(tenant_id=incident.tenant_id, team_id=incident.team_id)
            if incident.team_id else None)
    first_severity = next((Declared.from_json(d).severity for _, k, _, _, d in events
                           if k == EventKind.DECLARED and d), incident.severity)
    stays = await attendance_lines(incident)
    return PirRecord(
        number=incident.number, title=incident.title, severity=incident.severity,
        scale=scale, status=incident.status.value, declared_at=incident.declared_at,
        declared_by=incident.declared_by_name,
        timezone=(team.timezone if team and team.timezone else None) or default_zone,
        description=incident.description, affected=incident.affected, impact=incident.impact,
        mitigated_at=incident.mitigated_at, resolved_at=incident.resolved_at,
        closed_at=incident.closed_at, due_at=review.due_at if review else None,
        investigator=incident.investigator_name, commander=incident.commander_name,
        assistants=tuple(p.name for p in await assistants(incident)),
        room_url=incident.room_url,
        severity_history=((incident.declared_at, first_severity),) + severities,
        handovers=tuple(
            HandoverLine(h.requested_at, h.role, h.to_name, h.from_name, h.status.value,
                         h.answered_at, h.reason)
            for h in await Handover.filter(incident=incident).order_by("id")
            # An open call nobody took ("anyone") asked no one: not a handover.
            if not (h.anyone and h.status is not HandoverStatus.ACCEPTED)),
        timeline=timeline,
        hypotheses=tuple(
            HypothesisLine(h.number, h.text, h.status.value, h.author_name, h.created_at,
                           h.resolved_at)
            for h in await Hypothesis.filter(incident=incident).order_by("number")),
        notes=tuple(e for e in timeline if e.kind == EventKind.NOTE),
        updates=tuple(e for e in timeline if e.kind == EventKind.UPDATE),
        commandeered=tuple(
            CommandeerLine(c.name, c.why, c.requested_by_name, c.requested_at, c.status.value,
                           c.answered_at, c.joined_room_at)
            for c in await Commandeer.filter(incident=incident).order_by("id")),
        actions=tuple(
            ActionLine(a.number, a.text, a.owner_name, a.status, a.tracker_url)
            for a in await FollowUpAction.filter(incident=incident).order_by("number")),
        root_cause=review.root_cause if review else "",
        contributing_factors=review.contributing_factors if review else "",
        went_well=review.went_well if review else "",
        went_badly=review.went_badly if review else "",
        attendance=stays,
        # Stays from an earlier room are shown even if the current room reports none.
        attendance_unavailable=None if stays else unavailable(incident),
        conversation=await transcript(incident),
        **await _external(incident),
    )


class _External(TypedDict, total=False):
    public_title: str
    external_updates: tuple[ExternalUpdateLine, ...]


async def _external(incident: Incident) -> _External:
    public = await PublicIncident.get_or_none(incident_id=incident.id)
    if public is None:
        return {}
    lines = tuple(
        ExternalUpdateLine(u.published_at, u.status.value, u.text, _synced(u))
        for u in await PublicUpdate.filter(public_incident=public).order_by("published_at", "id"))
    return {"public_title": public.title, "external_updates": lines}


def _synced(update: PublicUpdate) -> str:
    if update.sync_state is SyncState.FAILED:
        return f"failed: {update.sync_error or 'unknown error'}"
    return "not configured" if update.sync_state is SyncState.NONE else update.sync_state.value
