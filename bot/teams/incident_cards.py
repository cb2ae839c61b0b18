"""The cards people see during an incident: the live incident card, role requests,
commandeer and check-in messages, the declare form, status and list."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from bot.incidents.attendance import InRoom
from bot.incidents.handovers import Candidate, is_open
from bot.incidents.lifecycle import duration
from bot.incidents.limits import clip
from bot.incidents.people import Person
from bot.incidents.queries import Picture
from bot.incidents.roles import Role, holder
from bot.incidents.severity import BUILT_IN, SeverityScale
from bot.store.alert_models import AlertGroup, AlertState
from bot.store.incident_models import (
    Commandeer,
    Handover,
    HandoverStatus,
    Incident,
    ReviewState,
)
from bot.teams.cards import Card, card, execute, facts, moment, refreshed, text, with_mentions
from bot.teams.markdown import literal

_STATUS = {"investigating": "Investigating", "mitigated": "Mitigated", "resolved": "Resolved",
           "closed": "Closed"}
_CRITERIA = [
    "There may be visible impact for customers",
    "You need to involve a second team/squad to fix the problem",
    "The issue is unresolved after an hour of concentrated analysis",
    "There may be significant financial impact",
]


# `status` lists at most this many open hypotheses and tasks, each cut to this length:
# with every text at its 4000-character limit the reply grew past 500 KB, and Teams
# refuses bot messages over 40 KB (UTF-16) with 413 MessageSizeTooBig.
STATUS_ITEMS = 10
STATUS_ITEM_CHARS = 280
# The card verbs Teams sends to refresh a card someone opens (`bot.teams.commands.refresh`).
INCIDENT_REFRESH = "incident.refresh"
ROLE_REFRESH = "handover.refresh"
# The buttons of an alert's card (`bot.teams.commands.alerts`).
ALERT_DECLARE = "alert.declare"
ALERT_DISMISS = "alert.dismiss"


def reference(incident: Incident) -> str:
    """"INC-42"."""
    return f"INC-{incident.number}"


def _when(at: dt.datetime | None) -> str:
    return moment(at) if at else "-"


def thread_link(incident: Incident) -> str | None:
    """A link that opens the incident's thread in Teams, once the thread exists."""
    if not incident.card_activity_id:
        return None
    if incident.private:
        # A chat message's deep link (Teams: "deep link to a chat message"); none into the
        # declarer's 1:1 (a fallback), which only they see anyway.
        if not (incident.thread_id or "").startswith("19:"):
            return None
        return (f"https://teams.microsoft.com/l/message/{quote(incident.thread_id or '')}/"
                f"{incident.card_activity_id}?context=%7B%22contextType%22%3A%22chat%22%7D")
    return (f"https://teams.microsoft.com/l/message/{quote(incident.channel_id)}/"
            f"{incident.card_activity_id}?tenantId={quote(incident.tenant_id)}"
            f"&parentMessageId={incident.card_activity_id}")


def room_line(incident: Incident) -> str:
    """The Incident Command Room as the card shows it."""
    if incident.room_url:
        return f"[Join the Incident Command Room]({incident.room_url})"
    return literal(incident.room_note or "No video room is configured yet")


# The card names at most this many people in the room (role holders always), then counts.
IN_ROOM_NAMED = 3


def in_room_line(room: InRoom) -> str:
    """"In the room: Investigator Ada Lovelace, Commander Grace Hopper, +2 others"; for a
    Teams room, which reports sessions only once they end, "Attended the room: ..."."""
    if room.attended and not room.people:
        return "Attendance: Teams reports who attended after a session ends"
    if not room.people:
        return "Nobody in the room now" if room.ever else "Nobody in the room yet"
    named = [f"{role} {literal(name)}" if role else literal(name)
             for role, name in room.people if role]
    named += [literal(name) for role, name in room.people if not role][
        :max(0, IN_ROOM_NAMED - len(named))]
    rest = len(room.people) - len(named)
    if rest:
        named.append(f"+{rest} other{'s' if rest > 1 else ''}")
    return ("Attended the room: " if room.attended else "In the room: ") + ", ".join(named)


def _role_line(picture: Picture, role: Role) -> str:
    incident = picture.incident
    current = holder(incident, role)
    name = literal((current.name if current else "") or "nobody yet")
    pending = [h for h in picture.pending if h.role == role.value]
    if any(is_open(h) for h in pending):
        return f"{name} (anyone may take it on the card in the thread)"
    asked = [literal(h.to_name) for h in pending]
    return f"{name} (asked: {', '.join(asked)}, not yet accepted)" if asked else name


def runbook_line(incident: Incident) -> str | None:
    """The runbook of the squad the incident was declared for, as a link that opens (a
    checked https link, left a bare link by `literal`), or None."""
    return f"📖 **Runbook:** {literal(incident.runbook)}" if incident.runbook else None


def criteria_lines(scale: SeverityScale, level: int, *, most: int = 2) -> str:
    """"SEV2 means: ..." with at most `most` of the level's criteria."""
    shown = scale.level(level).criteria[:most]
    return f"{literal(scale.name(level))} means: " + "; ".join(literal(c) for c in shown)


def incident_card(picture: Picture, *, now: dt.datetime | None = None,
                  room: InRoom | None = None, scale: SeverityScale = BUILT_IN) -> Card:
    """The one live card per incident, updated in place on every change.

    It says no age ("12 min ago"): nothing would update it as time passes. Times are in
    TextBlocks (`moment`), and Teams asks for the current card when the people working the
    incident open it (`refresh`). `now` is not needed any more (callers still pass it).
    `room`: who is in the room now, when its attendance is followed (else nothing is said).
    """
    incident = picture.incident
    rows = [
        ("Severity", scale.name(incident.severity)),
        ("Status", _STATUS[incident.status.value]),
        ("Investigator", _role_line(picture, Role.INVESTIGATOR)),
        ("Commander", _role_line(picture, Role.COMMANDER)),
    ]
    helpers = [literal(p.name) for p in picture.assistants]
    helpers += [f"{literal(h.to_name)} (asked)" for h in picture.pending if h.role == Role.ASSISTANT.value]
    if helpers:
        rows.append(("Also investigating", ", ".join(helpers)))
    if incident.review_state is not ReviewState.PENDING:
        rows.append(("Review", incident.review_state.value))
    body = [
        text(f"{reference(incident)} · {literal(scale.name(incident.severity))} · "
             f"{_STATUS[incident.status.value]}", weight="Bolder", color="Attention"),
        text(literal(incident.title), size="Large", weight="Bolder"),
        facts(rows),
        *[text(line, spacing="Small") for line in _times(picture)],
        text(f"📹 {room_line(incident)}"),
    ]
    if room is not None:
        body.append(text(in_room_line(room), spacing="Small", isSubtle=True))
    runbook = runbook_line(incident)
    if runbook:
        body.append(text(runbook))
    if incident.impact:
        body.append(text(f"**Impact:** {literal(incident.impact)}"))
    update = literal(incident.last_update or "No status update yet")
    when = f" ({_when(incident.last_update_at)})" if incident.last_update_at else ""
    body.append(text(f"**Last update{when}:** {update}", isSubtle=not incident.last_update))
    return refreshed(card(body), INCIDENT_REFRESH, {"incidentId": incident.id},
                     _involved(picture))


def _times(picture: Picture) -> list[str]:
    """The card's moments, one line each: TextBlocks, where Teams expands date functions."""
    incident = picture.incident
    lines = [f"**Declared:** {_when(incident.declared_at)} by "
             f"{literal(incident.declared_by_name)}"]
    if incident.mitigated_at:
        lines.append(f"**Mitigated:** {_when(incident.mitigated_at)} (after "
                     f"{duration(incident.declared_at, incident.mitigated_at)})")
    if incident.resolved_at:
        lines.append(f"**Resolved:** {_when(incident.resolved_at)}")
    if picture.public is not None:
        lines.append(f"**Customers told:** {picture.public.status.value} since "
                     f"{_when(picture.public.published_at)}")
    return lines


def _involved(picture: Picture) -> list[str]:
    """Whose Teams refreshes the card by itself: the role holders, the extra investigators,
    those asked to take a role, the declarer (`refreshed` keeps the first 60)."""
    incident = picture.incident
    return [i for i in (incident.investigator_id, incident.commander_id) if i] + [
        p.id for p in picture.assistants] + [
        h.to_id for h in picture.pending if not is_open(h)] + [incident.declared_by_id]


def role_request_card(handover: Handover, incident: Incident,
                      scale: SeverityScale = BUILT_IN) -> Card:
    """Asks one person (or, with nobody to ask, anyone) to take a role: why them, and what
    happens if they do not answer; after the answer it shows the outcome. It says what the
    incident's severity means, and the Investigator's says the squad's runbook."""
    role = Role(handover.role)
    pending = handover.status is HandoverStatus.PENDING
    body = [text(f"{reference(incident)} · {literal(scale.name(incident.severity))}: "
                 f"{literal(incident.title)}", weight="Bolder"),
            text(criteria_lines(scale, incident.severity), isSubtle=True, spacing="Small")]
    runbook = runbook_line(incident)
    if runbook and role is Role.INVESTIGATOR:
        body.append(text(runbook, spacing="Small"))
    people = [handover.to_id, handover.requested_by_id, handover.from_id or ""]
    data = {"handoverId": handover.id, "incidentId": incident.id}
    if is_open(handover):
        # Whoever took it (an open request replaced or withdrawn was taken by nobody).
        taker = [handover.to_id] if handover.status is HandoverStatus.ACCEPTED else []
        return refreshed(_open_role_card(handover, incident, role, body), ROLE_REFRESH, data,
                         taker + [handover.requested_by_id])
    asked = "please take" if pending else "you were asked to take"
    body.append(text(f"<at>{handover.to_name}</at>, {asked} the **{role.title}** role."))
    body.append(text(f"**Why you:** {literal(_why(handover))}"))
    actions = None
    if pending:
        body.append(text(_unanswered(handover), isSubtle=True))
        actions = [execute("Accept", "handover.accept", data, style="positive"),
                   execute("Decline", "handover.decline", data)]
    else:
        body.append(text(_handover_outcome(handover), weight="Bolder"))
    return refreshed(with_mentions(card(body, actions), [_to(handover)]), ROLE_REFRESH, data,
                     people)


def _open_role_card(handover: Handover, incident: Incident, role: Role,
                    body: list[dict[str, Any]]) -> Card:
    """"Be the Commander": anyone in the channel may take the role; the first wins."""
    if handover.status is not HandoverStatus.PENDING:
        body.append(text(_handover_outcome(handover), weight="Bolder"))
        return card(body)
    body += [
        text(f"Nobody is the **{role.title}** yet, and nobody is on call to ask. "
             "Can you take it? The first to press is the Commander."),
        text("The Commander coordinates: keeps the Investigator free to investigate, "
             "talks to stakeholders, and commandeers help.", isSubtle=True),
    ]
    data = {"handoverId": handover.id, "incidentId": incident.id}
    return card(body, [execute(f"I'll be the {role.title}", "handover.accept", data,
                               style="positive")])


def _why(handover: Handover) -> str:
    """Why this person was asked: the on-call reason, or who named them."""
    if handover.reason:
        return handover.reason[:1].upper() + handover.reason[1:] + "."
    return f"Named by {handover.requested_by_name}."


def _unanswered(handover: Handover) -> str:
    """What happens if the person asked does not answer in time."""
    within = ""
    if handover.answer_by is not None:
        within = f" within {duration(handover.requested_at, handover.answer_by)}"
    nexts = [Candidate.from_json(c) for c in handover.next_candidates or []]
    if nexts:
        why = f" ({nexts[0].why})" if nexts[0].why else ""
        then = f"{literal(nexts[0].person.name)}{why} is asked instead"
    elif handover.requested_by_id:
        then = f"the request expires and {literal(handover.requested_by_name)} is told"
    else:
        then = "the request expires"
    keeps = (f"{literal(handover.from_name)} keeps the role until someone accepts."
             if handover.from_name else "The role stays open until someone accepts.")
    return f"If you don't answer{within}, {then}. {keeps}"


def _to(handover: Handover) -> Person:
    return Person(handover.to_id, handover.to_name, handover.to_aad)


def _handover_outcome(handover: Handover) -> str:
    when, name = _when(handover.answered_at), literal(handover.to_name)
    return {
        HandoverStatus.ACCEPTED: (f"✅ Taken by {name} at {when}." if is_open(handover)
                                  else f"✅ Accepted by {name} at {when}."),
        HandoverStatus.DECLINED: f"Declined by {name} at {when}.",
        HandoverStatus.EXPIRED: f"Expired at {when} without an answer.",
        HandoverStatus.SUPERSEDED: ("No longer needed." if is_open(handover)
                                    else "Replaced by a newer request."),
    }.get(handover.status, handover.status.value)


def commandeer_card(request: Commandeer, incident: Incident,
                    scale: SeverityScale = BUILT_IN) -> Card:
    """The 1:1 message to someone the Commander needs."""
    rows = [("Severity", scale.name(incident.severity)),
            ("Asked by", literal(request.requested_by_name))]
    body = [
        text(f"You are needed on {reference(incident)}", weight="Bolder", size="Medium"),
        text(literal(incident.title), weight="Bolder"),
        facts(rows),
    ]
    if request.why:  # free text: below the facts, where a long reason has the full width
        body.append(text(f"**Why:** {literal(request.why)}"))
    body.append(text(f"📹 {room_line(incident)}"))
    link = thread_link(incident)
    if link:
        body.append(text(f"[Open the incident thread]({link})"))
    data = {"commandeerId": request.id, "incidentId": incident.id}
    actions: list[dict[str, Any]] | None = [
        execute("I'm joining", "commandeer.join", data, style="positive"),
        execute("I can't", "commandeer.decline", data)]
    if request.answered_at:
        actions = None
        body.append(text(f"You answered: {request.status.value} at {_when(request.answered_at)}.",
                         weight="Bolder"))
    if request.joined_room_at:
        actions = None
        body.append(text(f"✅ You joined the room at {_when(request.joined_room_at)}.",
                         weight="Bolder"))
    return card(body, actions)


def checkin_card(incident: Incident, *, answered: str | None = None) -> Card:
    """The Investigator's private check-in."""
    body = [
        text(f"Check-in: {reference(incident)} · {literal(incident.title)}", weight="Bolder"),
        text("How are you doing? If you feel panicky or overwhelmed, ask for support: "
             "the Incident Commander is told at once."),
    ]
    if answered:
        return card(body + [text(answered, weight="Bolder")])
    data = {"incidentId": incident.id}
    return card(body, [execute("I'm OK", "checkin.ok", data, style="positive"),
                       execute("I need support", "checkin.help", data, style="destructive")])


def declare_form_card(*, private: bool = False, scale: SeverityScale = BUILT_IN) -> Card:
    """The form `declare` alone answers with (`private`: offers a private incident), with
    each severity and what it means."""
    choices = [{"title": label, "value": str(level)} for level, label in scale.labels.items()]
    body = [
        text("Declare an incident", weight="Bolder", size="Medium"),
        text("It is an incident if any of these is true:", isSubtle=True),
        text("\n".join(f"- {c}" for c in _CRITERIA)),
        text("Declare early: a simple fix is better than a larger incident later. "
             "If unsure of the severity, assume the higher one.", isSubtle=True),
        text("**Severities**", spacing="Medium"),
        *[text(f"**{literal(level.name)}**: "
               + "; ".join(literal(c) for c in level.criteria), spacing="Small")
          for level in scale.levels],
        {"type": "Input.Text", "id": "title", "label": "Title", "isRequired": True,
         "errorMessage": "A title is required", "maxLength": 200},
        {"type": "Input.ChoiceSet", "id": "severity", "label": "Severity", "value": "1",
         "choices": choices},
        {"type": "Input.Text", "id": "description", "label": "What is happening",
         "isMultiline": True, "maxLength": 4000},
        {"type": "Input.Text", "id": "affected", "label": "Affected customers or systems",
         "isMultiline": True, "maxLength": 4000},
    ]
    body += [
        {"type": "Input.Toggle", "id": "private", "title": "Private: a group chat of the "
         "people involved; the incidents channel sees only its number and severity",
         "value": "false", "valueOn": "true", "valueOff": "false"},
    ] if private else []
    return card(body, [execute("Declare", "declare.submit", {}, style="destructive")])


def status_card(picture: Picture, scale: SeverityScale = BUILT_IN) -> Card:
    """`status`: the live card plus open hypotheses, tasks and the latest events."""
    result = incident_card(picture, scale=scale)
    # An answer someone asked for, as it was then: refreshing it would turn it into the
    # live card, without the hypotheses and tasks asked for.
    del result["refresh"]
    body = result["body"]
    # FactSets, not Markdown lists: a list renumbers from its first item (open items 3 and
    # 5 showed as 3 and 4), and single newlines join lines into one paragraph.
    if picture.hypotheses:
        body.append(text("**Open hypotheses**"))
        body.append(facts(_first_items([(f"{h.number}.", literal(_short(h.text)))
                                        for h in picture.hypotheses])))
    if picture.tasks:
        body.append(text("**Open tasks**"))
        body.append(facts(_first_items([
            (f"{t.number}.",
             f"{literal(_short(t.text))} ({literal(t.assignee_name or 'unassigned')})")
            for t in picture.tasks])))
    if picture.recent:  # TextBlocks, not a FactSet: each starts with its time (`moment`)
        body.append(text("**Latest**"))
        body += [text(f"{moment(e.at)} · {literal(_short(e.text))}", spacing="Small")
                 for e in picture.recent]
    return result


def _short(value: str) -> str:
    return clip(value, STATUS_ITEM_CHARS)


def _first_items(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    shown = rows[:STATUS_ITEMS]
    if len(rows) > STATUS_ITEMS:
        shown.append(("…", f"and {len(rows) - STATUS_ITEMS} more"))
    return shown


def list_card(incidents: list[Incident], scale: SeverityScale = BUILT_IN) -> Card:
    """`list`: open incidents, most severe first."""
    if not incidents:
        return card([text("No open incidents. 🎉")])
    # Three lines each rather than a FactSet, whose narrow title column broke "INC-42 SEV1"
    # over three lines next to long titles.
    body = [text("Open incidents", weight="Bolder", size="Medium")]
    for i in incidents:
        body += [
            text(f"{reference(i)} · {literal(scale.name(i.severity))} · "
                 f"{_STATUS[i.status.value]}",
                 weight="Bolder", color="Attention", spacing="Medium", separator=True),
            text(literal(i.title), spacing="None"),
            text(f"Commander: {literal(i.commander_name or 'none')} · declared "
                 f"{moment(i.declared_at)}", isSubtle=True, spacing="None"),
        ]
    return card(body)


_PUBLIC_STATUSES = [("investigating", "Investigating"), ("identified", "Identified"),
                    ("monitoring", "Monitoring"), ("resolved", "Resolved")]


def public_form_card(incident: Incident, *, text_value: str, status: str, closing: bool,
                     components: tuple[str, ...], public_title: str | None = None) -> Card:
    """What customers will read: asked before the first external update (public title,
    components, status) and as a closing update; nothing is prefilled from internal data."""
    statuses = [{"title": label, "value": value} for value, label in _PUBLIC_STATUSES]
    purpose = ("tell customers" if not closing else "closing update for customers"
               if status == "resolved" else "tell customers the impact has stopped")
    body: list[dict[str, Any]] = [text(f"{reference(incident)}: {purpose}", weight="Bolder",
                                       size="Medium")]
    if public_title is None:
        body += [
            text("Customers see only what you write here: never the internal title, notes "
                 "or names.", isSubtle=True),
            {"type": "Input.Text", "id": "title", "label": "Public title", "value": "",
             "isRequired": True, "errorMessage": "A public title is required",
             "maxLength": 120, "placeholder": "e.g. Some payments are delayed"},
            _components_input(components),
        ]
    else:
        body.append(text(f"Public incident: {literal(public_title)}", isSubtle=True))
    body += [
        {"type": "Input.ChoiceSet", "id": "status", "label": "Status customers see",
         "value": status, "choices": statuses},
        {"type": "Input.Text", "id": "text", "label": "Update for customers", "value": text_value,
         "isMultiline": True, "isRequired": True, "maxLength": 2000,
         "errorMessage": "Write the update customers will read"},
    ]
    return card(body, [execute("Publish", "external.publish", {"incidentId": incident.id},
                               style="positive")])


def _components_input(components: tuple[str, ...]) -> dict[str, Any]:
    if components:
        return {"type": "Input.ChoiceSet", "id": "components", "label": "Affected components",
                "isMultiSelect": True, "value": "",
                "choices": [{"title": c, "value": c} for c in components]}
    return {"type": "Input.Text", "id": "components", "label": "Affected components "
            "(comma-separated)", "value": "", "maxLength": 400}


def alert_card(group: AlertGroup, incident: Incident | None, *,
               scale: SeverityScale = BUILT_IN) -> Card:
    """An alert group's card in the incidents channel: the offer to declare, or what became
    of it (declared as INC-n, dismissed, resolved with no incident)."""
    firing = group.status == "firing"
    count = len(group.alerts)
    body = [
        text("Declare an incident from this alert?" if group.state is AlertState.OPEN
             and firing else "Alert", weight="Bolder", size="Medium"),
        text(literal(group.summary), weight="Bolder"),
        facts([("Source", literal(group.source)),
               ("Status", ("Firing" if firing else "Resolved")
                + (f" ({count} alert{'s' if count != 1 else ''})" if count else "")),
               ("Severity", literal(scale.labels.get(group.severity, scale.name(group.severity)))),
               ("Squad", literal(group.squad) if group.squad else "none named")]),
        text(f"First seen {moment(group.first_at)}, last {moment(group.last_at)}.",
             isSubtle=True),
    ]
    links = [{"type": "Action.OpenUrl", "title": "Open the alert", "url": url}
             for url in dict.fromkeys(a.get("generatorURL") for a in group.alerts
                                      if a.get("generatorURL"))][:1]
    if group.external_url:
        links.append({"type": "Action.OpenUrl", "title": f"Open {literal(group.source)}",
                      "url": group.external_url})
    if group.state is AlertState.DECLARED:
        declared = f"Declared as {reference(incident)}." if incident else "Declared."
        body.append(text(declared + ("" if firing else " The alert has resolved."),
                         weight="Bolder", color="Good"))
        return card(body, links or None)
    if group.state is AlertState.DISMISSED:
        body.append(text(f"Dismissed by {literal(group.dismissed_by or 'someone')}: not an "
                         "incident.", isSubtle=True))
        return card(body, links or None)
    if not firing:
        body.append(text("Resolved, no incident declared.", weight="Bolder"))
        return card(body, links or None)
    data = {"alertGroupId": group.id}
    return card(body, [execute(f"Declare {scale.name(group.severity)}", ALERT_DECLARE, data,
                               style="destructive"),
                       execute("Dismiss", ALERT_DISMISS, data), *links])
