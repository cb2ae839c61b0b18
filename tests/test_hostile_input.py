"""Property-based tests (hypothesis): whatever people or a broken client send, the bot
never answers 5xx, never stores partial or unbounded state, and never lets user text act
as Markdown, HTML, a link or a mention in what Teams shows."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.incidents.limits import MAX_TEXT, MAX_TITLE
from bot.store.incident_models import Hypothesis, Incident, Task, TimelineEvent
from bot.teams.activity_json import activity_from_dict
from bot.teams.command_line import MAX_COMMAND_CHARS, parse_command
from bot.teams.markdown import literal
from bot.teams.mentions import parse_text
from tests.conftest import RunningBot
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE
from tests.fakes.connector import FakeConnector, as_read

NASTY = [
    "<at>", "</at>", "<at>Ada Lovelace</at>", "<at><at>x</at></at>", "<at>incident</at>",
    "**bold**", "_it_", "[click](https://evil.example/p)", "![i](https://evil.example/i.png)",
    "# Heading", "\n- item", "\n1. one", "> quote", "`code`", "```", "~~x~~", "|a|b|",
    "\x00", "\x07", "\x1b[31m", "\u202e", "\ufeff", "\r\n", "\n\n", "&lt;at&gt;", "&amp;",
    "\\", "\\*", "@0", "@1", "@99", "INC-1", "</script><script>alert(1)</script>",
    '{"type":"AdaptiveCard","body":[]}', '"}],"actions":[{"type":"Action.OpenUrl"}]',
    "${title}", "{{name}}", "%s%n", "𝕏𝕏", "Ω≈ç√", " ", "\t",
]
hostile = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=40)), max_size=10).map(
    "".join)
huge = st.builds(lambda piece, n: piece * n, st.sampled_from(NASTY + ["x"]),
                 st.integers(1_000, 30_000))
any_text = st.one_of(hostile, hostile, hostile, huge)

THREAD_VERBS = ["note", "update", "impact", "hypothesis", "task", "sev", "status", "commandeer",
                "investigator", "commander", "help", "room", "mitigated", "list", "xyzzy", ""]
RELAXED = settings(max_examples=60, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])


# --- the escaping itself ----------------------------------------------------------------

# Worst cases found earlier: each took minutes in a backtracking regex (a DoS by paste).
WORST = ["\n\n" * 60_000, "<at>" * 60_000, "<at>x" * 50_000, " " * 120_000 + "#"]


@settings(max_examples=400, deadline=None)
@given(any_text)
@example(WORST[0])
@example(WORST[1])
@example(WORST[3])
def test_literal_text_reads_exactly_as_typed(value: str):
    assert as_read(literal(value)) == value


_ESCAPE_OR_ENTITY = re.compile(r"\\[!-/:-@\[-`{-~]|&(amp|lt|gt);")
_URL = re.compile(r"https?://\S+")


@settings(max_examples=400, deadline=None)
@given(any_text)
def test_literal_text_has_no_markup_left(value: str):
    rest = _URL.sub("u", _ESCAPE_OR_ENTITY.sub("e", literal(value)))
    assert not re.search(r"[<>*_\[\]`~|]", rest)
    assert "{{" not in rest  # not an Adaptive Cards date function on a card
    assert not re.search(r"^[ \t]*(#|[-+=]|\d+[.)])", rest, re.MULTILINE)


# --- the command parser -----------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(text=any_text, names=st.lists(st.one_of(st.text(max_size=20), st.sampled_from(NASTY)),
                                     max_size=4))
@example(text=WORST[1], names=[])
@example(text=WORST[2], names=["x"])
@example(text=WORST[0], names=[])
def test_the_parser_accepts_anything_and_bounds_it(text: str, names: list[str]):
    entities = [{"type": "mention", "text": f"<at>{n}</at>",
                 "mentioned": {"id": f"29:{i}", "name": n}} for i, n in enumerate(names)]
    entities.append({"type": "mention", "text": "<at>no id</at>", "mentioned": {}})
    activity = activity_from_dict({**teams.channel_message("http://127.0.0.1:1/", text),
                               "entities": entities})
    command = parse_command(parse_text(activity))
    assert command.verb == command.verb.lower() and " " not in command.verb
    assert len(command.verb) + len(command.args) <= MAX_COMMAND_CHARS
    assert all(p.id.startswith("29:") for p in command.people)


# --- the real endpoint ------------------------------------------------------------------

async def _incident(bot: RunningBot, connector: FakeConnector) -> Incident:
    """One declared incident with a thread, made once per test."""
    incident = await Incident.filter(thread_id__isnull=False).first()
    if incident is None:
        for text in ("setup", "declare Baseline incident sev2"):
            status, _ = await bot.post(teams.channel_message(
                connector.url, f"{teams.BOT_MENTION_TEXT} {text}"))
            assert status == 200
        for _ in range(500):
            incident = await Incident.filter(thread_id__isnull=False).first()
            if incident:
                break
            await asyncio.sleep(0.02)
    assert incident is not None
    return incident


@RELAXED
@given(verb=st.sampled_from(THREAD_VERBS + ["declare"]), text=any_text,
       sender=st.sampled_from([ADA, GRACE]), mention=st.booleans())
async def test_hostile_commands_never_fail_nor_store_too_much(
        local_bot: RunningBot, connector: FakeConnector, verb: str, text: str, sender,
        mention: bool):
    incident = await _incident(local_bot, connector)
    body = f"{teams.BOT_MENTION_TEXT} {verb} {text}"
    mentions = [GRACE] if mention else []
    if mention:
        body += f" {GRACE.mention()[0]}"
    message = teams.channel_message(
        connector.url, body, sender=sender, mentions=mentions,
        root_id=None if verb == "declare" else incident.card_activity_id)
    status, answer = await local_bot.post(message)

    assert status in (200, 413), (status, answer)
    await _state_is_whole_and_bounded()
    _nothing_user_typed_became_markup(connector)


@RELAXED
@given(payload=st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.sampled_from(["message", "invoke", "event", "conversationUpdate",
                                        "messageReaction", "typing", "x", ""]), st.integers()),
    "name": st.sampled_from(["adaptiveCard/action", "composeExtension/query", "task/fetch",
                             "signin/verifyState", ""]),
    "text": any_text,
    "value": st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                          max_leaves=10),
    "entities": st.lists(st.dictionaries(st.sampled_from(["type", "text", "mentioned"]),
                                         st.one_of(st.text(), st.integers(), st.none())),
                         max_size=3),
    "from": st.one_of(st.none(), st.text(), st.dictionaries(
        st.sampled_from(["id", "name", "aadObjectId"]), st.one_of(st.text(), st.integers()))),
    "conversation": st.one_of(st.none(), st.integers(), st.dictionaries(
        st.sampled_from(["id", "tenantId", "isGroup"]), st.one_of(st.text(), st.booleans()))),
    "channelData": st.one_of(st.none(), st.text(), st.dictionaries(
        st.sampled_from(["tenant", "team", "channel"]), st.one_of(st.text(), st.none()))),
}), drop=st.sets(st.sampled_from(["id", "serviceUrl", "recipient", "channelId", "from",
                                  "conversation"])))
async def test_malformed_activities_get_4xx_never_5xx(
        local_bot: RunningBot, connector: FakeConnector, payload: dict[str, Any],
        drop: set[str]):
    activity = {**teams.channel_message(connector.url, "help"), **payload}
    for key in drop:
        activity.pop(key, None)
    status, answer = await local_bot.post(activity)
    assert status < 500, (status, answer)
    await _state_is_whole_and_bounded()


@RELAXED
@given(verb=st.sampled_from(["handover.accept", "handover.decline", "commandeer.join",
                             "checkin.help", "declare.submit", "nope"]),
       data=st.dictionaries(st.sampled_from(["handoverId", "incidentId", "commandeerId",
                                             "title", "severity", "verb"]),
                            st.one_of(st.integers(-2**63, 2**63), st.text(), st.none(),
                                      st.lists(st.integers(), max_size=2), any_text)))
async def test_card_actions_with_forged_data_change_nothing_they_should_not(
        local_bot: RunningBot, connector: FakeConnector, verb: str, data: dict[str, Any]):
    incident = await _incident(local_bot, connector)
    before = await _role_holders()
    status, answer = await local_bot.post(teams.card_action(
        connector.url, verb=verb, data={"verb": verb, **data},
        card_id=incident.card_activity_id or "1", sender=GRACE))
    assert status < 500, (status, answer)
    assert await _role_holders() == before  # nobody asked Grace to take any role
    await _state_is_whole_and_bounded()


async def _role_holders() -> list[tuple]:
    return await Incident.all().order_by("id").values_list("id", "investigator_id",
                                                           "commander_id")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


async def _state_is_whole_and_bounded() -> None:
    for incident in await Incident.all():
        assert 0 < len(incident.title) <= MAX_TITLE and not _CONTROL.search(incident.title)
        for field in (incident.impact, incident.last_update):
            assert field is None or len(field) <= MAX_TEXT
        declared = await TimelineEvent.filter(incident=incident, kind="declared").count()
        assert declared == 1, f"INC-{incident.number} half-declared"
    for model in (TimelineEvent, Hypothesis, Task):
        for text in await model.all().values_list("text", flat=True):
            assert len(text) <= MAX_TEXT + 200 and not _CONTROL.search(text)


_RAW_MARKUP = [re.compile(p) for p in (
    r"(?<!\\)\]\(https://evil", r"(?<!\\)\*\*bold", r"<script", r"(?<!\\)~~x",
    r"(?<!\\)!\[i\]",
)]


def _nothing_user_typed_became_markup(connector: FakeConnector) -> None:
    for call in connector.calls:
        markup = call.markup
        for pattern in _RAW_MARKUP:
            assert not pattern.search(markup), (pattern.pattern, markup[:500])
        body = call.body.get("activity", call.body) if isinstance(call.body, dict) else {}
        mentioned = {e.get("text") for e in body.get("entities") or []}
        for attachment in body.get("attachments") or []:
            content = attachment.get("content") or {}
            mentioned |= {e.get("text") for e in
                          (content.get("msteams") or {}).get("entities") or []}
        for tag in re.findall(r"<at>.*?</at>", markup, re.DOTALL):
            assert tag in mentioned, f"{tag!r} is not backed by a mention entity"
