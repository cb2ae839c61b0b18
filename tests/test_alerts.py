"""Incidents from alerts, through the real `/api/alerts/{source}` and `/api/messages`:
Alertmanager (bearer token) and Grafana (HMAC) notifications post a card in the
incidents channel, repeats update it, one press declares, a resolved alert is noted, and
whatever is unknown, unsigned or malformed gets a 4xx and changes nothing."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bot.incidents import alert_rules
from bot.store.alert_models import AlertGroup
from bot.store.incident_models import Incident, IncidentStatus, TimelineEvent
from bot.store.models import OutboxMessage
from tests.bot_process import SCRIPT, bot_env
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.connector import Call, FakeConnector
from tests.scenario import Team, eventually

PROM_TOKEN = "promToken-Vb7nQ2xK9mL4"
GRAFANA_SECRET = "grafanaSecret-Hq3wE8rT1y"
RULES = """\
# Alerts that may become incidents (docs/alerts.md)
[[source]]
name = "prom"
kind = "alertmanager"
token_env = "ALERTS_PROM_TOKEN"

[[source]]
name = "grafana"
kind = "grafana"
hmac_secret_env = "ALERTS_GRAFANA_SECRET"
timestamp_header = "X-Grafana-Alerting-Timestamp"

[[rule]]
source = "prom"
match = { severity = "critical" }
severity = "sev1"
squad = "db"
title = "{commonAnnotations.summary}"

[[rule]]
source = "grafana"
match = { team = "blue" }
severity = "sev2"
title = "{title}"
"""

# Alertmanager's webhook (version 4), as its documentation and a real receiver show it.
ALERTMANAGER = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "incident-bot",
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {"alertname": "ProbeFailure", "instance": "https://server.example.org",
                     "job": "http_checks", "severity": "critical"},
    "commonAnnotations": {"summary": "BlackBox Probe Failure: https://server.example.org",
                          "description": "Instance has been down for over 5m."},
    "externalURL": "http://alertmanager.example.org:9093",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "ProbeFailure", "instance": "https://server.example.org",
                   "job": "http_checks", "severity": "critical"},
        "annotations": {"summary": "BlackBox Probe Failure: https://server.example.org"},
        "startsAt": "2026-02-06T13:08:45.828Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": "1a30ba71cca2921f",
    }],
}
# Grafana's webhook contact point (version 1): the same shape plus its own fields.
GRAFANA = {
    "receiver": "incident-bot", "status": "firing", "orgId": 1,
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
        "annotations": {"description": "The system has high memory usage",
                        "summary": "This alert was triggered for zone us-1"},
        "startsAt": "2026-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example.org/alerting/1afz29v7z/edit",
        "fingerprint": "c6eadffa33fcdf37", "silenceURL": "https://grafana.example.org/s",
        "dashboardURL": "", "panelURL": "", "values": {"B": 44.2, "C": 1},
    }],
    "groupLabels": {"alertname": "High memory usage"},
    "commonLabels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
    "commonAnnotations": {"summary": "This alert was triggered for zone us-1"},
    "externalURL": "https://grafana.example.org/",
    "version": "1", "groupKey": '{}:{alertname="High memory usage"}', "truncatedAlerts": 0,
    "title": "[FIRING:1] High memory usage (blue us-1)", "state": "alerting",
    "message": "**Firing**\nValue: B=44.2",
}


@pytest.fixture
def rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALERTS_PROM_TOKEN", PROM_TOKEN)
    monkeypatch.setenv("ALERTS_GRAFANA_SECRET", GRAFANA_SECRET)
    path = tmp_path / "alerts.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.fixture
async def team(start_bot, sqlite_url: str, connector: FakeConnector,
               rules_file: Path) -> Team:
    """A bot with the rules file, in a team that ran `setup` in its incidents channel."""
    running = await start_bot(make_settings(sqlite_url, alert_rules_file=str(rules_file)))
    team = Team(running, connector)
    await team.say("setup")
    await team.settle()
    connector.calls.clear()
    return team


async def post(bot: RunningBot, source: str, body: Any, *, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with bot.session.post(bot.server.make_url(f"/api/alerts/{source}"), data=data,
                                headers={"Content-Type": "application/json",
                                         **(headers or {})}) as resp:
        return resp.status, await resp.json(content_type=None)


def bearer(token: str = PROM_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(raw: bytes, *, secret: str = GRAFANA_SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Grafana-Alerting-Signature": digest, "X-Grafana-Alerting-Timestamp": stamp}


def resolved(payload: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(payload)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-02-06T13:20:00Z"
    return body


def alert_cards(connector: FakeConnector) -> list[Call]:
    return [c for c in connector.of_kind("create_conversation")
            if "Declare an incident from this alert?" in c.text]


async def posted_card(team: Team) -> Call:
    await team.settle()
    cards = alert_cards(team.connector)
    assert len(cards) == 1, [c.text for c in team.connector.calls]
    return cards[0]


async def nothing_changed(connector: FakeConnector) -> None:
    assert await AlertGroup.all().count() == 0
    assert await OutboxMessage.filter(ordering_key__startswith="alert:").count() == 0
    assert await Incident.all().count() == 0
    assert connector.calls == []


async def test_a_firing_alert_posts_a_card_and_repeats_update_it(team: Team) -> None:
    status, body = await post(team.bot, "prom", ALERTMANAGER, headers=bearer())

    assert status == 200, body
    card = await posted_card(team)
    assert card.body["channelData"]["channel"]["id"] == teams.CHANNEL_ID
    assert "BlackBox Probe Failure: https://server.example.org" in card.text
    facts = json.dumps(card.body["activity"]["attachments"][0]["content"])
    assert "SEV1: critical" in facts and '"db"' in facts
    assert "alert.declare" in facts

    again = copy.deepcopy(ALERTMANAGER)
    again["alerts"].append({**again["alerts"][0], "fingerprint": "2b41cb82ddb3a032"})
    status, body = await post(team.bot, "prom", again, headers=bearer())

    assert status == 200 and body == {"result": "card updated"}
    await team.settle()
    assert len(alert_cards(team.connector)) == 1  # updated, not posted again
    update = team.card_updates()[-1]
    assert update.conversation_id and update.conversation_id.startswith(teams.CHANNEL_ID)
    assert "Firing (2 alerts)" in json.dumps(update.body)
    assert await AlertGroup.all().count() == 1


async def _declare_press(team: Team, sender: teams.User = teams.ADA) -> dict[str, Any]:
    group = await eventually(lambda: AlertGroup.filter(card_activity_id__isnull=False).first())
    return await team.press("alert.declare", {"alertGroupId": group.id}, sender=sender,
                            card_id=group.card_activity_id,
                            conversation_id=group.card_conversation_id)


async def test_one_press_declares_the_incident_with_the_alert_on_its_timeline(
    team: Team,
) -> None:
    await post(team.bot, "prom", ALERTMANAGER, headers=bearer())
    await posted_card(team)

    answer = await _declare_press(team)

    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    assert "Declared as INC-1." in json.dumps(answer["value"])
    incident = await Incident.get()
    assert (incident.number, incident.severity) == (1, 1)
    assert incident.title == "BlackBox Probe Failure: https://server.example.org"
    linked = await TimelineEvent.get(incident_id=incident.id, kind="alert")
    assert "http://prometheus.example.org:9090/graph" in linked.text
    assert linked.data["links"] == [ALERTMANAGER["alerts"][0]["generatorURL"]]
    assert linked.data["externalURL"] == "http://alertmanager.example.org:9093"
    await team.settle()
    assert any("Declared as INC-1." in json.dumps(c.body) for c in team.card_updates())

    second = await _declare_press(team, sender=teams.GRACE)

    assert second["type"] == "application/vnd.microsoft.activity.message"
    assert "already declared as INC-1" in second["value"]
    assert await Incident.all().count() == 1


async def test_a_resolved_alert_is_noted_on_its_incidents_timeline(team: Team) -> None:
    await post(team.bot, "prom", ALERTMANAGER, headers=bearer())
    await posted_card(team)
    await _declare_press(team)
    await team.settle()

    status, body = await post(team.bot, "prom", resolved(ALERTMANAGER), headers=bearer())

    assert status == 200 and body == {"result": "noted on INC-1"}
    incident = await Incident.get()
    note = await TimelineEvent.get(incident_id=incident.id, kind="alert_resolved")
    assert note.text.startswith("Alert resolved: BlackBox Probe Failure")
    await team.settle()
    assert any("Alert resolved: BlackBox Probe Failure" in c.text
               for c in team.connector.of_kind("reply")
               if c.conversation_id == incident.thread_id)


async def test_resolved_before_anyone_declared_shows_on_the_card(team: Team) -> None:
    await post(team.bot, "prom", ALERTMANAGER, headers=bearer())
    await posted_card(team)

    status, _ = await post(team.bot, "prom", resolved(ALERTMANAGER), headers=bearer())

    assert status == 200
    await team.settle()
    update = team.card_updates()[-1]
    assert "Resolved, no incident declared." in update.text
    assert "alert.declare" not in json.dumps(update.body)
    answer = await _declare_press(team)
    assert "resolved before anyone declared" in answer["value"]
    assert await Incident.all().count() == 0


async def test_a_grafana_alert_signed_with_hmac_posts_its_card(team: Team) -> None:
    raw = json.dumps(GRAFANA).encode()

    status, body = await post(team.bot, "grafana", None, raw=raw, headers=signed(raw))

    assert status == 200, body
    card = await posted_card(team)
    assert "[FIRING:1] High memory usage (blue us-1)" in card.text
    assert "SEV2: major" in json.dumps(card.body)


@pytest.mark.parametrize("headers", [
    {}, bearer("wrong-token"), {"Authorization": PROM_TOKEN}, {"Authorization": "Basic eDp5"},
], ids=["missing", "wrong", "no-scheme", "basic"])
async def test_a_bad_token_gets_401_and_changes_nothing(team: Team,
                                                        headers: dict[str, str]) -> None:
    status, body = await post(team.bot, "prom", ALERTMANAGER, headers=headers)

    assert status == 401 and "unauthorized" in body["error"]
    await nothing_changed(team.connector)


async def test_a_bad_signature_gets_401_and_changes_nothing(team: Team) -> None:
    raw = json.dumps(GRAFANA).encode()
    cases = [
        ({}, "X-Grafana-Alerting-Signature header is missing"),
        (signed(raw, secret="not-the-secret"), "does not match"),
        (signed(raw + b" "), "does not match"),  # signed another body
        (signed(raw, at=int(time.time()) - 3600), "more than 5 minutes"),
        ({**signed(raw), "X-Grafana-Alerting-Timestamp": "yesterday"}, "Unix time"),
    ]
    for headers, reason in cases:
        status, body = await post(team.bot, "grafana", None, raw=raw, headers=headers)
        assert status == 401 and reason in body["error"], (headers, body)
    await nothing_changed(team.connector)


async def test_unknown_sources_and_malformed_bodies_get_4xx_and_change_nothing(
    team: Team,
) -> None:
    status, body = await post(team.bot, "nagios", ALERTMANAGER, headers=bearer())
    assert status == 404 and "no alert source 'nagios'" in body["error"]

    status, body = await post(team.bot, "prom", None, raw=b"{not json", headers=bearer())
    assert status == 400 and "not JSON" in body["error"]

    shapes = [({**ALERTMANAGER, "version": "3"}, "'version' is '3'"),
              ({**ALERTMANAGER, "status": "burning"}, "'status' must be"),
              ({k: v for k, v in ALERTMANAGER.items() if k != "groupKey"}, "'groupKey'"),
              ({**ALERTMANAGER, "alerts": "many"}, "'alerts' must be a list"),
              ({**ALERTMANAGER, "commonLabels": {"severity": 1}}, "'commonLabels'"),
              (GRAFANA, "alertmanager webhooks send '4'")]
    for shape, reason in shapes:
        status, body = await post(team.bot, "prom", shape, headers=bearer())
        assert status == 400 and reason in body["error"], body
    await nothing_changed(team.connector)


async def test_an_alert_no_rule_matches_is_accepted_and_posts_nothing(team: Team) -> None:
    warning = copy.deepcopy(ALERTMANAGER)
    warning["commonLabels"]["severity"] = "warning"

    status, body = await post(team.bot, "prom", warning, headers=bearer())

    assert status == 202
    assert body == {"result": "no rule matches this alert group: nothing was posted"}
    await nothing_changed(team.connector)


def test_the_example_in_the_docs_is_a_working_rules_file(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "alerts.md").read_text("utf-8")
    example = page.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "alerts.toml"
    path.write_text(example, encoding="utf-8")

    rules = alert_rules.load(str(path), {"ALERTS_PROM_TOKEN": PROM_TOKEN,
                                         "ALERTS_GRAFANA_SECRET": GRAFANA_SECRET})

    assert sorted(rules.sources) == ["grafana", "prom"]
    db = rules.rule_for("prom", {"severity": "critical", "team": "db", "x": "y"})
    assert db is not None and (db.severity, db.squad) == (1, "db")
    other = rules.rule_for("prom", {"severity": "critical", "team": "web"})
    assert other is not None and (other.severity, other.squad) == (2, None)
    assert rules.rule_for("prom", {"severity": "warning"}) is None
    assert sorted(rules.secrets()) == sorted([PROM_TOKEN, GRAFANA_SECRET])


def test_the_sources_secrets_are_redacted_like_every_other(rules_file: Path) -> None:
    settings = make_settings("sqlite://x", alert_rules_file=str(rules_file))

    assert {PROM_TOKEN, GRAFANA_SECRET} <= set(settings.secrets())
    assert PROM_TOKEN not in repr(settings.alert_rules)


def test_a_broken_rules_file_stops_the_start_naming_the_line(tmp_path: Path) -> None:
    broken = RULES.replace('severity = "sev1"', 'severity = "sev9"').replace(
        'source = "grafana"\nmatch', 'source = "graphana"\nmatch')
    path = tmp_path / "alerts.toml"
    path.write_text(broken, encoding="utf-8")

    result = subprocess.run(
        [SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                     ALERT_RULES_FILE=str(path),
                                     ALERTS_PROM_TOKEN=PROM_TOKEN),
        cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "incident-bot cannot start: the configuration is not usable"
    assert lines[1:4] == [
        f"  ALERT_RULES_FILE {path} line 10: hmac_secret_env names ALERTS_GRAFANA_SECRET, "
        "which is not set in the environment",
        f"  ALERT_RULES_FILE {path} line 16: severity 'sev9' is not one of sev1, sev2, "
        "sev3, sev4, p1, p2, p3, p4",
        f"  ALERT_RULES_FILE {path} line 21: rule names source 'graphana', which is not "
        "defined (sources: grafana, prom)",
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_rules_file_that_is_not_toml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(RULES.replace('kind = "grafana"', 'kind = grafana'), encoding="utf-8")

    result = subprocess.run(
        [SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                     ALERT_RULES_FILE=str(path)),
        cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert f"ALERT_RULES_FILE {path}: not valid TOML: Invalid value (at line 9, column 8)" \
        in result.stderr


async def test_dismissing_stops_the_offer(team: Team) -> None:
    await post(team.bot, "prom", ALERTMANAGER, headers=bearer())
    await posted_card(team)
    group = await eventually(lambda: AlertGroup.filter(card_activity_id__isnull=False).first())

    answer = await team.press("alert.dismiss", {"alertGroupId": group.id}, sender=teams.ADA,
                              card_id=group.card_activity_id,
                              conversation_id=group.card_conversation_id)

    assert "Dismissed by Ada Lovelace" in json.dumps(answer["value"])
    assert "alert.declare" not in json.dumps(answer["value"])
    second = await _declare_press(team, sender=teams.GRACE)
    assert "Ada Lovelace already dismissed this alert." in second["value"]
    assert await Incident.all().count() == 0


async def test_two_first_notifications_of_one_group_at_once_make_one_card(
    start_bot, database_url: str, connector: FakeConnector, rules_file: Path
) -> None:
    """Alertmanager in HA sends each notification from every replica: both arrive at once,
    both are accepted, one group (and one card) is made, the other updates it."""
    running = await start_bot(make_settings(database_url, alert_rules_file=str(rules_file)))
    team = Team(running, connector)
    await team.say("setup")
    await team.settle()
    connector.calls.clear()

    answers = await asyncio.gather(*(post(team.bot, "prom", ALERTMANAGER, headers=bearer())
                                     for _ in range(4)))

    assert all(status in (200, 202) for status, _ in answers), answers
    assert await AlertGroup.all().count() == 1
    await posted_card(team)


async def test_firing_again_after_its_incident_closed_offers_a_new_incident(team: Team) -> None:
    await post(team.bot, "prom", ALERTMANAGER, headers=bearer())
    await posted_card(team)
    await _declare_press(team)
    incident = await eventually(lambda: Incident.filter(thread_id__isnull=False).first())
    await post(team.bot, "prom", resolved(ALERTMANAGER), headers=bearer())
    await Incident.filter(id=incident.id).update(status=IncidentStatus.CLOSED)
    await team.settle()
    timeline_before = await TimelineEvent.filter(incident_id=incident.id).count()

    status, body = await post(team.bot, "prom", ALERTMANAGER, headers=bearer())

    assert status == 200 and body["result"].startswith("posted a card offering to declare")
    await team.settle()
    assert len(alert_cards(team.connector)) == 2
    assert await AlertGroup.all().count() == 2  # the old one keeps INC-1's history
    assert await TimelineEvent.filter(incident_id=incident.id).count() == timeline_before
