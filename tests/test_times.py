"""Times as people read them: plain text in the team's zone in one format, cards in each
reader's own zone through Adaptive Cards' date functions, no ages that go stale, and old
cards that show the current state when opened (Universal Actions' refresh)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from bot.incidents.local_time import written
from bot.incidents.people import Person
from bot.incidents.queries import Picture
from bot.store.incident_models import Handover, HandoverStatus, Incident, TimelineEvent
from bot.teams import incident_cards
from bot.teams.cards import REFRESH_USERS
from bot.teams.turn_record import Replay
from tests.card_gallery import DECLARED, gallery
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.scenario import Team, eventually, thread_posts

CARDS = gallery()
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
# The only way a card writes a moment: strict RFC 3339 in UTC, no spaces in the braces.
MOMENT = re.compile(rf"\{{\{{DATE\(({STAMP}), SHORT\)\}}\}} \{{\{{TIME\(\1\)\}}\}}")
WRITTEN = re.compile(r"[A-Z][a-z]{2} \d\d [A-Z][a-z]{2} \d\d:\d\d Europe/Berlin")


def _text_blocks(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "TextBlock" else []
        return found + [t for v in node.values() for t in _text_blocks(v)]
    if isinstance(node, list):
        return [t for item in node for t in _text_blocks(item)]
    return []


def _facts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [f"{f['title']} {f['value']}" for f in node.get("facts") or []]
        return found + [t for v in node.values() for t in _facts(v)]
    if isinstance(node, list):
        return [t for item in node for t in _facts(item)]
    return []


def test_written_is_the_one_plain_text_format():
    due = dt.datetime(2026, 12, 2, 16, 0, tzinfo=dt.UTC)
    assert written(due, "Europe/Berlin") == "Wed 02 Dec 17:00 Europe/Berlin"
    assert written(due, "UTC") == "Wed 02 Dec 16:00 UTC"
    assert written(due, "Mars/Olympus") == "Wed 02 Dec 16:00 UTC"  # never unreadable


def test_a_replayed_command_says_when_in_the_teams_zone():
    replay = Replay(received_at=dt.datetime(2026, 12, 2, 16, 3, tzinfo=dt.UTC),
                    what="“note” command", zone="Europe/Berlin")
    assert "your “note” command from Wed 02 Dec 17:03 Europe/Berlin, saved" in replay.applied(
        "Noted.")


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_no_card_says_an_age_that_goes_stale(shown):
    assert not re.search(r"\bago\b", json.dumps(shown.card, ensure_ascii=False)), shown.name


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_card_times_are_date_functions_in_text_blocks(shown):
    for block in _text_blocks(shown.card):
        # Every "{{" a card writes is a complete DATE/TIME pair (user text is escaped).
        assert block.count("{{") == 2 * len(MOMENT.findall(block)), block
    assert not any("{{" in fact for fact in _facts(shown.card)), shown.name


def test_the_live_card_writes_when_it_was_declared_for_each_reader():
    shown = next(c for c in CARDS if c.name == "incident-resolved")
    stamp = DECLARED.strftime("%Y-%m-%dT%H:%M:%SZ")
    declared = [b for b in _text_blocks(shown.card) if b.startswith("**Declared:**")]
    assert declared == [f"**Declared:** {{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}} "
                        f"by Ada Lovelace"]
    mitigated = [b for b in _text_blocks(shown.card) if b.startswith("**Mitigated:**")]
    assert mitigated[0].endswith("(after 20 min)")  # a duration between two moments stays


def test_the_live_card_refreshes_for_at_most_60_people():
    incident = Incident(id=7, tenant_id="t", number=1, title="Busy", severity=1,
                        declared_at=DECLARED, declared_by_id="29:declarer",
                        declared_by_name="Dee", investigator_id="29:investigator",
                        commander_id="29:commander", channel_id="19:c", service_url="s")
    helpers = [Person(f"29:helper-{n}", f"Helper {n}") for n in range(80)]
    asked = [Handover(id=n, incident_id=7, role="assistant", to_id=f"29:asked-{n}",
                      to_name=f"Asked {n}", requested_by_id="29:commander",
                      requested_by_name="C", status=HandoverStatus.PENDING)
             for n in range(10)]
    card = incident_cards.incident_card(Picture(incident=incident, assistants=helpers,
                                                pending=asked, hypotheses=[], tasks=[],
                                                recent=[]))

    refresh = card["refresh"]
    assert refresh["action"] == {"type": "Action.Execute", "verb": "incident.refresh",
                                 "data": {"incidentId": 7}}
    assert len(refresh["userIds"]) == REFRESH_USERS == 60
    assert refresh["userIds"][:3] == ["29:investigator", "29:commander", "29:helper-0"]


@pytest.fixture
def team(bot, connector) -> Team:
    return Team(bot, connector)


def _refresh_of(call) -> dict[str, Any]:
    body = call.body.get("activity") or call.body
    return body["attachments"][0]["content"]["refresh"]


async def _open_card(team: Team, refresh: dict[str, Any], *, sender=ADA) -> dict[str, Any]:
    """Teams refreshing a card someone sees: its refresh action, `trigger: automatic`."""
    action = refresh["action"]
    invoke = teams.card_action(team.connector.url, verb=action["verb"], data=action["data"],
                               card_id="1", sender=sender, trigger="automatic")
    status, body = await team.bot.post(invoke)
    assert status == 200
    return body


async def test_an_old_live_card_shows_the_current_state_when_opened(team: Team, connector):
    await team.say("setup")
    incident = await team.declare("Checkout latency sev2")
    [create] = connector.of_kind("create_conversation")
    refresh = _refresh_of(create)  # the card as first posted, before anything happened
    assert refresh["userIds"] == [ADA.id]  # Ada declared and investigates
    await team.say("mitigated", sender=ADA, thread=incident)
    await eventually(lambda: Incident.get_or_none(id=incident.id, mitigated_at__isnull=False))
    events = await TimelineEvent.filter(incident_id=incident.id).count()

    answer = await _open_card(team, refresh, sender=LINUS)  # anyone may refresh from the menu

    assert answer["statusCode"] == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    blocks = _text_blocks(answer["value"])
    assert "INC-1 · SEV2 · Mitigated" in blocks
    assert any(b.startswith("**Mitigated:** {{DATE(") for b in blocks)
    assert answer["value"]["refresh"] == refresh
    assert await TimelineEvent.filter(incident_id=incident.id).count() == events  # read only
    async with team.bot.session.get(team.bot.server.make_url("/metrics")) as resp:
        metrics = await resp.text()
    assert 'command="mitigated",outcome="ok"' in metrics
    assert "incident.refresh" not in metrics  # no one's command


async def test_a_refresh_from_another_tenant_shows_nothing(team: Team, connector):
    await team.say("setup")
    incident = await team.declare("Checkout latency sev2")
    invoke = teams.card_action(connector.url, verb="incident.refresh", card_id="1",
                               data={"incidentId": incident.id}, trigger="automatic")
    invoke["channelData"]["tenant"]["id"] = "another-tenant"
    invoke["conversation"]["tenantId"] = "another-tenant"

    status, body = await team.bot.post(invoke)

    assert status == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "does not exist" in body["value"]


async def test_an_old_role_request_shows_its_answer_when_opened(team: Team, connector):
    await team.say("setup")
    incident = await team.declare("Checkout latency sev2 @Grace", mentions=(GRACE,))
    handover = await Handover.get(to_id=GRACE.id)
    request = await eventually(lambda: _posted(connector, incident, "please take the"))
    refresh = _refresh_of(request)
    assert refresh["action"]["data"] == {"handoverId": handover.id, "incidentId": incident.id}
    assert set(refresh["userIds"]) == {GRACE.id, ADA.id}
    await team.press("handover.accept", refresh["action"]["data"], sender=GRACE)

    answer = await _open_card(team, refresh, sender=ADA)

    assert any(b.startswith("✅ Accepted by Grace Hopper at {{DATE(")
               for b in _text_blocks(answer["value"]))
    assert "actions" not in answer["value"]


async def _posted(connector, incident: Incident, words: str):
    incident = await Incident.get(id=incident.id)
    return next((c for c in thread_posts(connector, incident) if words in c.text), None)


async def test_the_review_due_time_reads_the_same_in_the_thread_and_in_pir(team: Team,
                                                                           connector):
    await team.say("setup")
    await team.say("setup timezone Europe/Berlin")
    incident = await team.declare("Checkout latency sev2")
    await team.say("mitigated", sender=ADA, thread=incident)
    posted = await eventually(lambda: _posted(connector, incident, "Post Incident Review draft"))

    await team.say("pir", sender=ADA, thread=incident)
    reply = await eventually(lambda: _posted(connector, incident, "review (due "))

    [in_thread] = re.findall(rf"— due ({WRITTEN.pattern})\.", posted.text)
    [in_pir] = re.findall(rf"\(due ({WRITTEN.pattern})\)", reply.text)
    assert in_thread == in_pir
    opened = await TimelineEvent.get(incident_id=incident.id, kind="review_opened")
    assert opened.text == f"Review due {in_thread}."
