"""Mention handling: the bot's own removed exactly, other people kept in order."""

from __future__ import annotations

from bot.teams.activity_json import activity_from_dict
from bot.teams.command_line import parse_command
from bot.teams.mentions import parse_text
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS

URL = "http://127.0.0.1:9/"


def _parse(text: str, mentions=(), entities_extra=()):
    data = teams.channel_message(URL, text, mentions=list(mentions))
    data["entities"].extend(entities_extra)
    return parse_text(activity_from_dict(data))


def test_the_bot_mention_is_removed_and_the_rest_kept_verbatim():
    parsed = _parse(f"{teams.BOT_MENTION_TEXT} declare Incident Bot outage in incident db")

    assert parsed.text == "declare Incident Bot outage in incident db"
    assert parsed.people == ()


def test_other_people_become_numbered_placeholders_in_order():
    grace_at, linus_at = GRACE.mention()[0], LINUS.mention()[0]
    parsed = _parse(f"{teams.BOT_MENTION_TEXT} declare db down sev2 {grace_at} {linus_at}",
                    mentions=[GRACE, LINUS])

    assert parsed.text == "declare db down sev2 @0 @1"
    assert [p.id for p in parsed.people] == [GRACE.id, LINUS.id]
    assert parsed.people[0].name == "Grace Hopper"


def test_a_name_split_into_two_mentions_is_one_person():
    first = {"type": "mention", "text": "<at>Grace</at>",
             "mentioned": {"id": GRACE.id, "name": "Grace"}}
    last = {"type": "mention", "text": "<at>Hopper</at>",
            "mentioned": {"id": GRACE.id, "name": "Hopper"}}
    parsed = _parse(f"{teams.BOT_MENTION_TEXT} commander <at>Grace</at> <at>Hopper</at>",
                    entities_extra=[first, last])

    assert parsed.text == "commander @0"
    assert len(parsed.people) == 1


def test_an_at_tag_without_an_entity_is_plain_text_not_a_person():
    parsed = _parse(f"{teams.BOT_MENTION_TEXT} note ask <at>Nobody</at> later")

    assert parsed.text == "note ask Nobody later"
    assert parsed.people == ()


def test_the_same_person_mentioned_twice_keeps_one_number():
    at = ADA.mention()[0]
    parsed = _parse(f"{teams.BOT_MENTION_TEXT} task {at} check logs, then tell {at}",
                    mentions=[ADA, ADA])

    assert parsed.text == "task @0 check logs, then tell @0"
    assert [p.id for p in parsed.people] == [ADA.id]


def test_html_entities_and_non_breaking_spaces_are_normalised():
    parsed = _parse(f"{teams.BOT_MENTION_TEXT}&nbsp;note p99 &gt; 2s &amp; rising")

    assert parsed.text == "note p99 > 2s & rising"


def test_the_verb_is_case_insensitive_and_the_rest_keeps_its_case():
    command = parse_command(_parse(f"{teams.BOT_MENTION_TEXT} NOTE Checked Grafana"))

    assert command.verb == "note"
    assert command.args == "Checked Grafana"


def test_a_placeholder_resolves_to_its_person():
    at = GRACE.mention()[0]
    command = parse_command(_parse(f"{teams.BOT_MENTION_TEXT} commander {at}", mentions=[GRACE]))

    assert command.person(command.args) == command.people[0]
    assert command.person("@5") is None
    assert command.person("grace") is None


def test_an_empty_message_means_help():
    assert parse_command(_parse(teams.BOT_MENTION_TEXT)).verb == "help"
