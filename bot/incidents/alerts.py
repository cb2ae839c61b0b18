"""Incidents from alerts: what a notification from Alertmanager or Grafana does, and what
pressing its card's buttons does (docs/alerts.md).

A notification is about one alert group (its `groupKey`). The first firing notification
of a group that a rule matches posts a card in the incidents channel, "Declare an
incident from this alert?", and stores an `AlertGroup`; later ones update that card. One
press of "Declare" declares the incident with the rule's severity and squad, links the
alert on its timeline and marks the group declared (a conditional update: a second press
declares nothing). A resolved notification is noted on the incident's timeline and in
its thread, or, with no incident, shown on the card.

Both senders post the same shape (Alertmanager's webhook_config, version "4":
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config; Grafana's
webhook contact point, version "1", which adds `orgId`, `title`, `state` and `message`:
https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import CommandError, NotFoundError
from bot.incidents import notices as say
from bot.incidents import oncall
from bot.incidents.alert_rules import AlertRules, AlertSource, fill_title
from bot.incidents.context import Ctx
from bot.incidents.declare import Declaration, declare
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import MAX_TITLE, clip
from bot.incidents.timeline import record
from bot.store.alert_models import AlertGroup, AlertState
from bot.store.incident_models import Incident, IncidentStatus, TeamSettings

# What each kind sends as `version` (the payload's own version, not the product's).
VERSIONS = {"alertmanager": "4", "grafana": "1"}
# Bounds on what is kept: a group key is Alertmanager's route and labels, far shorter.
MAX_GROUP_KEY = 1024
MAX_ALERTS_KEPT = 10
MAX_URL = 1024
FIRING, RESOLVED = "firing", "resolved"


class BadNotification(ValueError):
    """The body is not a notification of this kind; the message says what is wrong."""


class NotSetUp(Exception):
    """There is no incidents channel to post the card in (nothing was stored)."""


@dataclass(frozen=True)
class Alert:
    """One alert of a notification."""

    status: str
    starts_at: str
    generator_url: str
    fingerprint: str


@dataclass(frozen=True)
class Notification:
    """One webhook notification about one alert group."""

    status: str
    group_key: str
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    title: str
    alerts: tuple[Alert, ...]

    def summary(self, template: str) -> str:
        """The rule's title with this notification's fields, else the alert's name."""
        picked = fill_title(template, {"commonAnnotations": self.common_annotations,
                                       "commonLabels": self.common_labels,
                                       "groupLabels": self.group_labels},
                            {"receiver": self.receiver, "title": self.title})
        fallback = (self.common_labels.get("alertname") or self.group_labels.get("alertname")
                    or self.title or "Alert")
        return clip(picked or fallback, MAX_TITLE)


def _strings(data: dict[str, Any], key: str, where: str = "") -> dict[str, str]:
    value = data.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadNotification(f"'{where}{key}' must be an object of strings")
    return {k[:128]: v[:1024] for k, v in value.items()}


def _text(data: dict[str, Any], key: str, where: str = "", *, required: bool = False,
          limit: int = MAX_URL) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadNotification(f"'{where}{key}' must be a non-empty string" if required
                              else f"'{where}{key}' must be a string")
    if len(value) > limit:
        raise BadNotification(f"'{where}{key}' is longer than {limit} characters")
    return value


def _link(value: str) -> str:
    """A link the card may open: http(s) only."""
    return value if value.startswith(("https://", "http://")) else ""


def parse(kind: str, data: Any) -> Notification:
    """The notification in `data` (parsed JSON), or `BadNotification` naming the problem."""
    if not isinstance(data, dict):
        raise BadNotification("body must be a JSON object")
    version = data.get("version")
    if version != VERSIONS[kind]:
        raise BadNotification(f"'version' is {version!r}: {kind} webhooks send "
                              f"{VERSIONS[kind]!r}")
    status = data.get("status")
    if status not in (FIRING, RESOLVED):
        raise BadNotification(f"'status' must be \"firing\" or \"resolved\", not {status!r}")
    group_key = _text(data, "groupKey", required=True, limit=MAX_GROUP_KEY)
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise BadNotification("'alerts' must be a list of objects")
    read = []
    for n, alert in enumerate(alerts):
        where = f"alerts[{n}]."
        one_status = alert.get("status")
        if one_status not in (FIRING, RESOLVED):
            raise BadNotification(f"'{where}status' must be \"firing\" or \"resolved\"")
        _strings(alert, "labels", where)
        _strings(alert, "annotations", where)
        read.append(Alert(one_status, _text(alert, "startsAt", where, limit=64),
                          _link(_text(alert, "generatorURL", where)),
                          _text(alert, "fingerprint", where, limit=64)))
    return Notification(
        status=status, group_key=group_key, receiver=_text(data, "receiver", limit=256),
        group_labels=_strings(data, "groupLabels"), common_labels=_strings(data, "commonLabels"),
        common_annotations=_strings(data, "commonAnnotations"),
        external_url=_link(_text(data, "externalURL")),
        title=_text(data, "title", limit=4000) if kind == "grafana" else "",
        alerts=tuple(read))


@dataclass(frozen=True)
class Received:
    """What a notification did, for the sender's log: `acted` False when it changed nothing."""

    acted: bool
    said: str


async def receive(ctx: Ctx, source: AlertSource, rules: AlertRules,
                  note: Notification) -> Received:
    """Post, update or note what `note` says about its group (in `ctx`'s transaction)."""
    group = await AlertGroup.get_or_none(source=source.name, group_key=note.group_key)
    if group is not None and note.status == FIRING and await _over(group):
        # The same alert group fires again after its incident was closed: a new occurrence,
        # offered on a card of its own. The old group keeps its history under another key.
        group.group_key = f"{note.group_key[:1000]}#{group.id}"
        await group.save(update_fields=["group_key"])
        group = None
    if group is None:
        if note.status == RESOLVED:
            return Received(False, "resolved, and no card was posted for this group: nothing to do")
        labels = {**note.group_labels, **note.common_labels}
        rule = rules.rule_for(source.name, labels)
        if rule is None:
            return Received(False, "no rule matches this alert group: nothing was posted")
        team = await _team(ctx.origin.tenant_id, rule.team)
        group = await AlertGroup.create(
            source=source.name, group_key=note.group_key, status=FIRING,
            summary=note.summary(rule.title), severity=rule.severity, squad=rule.squad,
            tenant_id=team.tenant_id, team_id=team.team_id,
            channel_id=team.incidents_channel_id or "", service_url=team.service_url,
            alerts=_kept(note), external_url=note.external_url or None,
            first_at=ctx.now, last_at=ctx.now)
        ctx.tell(say.AlertCard(group.id, new=True))
        return Received(True, f"posted a card offering to declare "
                              f"{ctx.policy.severity.name(rule.severity)}: "
                              f"{group.summary}")
    was = group.status
    group.status, group.last_at = note.status, ctx.now
    group.alerts, group.external_url = _kept(note), note.external_url or group.external_url
    if note.status == FIRING and was == RESOLVED and group.state is AlertState.DISMISSED:
        group.state, group.dismissed_by = AlertState.OPEN, None  # offered again
    await group.save()
    incident = await Incident.get_or_none(id=group.incident_id) if group.incident_id else None
    if incident is not None and was != note.status:
        what = "resolved" if note.status == RESOLVED else "firing again"
        text = f"Alert {what}: {group.summary} ({source.name})"
        await record(ctx, incident, EventKind.ALERT_RESOLVED if note.status == RESOLVED
                     else EventKind.ALERT, text, _link_data(group, note))
        ctx.tell(say.ThreadPost(incident.id, text + "."))
    ctx.tell(say.AlertCard(group.id))
    if incident is not None:
        return Received(True, f"noted on INC-{incident.number}"
                              if was != note.status else "card updated")
    return Received(True, "card updated")


async def _over(group: AlertGroup) -> bool:
    """The group was declared as an incident that is closed now."""
    return group.incident_id is not None and await Incident.filter(
        id=group.incident_id, status=IncidentStatus.CLOSED).exists()


async def _team(tenant_id: str, team_id: str | None) -> TeamSettings:
    """The team whose incidents channel gets the card: the rule's, else the one set up."""
    teams = TeamSettings.filter(incidents_channel_id__isnull=False)
    if tenant_id:
        teams = teams.filter(tenant_id=tenant_id)
    if team_id:
        teams = teams.filter(team_id=team_id)
    found = await teams.limit(2)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotSetUp("no incidents channel is set up" + (f" for team {team_id}" if team_id
                       else "") + ": run `@incident setup` in the incidents channel first")
    raise NotSetUp("several teams have an incidents channel: name one with `team` in the rule, "
                   "or set ALERTS_TENANT_ID (docs/alerts.md)")


def _kept(note: Notification) -> list[dict[str, Any]]:
    return [{"status": a.status, "startsAt": a.starts_at, "generatorURL": a.generator_url,
             "fingerprint": a.fingerprint} for a in note.alerts[:MAX_ALERTS_KEPT]]


def _link_data(group: AlertGroup, note: Notification | None = None) -> dict[str, Any]:
    links = sorted({str(a["generatorURL"]) for a in group.alerts if a.get("generatorURL")})
    return {"source": group.source, "groupKey": group.group_key,
            "status": note.status if note else group.status,
            "links": links, "externalURL": group.external_url}


async def alert_group(ctx: Ctx, group_id: int) -> AlertGroup:
    """The group a card names, in the tenant the press comes from."""
    group = await AlertGroup.get_or_none(id=group_id, tenant_id=ctx.origin.tenant_id)
    if group is None:
        raise NotFoundError("This card refers to an alert that does not exist.")
    return group


async def declare_from(ctx: Ctx, group_id: int) -> Incident:
    """Declare the incident the card offers, once: the first press wins."""
    group = await alert_group(ctx, group_id)
    await _still_open(group)
    # Conditional: of two presses at once, one updates the row and the other finds none.
    if not await AlertGroup.filter(id=group.id, state=AlertState.OPEN).update(
            state=AlertState.DECLARED):
        await _still_open(await AlertGroup.get(id=group.id))
        raise CommandError("Someone else just answered this alert's card.")
    squad = group.squad if group.squad and await oncall.is_squad(group.tenant_id,
                                                                  group.squad) else None
    incident = await declare(ctx, Declaration(title=group.summary, severity=group.severity,
                                              squad=squad, squad_in_title=False))
    await AlertGroup.filter(id=group.id).update(incident_id=incident.id)
    group.incident_id = incident.id
    links = _link_data(group)
    shown = " ".join(links["links"][:3]) or group.external_url or ""
    missing = (f" (squad {group.squad} is not set up, so no on-call was asked)"
               if group.squad and squad is None else "")
    await record(ctx, incident, EventKind.ALERT,
                 f"Declared from the {group.source} alert {group.summary} ({group.status})"
                 f"{': ' + shown if shown else ''}{missing}", links)
    ctx.tell(say.AlertCard(group.id))
    return incident


async def dismiss(ctx: Ctx, group_id: int) -> None:
    """Say it is not an incident: the card stops offering (until it fires again after
    being resolved)."""
    group = await alert_group(ctx, group_id)
    await _still_open(group)
    if not await AlertGroup.filter(id=group.id, state=AlertState.OPEN).update(
            state=AlertState.DISMISSED, dismissed_by=ctx.actor.name):
        await _still_open(await AlertGroup.get(id=group.id))
    ctx.tell(say.AlertCard(group.id))


async def _still_open(group: AlertGroup) -> None:
    if group.state is AlertState.DECLARED:
        incident = await Incident.get_or_none(id=group.incident_id) if group.incident_id \
            else None
        raise CommandError(f"This alert was already declared as INC-{incident.number}."
                           if incident else "This alert is already being declared.")
    if group.state is AlertState.DISMISSED:
        raise CommandError(f"{group.dismissed_by or 'Someone'} already dismissed this alert.")
    if group.status == RESOLVED:
        raise CommandError("This alert resolved before anyone declared an incident. If it "
                           "still is one, declare it: `@incident declare <title>`.")
