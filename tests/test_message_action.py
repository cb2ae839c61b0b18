"""The message action "Add to incident timeline", end to end: Teams-shaped
`composeExtension/fetchTask` and `/submitAction` invokes posted to /api/messages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.incidents.journal import MAX_FILED_TEXT
from bot.store.incident_models import Incident, IncidentStatus, TimelineEvent
from bot.teams.message_html import plain_text
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.scenario import Team

FETCH, SUBMIT = "composeExtension/fetchTask", "composeExtension/submitAction"
# The copy the card tests use (tests/schemas/SOURCES.md says where it comes from).
SCHEMAS = Path(__file__).resolve().parent / "schemas"


@pytest.fixture
def team(bot, connector) -> Team:
    return Team(bot, connector)


async def _invoke(team: Team, name: str, **kwargs: Any) -> tuple[int, Any]:
    return await team.bot.post(teams.message_action(team.connector.url, name, **kwargs))


async def _filed(incident: Incident) -> list[TimelineEvent]:
    return list(await TimelineEvent.filter(incident_id=incident.id, kind="message"))


async def _two_incidents(team: Team) -> tuple[Incident, Incident]:
    await team.say("setup")
    first = await team.declare("Checkout latency sev2")
    second = await team.declare("Search down sev1")
    return first, second


async def test_dialog_lists_open_incidents_and_preselects_the_thread_it_was_opened_in(team):
    first, second = await _two_incidents(team)
    payload = teams.message_payload(html="<p>p99 is 4 s since 09:50</p>")

    status, body = await _invoke(team, FETCH, payload=payload, sender=GRACE,
                                 root_id=first.card_activity_id)

    assert status == 200 and body["task"]["type"] == "continue"
    dialog = body["task"]["value"]
    assert dialog["title"] == "Add to incident timeline"
    assert dialog["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = dialog["card"]["content"]
    chooser = next(e for e in card["body"] if e.get("id") == "incident")
    assert [c["value"] for c in chooser["choices"]] == ["2", "1"]  # most severe first
    assert chooser["value"] == str(first.number)
    assert "p99 is 4 s since 09:50" in json.dumps(card)
    assert card["actions"][0]["type"] == "Action.Submit"


async def test_dialog_on_the_incident_card_itself_preselects_that_incident(team):
    _, second = await _two_incidents(team)
    payload = teams.message_payload(html="card", message_id=second.card_activity_id)

    _, body = await _invoke(team, FETCH, payload=payload)

    chooser = next(e for e in body["task"]["value"]["card"]["content"]["body"]
                   if e.get("id") == "incident")
    assert chooser["value"] == str(second.number)


async def test_dialog_outside_an_incident_thread_preselects_nothing(team):
    await _two_incidents(team)

    _, body = await _invoke(team, FETCH, payload=teams.message_payload(html="hi"))

    chooser = next(e for e in body["task"]["value"]["card"]["content"]["body"]
                   if e.get("id") == "incident")
    assert "value" not in chooser


async def test_dialog_card_is_valid_adaptive_card_1_5(team):
    jsonschema = pytest.importorskip("jsonschema")
    path = SCHEMAS / "adaptive-card-1.5.schema.json"
    if not path.is_file():
        pytest.skip(f"Adaptive Card schema not found at {path}")
    await _two_incidents(team)
    _, body = await _invoke(team, FETCH, payload=teams.message_payload(html="hi"))

    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(
        validator.iter_errors(body["task"]["value"]["card"]["content"]))
    assert error is None, f"{list(error.absolute_path)}: {error.message}"


async def test_without_open_incidents_the_dialog_says_so(team):
    status, body = await _invoke(team, FETCH, payload=teams.message_payload(html="hi"))

    assert status == 200
    assert body == {"task": {"type": "message",
                             "value": "There is no open incident to file this message into."}}


async def test_a_message_without_text_is_refused_before_the_dialog(team):
    await _two_incidents(team)
    payload = teams.message_payload(html="<div> <br> </div>")  # e.g. a sticker's message

    _, body = await _invoke(team, FETCH, payload=payload)

    assert body["task"]["type"] == "message"
    assert body["task"]["value"].startswith("That message has no text to file")


async def test_submit_files_text_author_time_and_link_into_the_timeline(team):
    first, _ = await _two_incidents(team)
    payload = teams.message_payload(
        html='<div><at id="0">Ada Lovelace</at> rollback of <b>checkout&nbsp;v42</b> done'
             '<br>errors back to 0.1%</div>', author=GRACE)

    status, body = await _invoke(team, SUBMIT, payload=payload, sender=ADA,
                                 data={"incident": str(first.number), "note": "the fix"})

    assert status == 200
    assert body == {"task": {"type": "message", "value": "Added to INC-1's timeline."}}
    [event] = await _filed(first)
    assert event.text == ("Message from Grace Hopper at Fri 27 Nov 09:58 UTC: Ada Lovelace "
                          "rollback of checkout v42 done\nerrors back to 0.1% (note: the fix)")
    assert event.actor_id == ADA.id
    assert event.data == {
        "author": "Grace Hopper", "link": payload["linkToMessage"], "messageId": payload["id"],
        "note": "the fix", "postedAt": "2026-11-27T09:58:12.345000+00:00"}


async def test_a_redelivered_submit_files_the_message_once(team):
    first, _ = await _two_incidents(team)
    invoke = teams.message_action(team.connector.url, SUBMIT, sender=ADA,
                                  payload=teams.message_payload(html="once"),
                                  data={"incident": str(first.number)})

    for _ in range(2):
        status, body = await team.bot.post(invoke)
        assert status == 200 and body["task"]["type"] == "message"

    assert len(await _filed(first)) == 1


async def test_someone_not_working_the_incident_is_refused(team):
    first, _ = await _two_incidents(team)

    status, body = await _invoke(team, SUBMIT, payload=teams.message_payload(html="x"),
                                 sender=LINUS, data={"incident": str(first.number)})

    assert status == 200 and body["task"]["type"] == "message"
    assert body["task"]["value"].startswith(
        "Only the people working INC-1 (or an admin) can file messages into its timeline.")
    assert await _filed(first) == []


async def test_an_unknown_incident_is_refused(team):
    first, _ = await _two_incidents(team)

    _, body = await _invoke(team, SUBMIT, payload=teams.message_payload(html="x"),
                            sender=ADA, data={"incident": "99"})

    assert body == {"task": {"type": "message", "value": "There is no INC-99."}}
    assert await TimelineEvent.filter(kind="message").count() == 0


async def test_submit_without_a_chosen_incident_asks_for_one(team):
    await _two_incidents(team)

    _, body = await _invoke(team, SUBMIT, payload=teams.message_payload(html="x"),
                            sender=ADA, data={"note": "n"})

    assert body["task"]["value"] == "Choose the incident to file this message into."


async def test_a_closed_incident_is_refused(team):
    first, _ = await _two_incidents(team)
    await Incident.filter(id=first.id).update(status=IncidentStatus.CLOSED)

    _, body = await _invoke(team, SUBMIT, payload=teams.message_payload(html="x"),
                            sender=ADA, data={"incident": "1"})

    assert body["task"]["value"] == "INC-1 is closed; its timeline is final."
    assert await _filed(first) == []


async def test_a_long_message_is_stored_clipped(team):
    first, _ = await _two_incidents(team)
    payload = teams.message_payload(html="<p>" + "log line " * 2000 + "</p>")

    await _invoke(team, SUBMIT, payload=payload, sender=ADA, data={"incident": "1"})

    [event] = await _filed(first)
    assert len(event.text) < MAX_FILED_TEXT + 100 and event.text.endswith("…")


async def test_an_unknown_extension_command_is_a_bad_request(team):
    status, _ = await _invoke(team, FETCH, payload=teams.message_payload(html="x"),
                              command_id="somethingElse")

    assert status == 400


def test_message_html_becomes_plain_text_safely():
    html = ('<div>before<script>alert("x")</script><style>p{}</style> &lt;b&gt; &amp; '
            '<img src="https://x/y.png" alt="graph"><p>next&nbsp;para</p>'
            '<a href="javascript:alert(1)">link text</a></div>')

    assert plain_text(html) == 'before <b> & [graph]\nnext para\nlink text'


def test_plain_text_bodies_are_not_parsed_as_html():
    assert plain_text("a <b>not bold</b>", html=False) == "a <b>not bold</b>"


def test_unclosed_and_broken_markup_does_not_raise():
    assert plain_text("<div><p>open <b>bold <i>both</div>") == "open bold both"
    assert plain_text("1 < 2 and 3 > 2 <") == "1 < 2 and 3 > 2 <"


def test_created_time_with_ticks_is_read_as_utc():
    from bot.teams.commands.file_message import filed_message

    payload = teams.message_payload(html="x", created="2026-11-27T09:58:12.1234567Z")

    assert filed_message(payload).posted_at == dt.datetime(
        2026, 11, 27, 9, 58, 12, 123456, tzinfo=dt.UTC)
