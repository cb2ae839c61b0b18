"""The guide's words work: hypotheses are proved or disproved, severities are typed the ways
on-call engineers type them, and a slip of the keyboard is answered with the command meant.

The parsing first (fast, no HTTP), then what people see through the real endpoint."""

from __future__ import annotations

import pytest

from bot.errors import CommandError
from bot.incidents import severity as sev
from bot.store.incident_models import Hypothesis, Incident, ItemStatus
from bot.teams.command_line import (
    settled_hypothesis,
    severity_in_title,
    severity_of,
    severity_word,
)
from bot.teams.commands import all_routes
from tests.fakes import activities as teams
from tests.fakes.activities import GRACE
from tests.scenario import Team, eventually, thread_posts

# --- the grammar --------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "settled"), [
    ("1 proved", (1, True)), ("2 PROVEN", (2, True)), ("3 Confirmed", (3, True)),
    ("4 disproved", (4, False)), ("5 refuted.", (5, False)), ("#6 disproved", (6, False)),
])
def test_every_verdict_word_settles_the_numbered_hypothesis(typed, settled):
    assert settled_hypothesis(typed) == settled


@pytest.mark.parametrize("typed", ["1 proved wrong by the graphs", "replica lag", "proved",
                                   "1 likely", "12345678901 proved"])
def test_other_text_is_a_new_hypothesis(typed):
    assert settled_hypothesis(typed) is None


@pytest.mark.parametrize(("typed", "level"), [
    ("sev1", 1), ("SEV2", 2), ("Sev-3", 3), ("p4", 4), ("P1", 1), ("sev_2", 2),
])
def test_a_severity_code_is_one_word_in_any_case(typed, level):
    assert severity_word(typed) == level


@pytest.mark.parametrize(("typed", "level"), [
    ("sev3", 3), ("SEV 3", 3), ("sev-3", 3), ("p3", 3), ("3", 3), ("minor", 3),
    ("CRITICAL", 1), ("major", 2), ("Low", 4),
])
def test_the_sev_command_takes_codes_numbers_and_words(typed, level):
    assert severity_of(typed) == level


@pytest.mark.parametrize("typed", ["sev5", "bogus", "", "p0", "highest"])
def test_an_unknown_severity_is_refused_with_the_forms_accepted(typed):
    with pytest.raises(CommandError) as refused:
        severity_of(typed)
    assert "sev1, sev2, sev3, sev4, p1, p2, p3, p4" in str(refused.value)
    assert "critical, major, minor, low" in str(refused.value)


@pytest.mark.parametrize(("typed", "level", "title"), [
    ("Checkout down sev2", 2, "Checkout down"),
    ("Checkout down SEV 2", 2, "Checkout down"),
    ("Checkout down Sev-2", 2, "Checkout down"),
    ("Checkout down P2", 2, "Checkout down"),
    ("sev2 Checkout down", 2, "Checkout down"),
    ("Checkout down sev2 payments", 2, "Checkout down payments"),  # a squad after it
    ("p3 hosts down sev2", 2, "p3 hosts down"),  # the last code; an earlier one stays
    ("disk space critical", None, "disk space critical"),
    ("replica lag low", None, "replica lag low"),
    ("p95 latency over 2s", None, "p95 latency over 2s"),
])
def test_declare_reads_a_severity_code_and_leaves_words_in_the_title(typed, level, title):
    found, words = severity_in_title(typed.split())
    assert (found, " ".join(words)) == (level, title)


@pytest.mark.parametrize("typed", ["Checkout down sev5", "Checkout down SEV 0", "sev9 x"])
def test_declare_refuses_a_sev_code_out_of_range(typed):
    with pytest.raises(CommandError, match="is not a severity"):
        severity_in_title(typed.split())


def test_the_words_are_the_labels_words():
    for word, level in sev.WORDS.items():
        assert f": {word}," in sev.LABELS[level]


@pytest.mark.parametrize(("typed", "verb"), [
    ("decalre", "declare"), ("hypothsis", "hypothesis"), ("hypo", "hypothesis"),
    ("stauts", "status"), ("severity", "sev"), ("open", "declare"), ("postmortem", "pir"),
    ("zoom", "room"), ("?", "help"),
])
def test_a_near_miss_means_one_command(typed, verb):
    meant = all_routes().meant(typed)
    assert meant is not None and meant.verb == verb


@pytest.mark.parametrize("typed", ["frobnicate", "thanks", "hi", "x" * 200, ""])
def test_a_word_like_no_command_means_none(typed):
    assert all_routes().meant(typed) is None


# --- through the real endpoint ---------------------------------------------------------


@pytest.fixture
def team(local_bot, connector) -> Team:
    return Team(local_bot, connector)


async def _reply_containing(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def _posted(connector, incident: Incident, fragment: str):
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


@pytest.mark.parametrize(("word", "status"), [
    ("proved", ItemStatus.CONFIRMED), ("PROVEN", ItemStatus.CONFIRMED),
    ("Confirmed", ItemStatus.CONFIRMED), ("disproved", ItemStatus.DISPROVED),
    ("refuted", ItemStatus.DISPROVED),
])
async def test_the_guides_words_settle_a_hypothesis(team, connector, word, status):
    incident = await team.declare("Checkout down sev2")
    await team.say("hypothesis replica lag after the deploy", thread=incident)
    recorded = await eventually(lambda: _reply_containing(connector, "Hypothesis 1 recorded"))
    assert "Close it with `@incident hypothesis 1 proved|disproved`." in recorded.text

    await team.say(f"hypothesis 1 {word}", thread=incident)

    verdict = "confirmed" if status is ItemStatus.CONFIRMED else "disproved"
    await eventually(lambda: _posted(connector, incident, f"Hypothesis 1 {verdict} by Ada"))
    [only] = await Hypothesis.filter(incident=incident)
    assert (only.number, only.status) == (1, status)


async def test_a_hypothesis_is_settled_by_reference_outside_its_thread(team, connector):
    incident = await team.declare("Checkout down sev2")
    for text in ("hypothesis replica lag", "hypothesis bad deploy"):
        await team.say(text, thread=incident)
    await eventually(lambda: _reply_containing(connector, "Hypothesis 2 recorded"))

    await team.say(f"hypothesis INC-{incident.number} 2 disproved")  # a new channel post

    await eventually(lambda: _posted(connector, incident, "Hypothesis 2 disproved by Ada"))
    assert await Hypothesis.filter(incident=incident).count() == 2


@pytest.mark.parametrize(("typed", "level", "title"), [
    ("Checkout down SEV 3", 3, "Checkout down"),
    ("Checkout down sev-3", 3, "Checkout down"),
    ("Checkout down P3", 3, "Checkout down"),
])
async def test_declare_understands_the_ways_a_severity_is_typed(team, connector, typed,
                                                               level, title):
    incident = await team.declare(typed)

    assert (incident.severity, incident.title) == (level, title)
    await eventually(lambda: _reply_containing(connector, f"Declared INC-1 SEV{level}: "
                                                          f"{title}."))


async def test_a_title_ending_in_a_severity_word_keeps_it(team, connector):
    incident = await team.declare("disk space critical")

    assert (incident.severity, incident.title) == (1, "disk space critical")
    reply = await eventually(lambda: _reply_containing(connector, "Declared INC-1"))
    assert "assuming the highest" in reply.text


async def test_declare_with_a_severity_out_of_range_says_which_are_accepted(team, connector):
    await team.say("declare Checkout down sev5")

    reply = await eventually(lambda: _reply_containing(connector, "is not a severity"))
    assert "'sev5' is not a severity. Severities are sev1, sev2" in reply.text
    assert await Incident.all().count() == 0


@pytest.mark.parametrize(("typed", "level"), [
    ("sev major", 2), ("sev P3", 3), ("sev SEV 4", 4), ("sev 3", 3), ("sev Low", 4),
])
async def test_the_sev_command_understands_codes_and_words(team, connector, typed, level):
    incident = await team.declare("Checkout down sev1")

    await team.say(typed, thread=incident)

    await eventually(lambda: _posted(
        connector, incident, f"Severity changed from SEV1 to SEV{level} by Ada"))


async def test_sev_by_reference_takes_a_p_code(team, connector):
    incident = await team.declare("Checkout down sev1")

    await team.say(f"sev INC-{incident.number} p2")

    await eventually(lambda: _posted(connector, incident, "from SEV1 to SEV2"))


async def test_an_unknown_severity_word_is_refused_with_the_forms(team, connector):
    incident = await team.declare("Checkout down sev1")

    await team.say("sev urgent", thread=incident, sender=GRACE)

    reply = await eventually(lambda: _reply_containing(connector, "'urgent' is not a severity"))
    assert "Severities are sev1, sev2, sev3, sev4, p1, p2, p3, p4" in reply.text
    assert "critical, major, minor, low" in reply.text
    assert (await Incident.get(id=incident.id)).severity == 1


async def _only_reply(connector):
    [reply] = await connector.wait_for(1, kind="reply")
    assert not reply.body.get("attachments"), "a short text, not the help card"
    return reply


async def test_a_mistyped_verb_is_answered_with_the_command_meant(team, connector):
    await team.say("decalre Checkout down sev2")

    reply = await _only_reply(connector)
    assert reply.text == (
        "I don't know 'decalre'. Did you mean "
        "`@incident declare [private] <title> [sev1-4] [@investigator] [@commander]`? "
        "Open an incident (alone: a form); severity defaults to the highest.")
    assert await Incident.all().count() == 0


async def test_a_synonym_is_answered_with_the_command_meant(team, connector):
    await team.say("severity sev2")

    reply = await _only_reply(connector)
    assert reply.text.startswith("I don't know 'severity'. Did you mean `@incident sev ")


async def test_a_word_like_no_command_says_where_the_list_is(team, connector):
    await team.say("frobnicate the db")

    reply = await _only_reply(connector)
    assert reply.text == ("'frobnicate' is not one of my commands. "
                          "Mention me with `help` for the list.")


async def test_help_with_a_command_shows_only_its_usage(team, connector):
    await team.say("help HYPOTHESIS")

    reply = await _only_reply(connector)
    assert reply.text == ("`@incident hypothesis <text> | <n> proved|disproved` — Propose a "
                          "possible cause, or settle one (also: confirmed, proven, refuted).")


async def test_help_with_a_near_miss_offers_the_command_meant(team, connector):
    await team.say("help decalre")

    reply = await _only_reply(connector)
    assert reply.text.startswith("I don't know 'decalre'. Did you mean `@incident declare ")


async def test_help_with_words_like_no_command_shows_the_whole_card(team, connector):
    await team.say("help me please")

    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "Mention me with one of these commands" in reply.text
    assert "@incident declare" in reply.text


async def test_a_bare_mention_still_gets_the_whole_card(local_bot, connector):
    await local_bot.post(teams.channel_message(connector.url, teams.BOT_MENTION_TEXT))

    [reply] = await connector.wait_for(1, kind="reply")
    assert "Mention me with one of these commands" in reply.text
