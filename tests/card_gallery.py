"""Every Adaptive Card the bot can send, built by the real builders from representative
and hostile data, for the schema and render tests (and docs/cards/).

Model instances are made in memory (the builders only read them), so no database is
needed; `NOW` is fixed so that screenshots only change when a card does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.incidents import journal
from bot.incidents.attendance import InRoom
from bot.incidents.context import Policy
from bot.incidents.handovers import ANYONE
from bot.incidents.limits import MAX_TEXT, MAX_TITLE, clip
from bot.incidents.people import Person
from bot.incidents.queries import Picture
from bot.store.alert_models import AlertGroup, AlertState
from bot.store.incident_models import (
    Commandeer,
    CommandeerStatus,
    Handover,
    HandoverStatus,
    Hypothesis,
    Incident,
    IncidentStatus,
    ReviewState,
    Task,
    TimelineEvent,
)
from bot.teams import incident_cards
from bot.teams.bot import TeamsBot
from bot.teams.call import Services
from bot.teams.cards import Card
from bot.teams.commands import all_routes, file_message
from bot.teams.render import Renderer

NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC)
DECLARED = NOW - dt.timedelta(minutes=47)

# What people type ends up in cards verbatim: Markdown, Teams mention markup, HTML,
# JSON that looks like a card, control characters, bidi overrides, template syntax.
RAW_HOSTILE = ('**Checkout** _down_ [click](javascript:alert(1)) <at>Grace Hopper</at> '
               '<script>alert("x")</script> {"type":"AdaptiveCard","body":[]} ${title} '
               'tab\there nul\x00 bell\x07 \u202eevil\u202c # not a heading')
# Stored text goes through the domain's clip() (control characters removed) first.
HOSTILE = clip(RAW_HOSTILE)
LONG_TITLE = ("Payments API returns intermittent 502s for card authorisations in eu-west-1 "
              "after the 09:40 deploy, retries amplify load on the ledger database and the "
              "fraud scoring queue backs up for all merchants")[:200]
UNBROKEN = "x" * 60 + "/" + "averyveryverylongpathwithoutanyspaces" * 4
LONG_NAME = "Maximiliana Alexandrina Konstantinopoulou-Featherstonehaugh von Wittelsbach"

ADA = Person("29:1ada-lovelace", "Ada Lovelace", "aad-ada")
GRACE = Person("29:1grace-hopper", "Grace Hopper", "aad-grace")
LINUS = Person("29:1linus", "Linus T", "aad-linus")


@dataclass(frozen=True)
class GalleryCard:
    """One card as a test sees it: a file-safe name, what it shows, the card."""

    name: str
    shows: str
    card: Card


def _incident(*, title: str = "Checkout returns 500 for EU customers", **fields) -> Incident:
    values = dict(
        id=7, tenant_id="72f988bf-0000-0000-0000-000000000001", number=42, title=title,
        severity=2, declared_at=DECLARED, declared_by_id=ADA.id, declared_by_name=ADA.name,
        service_url="https://smba.trafficmanager.net/emea/",
        channel_id="19:incidents-channel@thread.tacv2",
        thread_id="19:incidents-channel@thread.tacv2;messageid=1764000000001",
        card_activity_id="1764000000001",
    )
    values.update(fields)
    return Incident(**values)


def _busy_incident(title: str) -> Incident:
    return _incident(
        title=title, severity=1, status=IncidentStatus.RESOLVED,
        investigator_id=GRACE.id, investigator_name=GRACE.name,
        commander_id=ADA.id, commander_name=ADA.name,
        mitigated_at=DECLARED + dt.timedelta(minutes=20),
        resolved_at=DECLARED + dt.timedelta(minutes=40), review_state=ReviewState.DONE,
        room_url="https://meet.jit.si/inc-42-2f9c1a", impact="EU card payments fail (~30%)",
        last_update="Rolled back the 09:40 deploy; error rate back to baseline.",
        last_update_at=NOW - dt.timedelta(minutes=5),
    )


def _handover(status: HandoverStatus, *, to: Person = LINUS, role: str = "commander",
              from_name: str | None = ADA.name, reason: str | None = None,
              next_candidates: list[dict[str, Any]] | None = None) -> Handover:
    return Handover(
        id=11, incident_id=7, role=role, to_id=to.id, to_name=to.name, to_aad=to.aad_object_id,
        from_id=ADA.id if from_name else None, from_name=from_name,
        requested_by_id=GRACE.id, requested_by_name=GRACE.name, status=status,
        requested_at=NOW - dt.timedelta(minutes=3), answer_by=NOW + dt.timedelta(minutes=12),
        answered_at=None if status is HandoverStatus.PENDING else NOW,
        reason=reason, next_candidates=next_candidates,
    )


def _anyone(status: HandoverStatus) -> Handover:
    """A "Be the Commander" request (nobody on call to ask); taken by Grace if answered."""
    taken = status is not HandoverStatus.PENDING
    return Handover(
        id=12, incident_id=7, role="commander", to_id=GRACE.id if taken else ANYONE, anyone=True,
        to_name=GRACE.name if taken else "anyone", from_id=None, from_name=None,
        requested_by_id=ADA.id, requested_by_name=ADA.name, status=status,
        requested_at=NOW - dt.timedelta(minutes=3), answer_by=NOW + dt.timedelta(minutes=2),
        answered_at=NOW if taken else None, reason="nobody is on call to ask")


def _picture(incident: Incident, *, pending: tuple[Handover, ...] = (),
             full: bool = False) -> Picture:
    hypotheses, tasks, recent = [], [], []
    if full:
        hypotheses = [Hypothesis(id=1, incident_id=7, number=1, text="Connection pool exhausted",
                                 author_id=ADA.id, author_name=ADA.name, created_at=NOW),
                      Hypothesis(id=2, incident_id=7, number=2, text=HOSTILE,
                                 author_id=ADA.id, author_name=ADA.name, created_at=NOW)]
        tasks = [Task(id=1, incident_id=7, number=1, text="Roll back the 09:40 deploy",
                      assignee_name=GRACE.name, created_by_id=ADA.id,
                      created_by_name=ADA.name, created_at=NOW),
                 Task(id=2, incident_id=7, number=2, text=UNBROKEN, created_by_id=ADA.id,
                      created_by_name=ADA.name, created_at=NOW)]
        recent = [TimelineEvent(id=n, incident_id=7, at=NOW - dt.timedelta(minutes=10 - n),
                                kind="note", text=text)
                  for n, text in enumerate(["Declared SEV1", "Grace Hopper is Investigator",
                                            HOSTILE, "Mitigated"], start=1)]
    return Picture(incident=incident, assistants=[GRACE, Person("29:x", LONG_NAME)] if full
                   else [], pending=list(pending), hypotheses=hypotheses, tasks=tasks,
                   recent=recent)


def _largest_status() -> Card:
    """`status` with every stored text at its limit: the biggest message the bot sends."""
    big = clip("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 80, MAX_TEXT)
    incident = _busy_incident(clip("T" * 300, MAX_TITLE))
    incident.impact = incident.last_update = incident.description = big
    picture = _picture(incident, full=True)
    picture.hypotheses = [Hypothesis(id=n, incident_id=7, number=n, text=big, author_id=ADA.id,
                                     author_name=ADA.name, created_at=NOW)
                          for n in range(1, 31)]
    picture.tasks = [Task(id=n, incident_id=7, number=n, text=big, assignee_name=LONG_NAME,
                          created_by_id=ADA.id, created_by_name=ADA.name, created_at=NOW)
                     for n in range(1, 31)]
    picture.recent = [TimelineEvent(id=n, incident_id=7, at=NOW, kind="note", text=big)
                      for n in range(1, 6)]
    return incident_cards.status_card(picture)


def _commandeer(*, why: str | None, answered: bool) -> Commandeer:
    return Commandeer(
        id=5, incident_id=7, person_id=LINUS.id, name=LINUS.name, why=why,
        requested_by_id=ADA.id, requested_by_name=ADA.name,
        status=CommandeerStatus.JOINING if answered else CommandeerStatus.PENDING,
        requested_at=NOW - dt.timedelta(minutes=2), answered_at=NOW if answered else None,
    )


def _joined(request: Commandeer) -> Commandeer:
    request.joined_room_at = NOW
    return request


def _help_cards() -> list[GalleryCard]:
    bot = TeamsBot(Services(renderer=Renderer(bot_id="28:bot"), policy=Policy()), all_routes())
    return [
        GalleryCard("help", "help: every command", bot.help_card(
            intro="Mention me with one of these commands:")),
    ]


def _incident_cards() -> list[GalleryCard]:
    fresh = _incident()
    pending = (_handover(HandoverStatus.PENDING, to=LINUS, role="investigator", from_name=None),
               _handover(HandoverStatus.PENDING, to=GRACE, role="assistant", from_name=None))
    return [
        GalleryCard("incident-new", "the live incident card just after declare",
                    incident_cards.incident_card(_picture(fresh, pending=pending), now=NOW)),
        GalleryCard("incident-resolved", "the live card with roles, room, impact, update",
                    incident_cards.incident_card(_picture(_busy_incident(LONG_TITLE), full=True),
                                                 now=NOW)),
        GalleryCard("incident-hostile", "the live card with hostile title and update",
                    incident_cards.incident_card(_picture(_incident(
                        title=HOSTILE[:200], last_update=HOSTILE, impact=HOSTILE,
                        declared_by_name=LONG_NAME, room_note=HOSTILE,
                        last_update_at=NOW)), now=NOW)),
        GalleryCard("incident-in-room", "the live card with who is in the Zoom room (role "
                    "holders first, hostile names)",
                    incident_cards.incident_card(_picture(_busy_incident(LONG_TITLE), full=True),
                                                 now=NOW, room=InRoom((
                                                     ("Investigator", LONG_NAME),
                                                     ("Commander", GRACE.name),
                                                     (None, HOSTILE[:256]), (None, "Sam"),
                                                     (None, "Kim")), ever=True))),
        GalleryCard("incident-room-empty", "the live card once its room reports attendance",
                    incident_cards.incident_card(_picture(fresh), now=NOW,
                                                 room=InRoom((), ever=False))),
        GalleryCard("incident-unbroken", "the live card with an unbroken 200-character title",
                    incident_cards.incident_card(_picture(_incident(title=UNBROKEN[:200])),
                                                 now=NOW)),
        GalleryCard("status", "status: card plus hypotheses, tasks, latest events",
                    incident_cards.status_card(_picture(_busy_incident(HOSTILE[:200]),
                                                        full=True))),
        GalleryCard("status-largest", "status with 30 hypotheses and tasks, all texts at "
                    "their limits", _largest_status()),
        GalleryCard("list-empty", "list with no open incidents", incident_cards.list_card(
            [])),
        GalleryCard("list", "list of open incidents", incident_cards.list_card(
            [_busy_incident("Checkout returns 500"), _incident(title=HOSTILE[:200], number=43),
             _incident(title=LONG_TITLE, number=44, severity=4)])),
    ]


def _role_cards() -> list[GalleryCard]:
    incident = _incident(title=LONG_TITLE)
    result = [
        GalleryCard("role-request", "role request with Accept/Decline",
                    incident_cards.role_request_card(_handover(HandoverStatus.PENDING), incident)),
        GalleryCard("role-request-open", "role request for an open role, hostile title",
                    incident_cards.role_request_card(
                        _handover(HandoverStatus.PENDING, from_name=None, role="investigator"),
                        _incident(title=HOSTILE[:200]))),
        GalleryCard("role-request-oncall", "role request from the on-call defaults",
                    incident_cards.role_request_card(_handover(
                        HandoverStatus.PENDING, role="investigator", to=ADA, from_name=GRACE.name,
                        reason="primary on-call for db",
                        next_candidates=[{"id": LINUS.id, "name": LINUS.name, "aad": None,
                                          "why": "secondary on-call for db"}]), incident)),
        GalleryCard("role-anyone", "Be the Commander: anyone may take it",
                    incident_cards.role_request_card(_anyone(HandoverStatus.PENDING), incident)),
        GalleryCard("role-anyone-taken", "Be the Commander after someone took it",
                    incident_cards.role_request_card(_anyone(HandoverStatus.ACCEPTED), incident)),
    ]
    for status in (HandoverStatus.ACCEPTED, HandoverStatus.DECLINED, HandoverStatus.EXPIRED,
                   HandoverStatus.SUPERSEDED):
        result.append(GalleryCard(
            f"role-{status.value}", f"role request after it was {status.value}",
            incident_cards.role_request_card(_handover(status), incident)))
    return result


def _direct_cards() -> list[GalleryCard]:
    incident = _busy_incident("Checkout returns 500 for EU customers")
    return [
        GalleryCard("commandeer", "1:1 request to join, with a reason and thread link",
                    incident_cards.commandeer_card(_commandeer(why=HOSTILE, answered=False),
                                                   incident)),
        GalleryCard("commandeer-answered", "1:1 request after the answer",
                    incident_cards.commandeer_card(_commandeer(why=None, answered=True),
                                                   _incident(card_activity_id=None))),
        GalleryCard("commandeer-joined", "1:1 request after they joined the room",
                    incident_cards.commandeer_card(_joined(_commandeer(why=None, answered=True)),
                                                   incident)),
        GalleryCard("checkin", "the Investigator's check-in",
                    incident_cards.checkin_card(_incident(title=LONG_TITLE))),
        GalleryCard("checkin-answered", "the check-in after the answer",
                    incident_cards.checkin_card(incident, answered="Thanks. Keep going.")),
        GalleryCard("declare-form", "the form `declare` alone shows",
                    incident_cards.declare_form_card()),
    ]


def _outward_cards() -> list[GalleryCard]:
    """Cards about what leaves the incident: customer updates and filed messages."""
    incident = _busy_incident(HOSTILE[:200])
    hostile_message = journal.FiledMessage(text=HOSTILE, author=RAW_HOSTILE[:60])
    return [
        GalleryCard("external-first", "the first customer update: public title asked for",
                    incident_cards.public_form_card(
                        incident, text_value=HOSTILE, status="investigating", closing=False,
                        components=("API", "Checkout", "Dashboard"))),
        GalleryCard("external-mitigated", "the customer update offered at mitigation",
                    incident_cards.public_form_card(
                        _incident(), text_value="", status="monitoring", closing=True,
                        components=(), public_title="Some payments are delayed")),
        GalleryCard("external-closing", "the closing customer update",
                    incident_cards.public_form_card(
                        incident, text_value="", status="resolved", closing=True,
                        components=(), public_title=HOSTILE[:120])),
        GalleryCard("file-message", "the message action's dialog",
                    file_message.file_card([incident, _incident()], selected=incident,
                                              message=hostile_message)),
    ]


def _alert(state: AlertState = AlertState.OPEN, *, status: str = "firing",
           summary: str = "BlackBox Probe Failure: https://server.example.org") -> AlertGroup:
    return AlertGroup(
        id=7, source="prom", group_key='{}:{alertname="ProbeFailure"}', status=status,
        state=state, summary=summary, severity=1, squad="db", tenant_id="t", team_id="team",
        channel_id="c", service_url="https://smba.example/", dismissed_by=LONG_NAME,
        alerts=[{"status": status, "startsAt": "2026-11-27T09:40:00Z", "fingerprint": "1a30",
                 "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=up"}] * 3,
        external_url="http://alertmanager.example.org:9093", first_at=DECLARED, last_at=NOW)


def _alert_cards() -> list[GalleryCard]:
    """An alert's card in the incidents channel, and what became of its offer."""
    return [
        GalleryCard("alert-firing", "an alert offering an incident",
                    incident_cards.alert_card(_alert(summary=HOSTILE[:200]), None)),
        GalleryCard("alert-declared", "the alert after Declare",
                    incident_cards.alert_card(_alert(AlertState.DECLARED), _incident())),
        GalleryCard("alert-dismissed", "the alert after Dismiss",
                    incident_cards.alert_card(_alert(AlertState.DISMISSED), None)),
        GalleryCard("alert-resolved", "the alert resolved before anyone declared",
                    incident_cards.alert_card(_alert(status="resolved"), None)),
    ]


def gallery() -> list[GalleryCard]:
    """Every card, named uniquely."""
    cards = (_help_cards() + _incident_cards() + _role_cards() + _direct_cards()
             + _outward_cards() + _alert_cards())
    assert len({c.name for c in cards}) == len(cards)
    return cards
