"""A busy incident under Teams' real rate limits (issue 16): the loopback Bot Connector
answers 429 past Microsoft's published limits, and the bot never provokes one; routine
confirmations are merged, a status update overtakes them, nothing is lost; and a message
Teams refuses for good (a 1:1 with someone who does not have the app) reaches its person
another way, with the Commander told.

Counts and order are asserted, never wall-clock (bench/ measures times: `--scenario burst`).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.store.incident_models import Commandeer, Incident, TimelineEvent
from bot.store.models import OutboxMessage, OutboxStatus
from tests.bot_process import BotProcess
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.fakes.connector import Call, FakeConnector
from tests.fakes.graph import FakeGraph
from tests.fakes.rate_limits import TeamsRateLimits
from tests.scenario import Team, eventually, thread_posts

RESPONDERS = [User(f"29:1responder-{n}", f"Responder {n}", f"aad-responder-{n}")
              for n in range(20)]
NOTES = 120
_MERGED = re.compile(r"^Noted (\d+) entries on INC-\d+'s timeline\.$")
_SINGLE = "Noted on INC-{}'s timeline."


def _confirmed(calls: list[Call], number: int) -> int:
    """How many notes the confirmations among `calls` acknowledge."""
    total = 0
    for call in calls:
        text = call.text
        merged = _MERGED.match(text)
        total += int(merged.group(1)) if merged else int(text == _SINGLE.format(number))
    return total


def _is_confirmation(call: Call) -> bool:
    return call.kind == "reply" and call.text.startswith("Noted")


async def _notes_on_timeline(incident: Incident) -> int:
    return await TimelineEvent.filter(incident_id=incident.id, kind="note").count()


async def _drained() -> bool:
    return not await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).exists()


@pytest.fixture
def limited(connector: FakeConnector) -> FakeConnector:
    connector.limits = TeamsRateLimits()
    return connector


async def test_a_burst_of_notes_is_paced_merged_and_overtaken_by_the_status_update(
        start_bot, sqlite_url, limited: FakeConnector):
    team = Team(await start_bot(make_settings(sqlite_url)), limited)
    incident = await team.declare("Checkout down sev1 @Ada", mentions=(ADA,))
    await team.settle()
    before = len(limited.calls)

    async def note(n: int) -> None:
        await team.say(f"note finding {n} from the dashboards", thread=incident,
                       sender=RESPONDERS[n % len(RESPONDERS)])

    # 120 notes from 20 people as fast as the bot takes them, the update in the middle.
    await asyncio.gather(*(note(n) for n in range(NOTES // 2)))
    await team.say("update failover to the replica is under way", thread=incident)
    acked_update = len(limited.calls)
    await asyncio.gather(*(note(n) for n in range(NOTES // 2, NOTES)))
    await eventually(_drained, timeout=60)

    burst = limited.calls[before:]
    assert limited.throttled == 0, [c.path for c in limited.calls if c.answered == 429]
    assert await _notes_on_timeline(incident) == NOTES
    confirmations = [c for c in burst if _is_confirmation(c)]
    assert _confirmed(confirmations, incident.number) == NOTES  # each note acknowledged once
    assert len(burst) <= NOTES // 4, [c.text[:40] for c in burst]  # at most 0.25 per note
    # The status update overtakes the confirmations waiting when it was sent: at most the
    # one already on its way arrives between its acknowledgement and its post.
    after_update = limited.calls[acked_update:]
    status = next(i for i, c in enumerate(after_update)
                  if c.text.startswith("Status update from Ada Lovelace"))
    assert sum(_is_confirmation(c) for c in after_update[:status]) <= 1


async def test_an_answer_in_a_spent_conversation_waits_its_turn_instead_of_a_429(
        start_bot, sqlite_url, limited: FakeConnector):
    team = Team(await start_bot(make_settings(sqlite_url)), limited)
    incident = await team.declare("Checkout down sev2")
    await team.settle()
    queued = await OutboxMessage.all().count()

    # `help` is answered inline while the thread's budget lasts, then through the outbox.
    for _ in range(12):
        await team.say("help", thread=incident)
    await eventually(_drained, timeout=30)

    helps = [c for c in thread_posts(limited, await Incident.get(id=incident.id))
             if "@incident declare" in c.text]
    assert len(helps) == 12
    assert limited.throttled == 0
    assert await OutboxMessage.all().count() > queued  # some waited their turn


async def _commanded(team: Team) -> Incident:
    incident = await team.declare("Checkout latency sev2 @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    await team.press("handover.accept", {"handoverId": handover.id, "incidentId": incident.id},
                     sender=GRACE)
    await team.settle()
    return await Incident.get(id=incident.id)


async def test_commandeering_someone_without_the_app_asks_them_in_the_thread(
        start_bot, sqlite_url, connector: FakeConnector):
    connector.not_installed.add(LINUS.id)
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    incident = await _commanded(team)

    await team.say("commandeer @Linus knows the payment gateway", sender=GRACE,
                   mentions=(LINUS,), thread=incident)
    post = await eventually(lambda: _thread_post(connector, incident, "could not message you"))

    refused = [c for c in connector.calls if c.answered == 403]
    assert len(refused) == 1 and refused[0].kind == "create_conversation"
    assert post.text.startswith("<at>Linus T</at>, <at>Grace Hopper</at> needs you on INC-")
    assert "the incident bot is not installed for them in Teams" in post.text
    mentioned = {e["mentioned"]["id"] for e in post.body.get("entities", [])}
    assert mentioned == {LINUS.id, GRACE.id}  # the person and the Commander are notified
    card = post.body["attachments"][0]["content"]
    assert [a["verb"] for a in card["actions"]] == ["commandeer.join", "commandeer.decline"]
    request = await Commandeer.get(incident_id=incident.id)
    events = await TimelineEvent.filter(incident_id=incident.id,
                                        kind="commandeer_unreachable").values_list("text",
                                                                                  flat=True)
    assert events == ["Could not message Linus T privately (the incident bot is not installed "
                      "for them in Teams); asked them in the incident thread instead."]

    # Only Linus can answer the card in the thread, and his answer is recorded.
    data = {"commandeerId": request.id, "incidentId": incident.id}
    refusal = await team.press("commandeer.join", data, sender=ADA)
    assert "This request is for Linus T." in str(refusal)
    await team.press("commandeer.join", data, sender=LINUS)
    assert (await Commandeer.get(id=request.id)).status.value == "joining"


async def test_a_commandeer_from_a_private_chat_tells_the_commander_there(
        start_bot, sqlite_url, connector: FakeConnector):
    connector.not_installed.add(LINUS.id)
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    incident = await _commanded(team)

    chat = teams.personal_message(connector.url, f"commandeer INC-{incident.number} "
                                  f"{LINUS.mention()[0]} gateway", sender=GRACE)
    chat["entities"] = [LINUS.mention()[1]]
    status, _ = await team.bot.post(chat)
    assert status == 200

    async def told_in_the_chat() -> list[Call]:
        return [c for c in connector.delivered if c.conversation_id == f"a:1on1-{GRACE.id}"
                and "I could not message Linus T privately" in c.text]

    told = await eventually(told_in_the_chat)
    await team.settle()
    assert len(told) == 1
    assert told[0].text == ("I could not message Linus T privately (the incident bot is not "
                            f"installed for them in Teams): I asked them in INC-"
                            f"{incident.number}'s thread instead.")
    assert any("could not message you" in c.text for c in thread_posts(connector, incident))


def _graph_settings(url: str, graph: FakeGraph):
    base = graph.url.rstrip("/")
    return make_settings(url, graph_client_id="bot-graph", graph_client_secret="s3cret",
                         graph_token_url=f"{base}/token", graph_api_url=f"{base}/v1.0",
                         teams_app_catalog_id="1542629c-01b3-4a6d-8f76-1938b779e48d")


async def _commandeer_linus_with_graph(start_bot, sqlite_url, connector: FakeConnector,
                                       graph: FakeGraph) -> tuple[Team, Incident]:
    """Linus does not have the app; Graph can install it (installing it for his Entra id
    lets the bot open the 1:1, unless the test says otherwise); Grace commandeers him."""
    connector.not_installed.add(LINUS.id)
    if graph.on_install is None:
        graph.on_install = lambda aad: connector.not_installed.discard(
            LINUS.id if aad == LINUS.aad_object_id else aad)
    team = Team(await start_bot(_graph_settings(sqlite_url, graph)), connector)
    connector.members[LINUS.id] = {"id": LINUS.id, "name": LINUS.name,
                                   "aadObjectId": LINUS.aad_object_id}
    incident = await _commanded(team)
    await team.say("commandeer @Linus gateway", sender=GRACE, mentions=(LINUS,),
                   thread=incident)
    return team, incident


async def test_the_bot_installs_itself_for_someone_it_cannot_message_then_asks_again(
        start_bot, sqlite_url, connector: FakeConnector, graph: FakeGraph):
    team, incident = await _commandeer_linus_with_graph(start_bot, sqlite_url, connector, graph)
    await eventually(lambda: _sent_to(connector, LINUS), timeout=15)
    await team.settle()

    assert graph.installed == {LINUS.aad_object_id: {"1542629c-01b3-4a6d-8f76-1938b779e48d"}}
    [card] = await _sent_to(connector, LINUS)
    assert "You are needed on INC-" in card.text
    assert not any("could not message you" in c.text for c in thread_posts(connector, incident))


async def test_when_installing_fails_the_thread_says_why(
        start_bot, sqlite_url, connector: FakeConnector, graph: FakeGraph):
    graph.install_forbidden = True  # the Graph app lacks the permission
    _, incident = await _commandeer_linus_with_graph(start_bot, sqlite_url, connector, graph)
    post = await eventually(lambda: _thread_post(connector, incident, "could not message you"),
                            timeout=15)
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All" in post.text, post.text
    assert graph.installed == {}


async def _sent_to(connector: FakeConnector, user: User) -> list[Call]:
    chats = {c.response["id"] for c in connector.delivered if c.kind == "create_conversation"
             and (c.body or {}).get("members") == [{"id": user.id}]}
    return [c for c in connector.delivered if c.kind == "send" and c.conversation_id in chats]


async def _thread_post(connector: FakeConnector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


@pytest.mark.slow
async def test_two_replicas_on_postgres_share_the_budget(postgres_url: str, tmp_path: Path,
                                                         limited: FakeConnector):
    replicas = await asyncio.gather(
        BotProcess(postgres_url, tmp_path, name="replica-a").start(),
        BotProcess(postgres_url, tmp_path, name="replica-b").start())
    async with aiohttp.ClientSession() as session:
        declare = teams.channel_message(limited.url,
                                        f"{teams.BOT_MENTION_TEXT} declare Replicated sev1")
        assert await replicas[0].post(session, declare) == 200
        created = await limited.wait_for(1, kind="create_conversation")
        root = created[0].response["activityId"]
        # Teams has answered the thread's creation; the replica commits the thread's id just
        # after. Replies typed before that commit (no person is that fast) would find no
        # incident ("Which incident?"), which under load made this test flaky.
        await eventually(lambda: _thread_recorded(postgres_url), timeout=30)

        async def note(n: int) -> int:
            activity = teams.channel_message(
                limited.url, f"{teams.BOT_MENTION_TEXT} note finding {n}",
                sender=RESPONDERS[n % len(RESPONDERS)], root_id=root)
            return await replicas[n % 2].post(session, activity)

        assert set(await asyncio.gather(*(note(n) for n in range(60)))) == {200}

        async def confirmed() -> bool:
            return _confirmed([c for c in limited.delivered if _is_confirmation(c)], 1) == 60

        await eventually(confirmed, timeout=60)
    assert limited.throttled == 0


async def _thread_recorded(postgres_url: str) -> bool:
    conn = await asyncpg.connect(postgres_url.replace("postgres://", "postgresql://", 1))
    try:
        return bool(await conn.fetchval("SELECT thread_id FROM incident WHERE number = 1"))
    finally:
        await conn.close()


async def test_without_pacing_every_answer_goes_inline(start_bot, sqlite_url,
                                                       connector: FakeConnector):
    """TEAMS_PACING=off, for a connector without Teams' limits (the Agents Playground)."""
    team = Team(await start_bot(make_settings(sqlite_url, teams_pacing=False)), connector)
    incident = await team.declare("Checkout down sev2")
    await team.settle()
    queued = await OutboxMessage.all().count()

    for _ in range(12):
        await team.say("help", thread=incident)

    assert await OutboxMessage.all().count() == queued  # none waited in the outbox
    helps = [c for c in thread_posts(connector, await Incident.get(id=incident.id))
             if "@incident declare" in c.text]
    assert len(helps) == 12


async def test_a_throttled_install_is_tried_again(start_bot, sqlite_url,
                                                  connector: FakeConnector, graph: FakeGraph):
    from bot.incidents.commandeer import InstallForCommandeer

    graph.throttle_next(1, retry_after="1")  # Graph's 429 with Retry-After
    team, _ = await _commandeer_linus_with_graph(start_bot, sqlite_url, connector, graph)

    async def asked_privately() -> list[Call]:
        await team.fire_timers(InstallForCommandeer.KIND)
        return await _sent_to(connector, LINUS)

    await eventually(asked_privately, timeout=15)
    assert [r.status for r in graph.install_requests] == [429, 201]


async def test_a_check_in_the_investigator_cannot_get_privately_is_asked_in_the_thread(
        start_bot, sqlite_url, connector: FakeConnector):
    from bot.incidents.checkins import CheckIn

    connector.not_installed.add(ADA.id)
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    incident = await _commanded(team)  # Ada investigates, Grace commands

    await team.fire_timers(CheckIn.KIND)
    post = await eventually(lambda: _thread_post(connector, incident, "How are you doing?"))

    assert post.text.startswith("<at>Ada Lovelace</at>, I could not message you privately "
                                "(the incident bot is not installed for them in Teams), so "
                                "here it is:")
    assert {e["mentioned"]["id"] for e in post.body["entities"]} == {ADA.id}
    verbs = [a["verb"] for a in post.body["attachments"][0]["content"]["actions"]]
    assert "checkin.ok" in verbs
    refused = await team.press("checkin.ok", {"incidentId": incident.id}, sender=LINUS)
    assert refused["value"] == "This check-in is for the Investigator."
    await team.press("checkin.ok", {"incidentId": incident.id}, sender=ADA)
    assert await TimelineEvent.filter(incident_id=incident.id, kind="checkin").exists()
