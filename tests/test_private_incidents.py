"""Private incidents (`declare private`, docs/private-incidents.md): a Teams group chat of
the people involved, made through a loopback Microsoft Graph, and nothing about them in
any public place but a redacted line. The real bot, the loopback Bot Connector."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.incidents.privacy import InstallInChat
from bot.store.incident_models import Incident, IncidentMember
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import User
from tests.fakes.connector import Call, FakeConnector
from tests.fakes.graph import FakeGraph
from tests.scenario import Team, eventually

CATALOG_ID = "1542629c-01b3-4a6d-8f76-1938b779e48d"
TITLE = "Payroll export readable by all staff"


def private_settings(url: str, graph: FakeGraph, **overrides: Any) -> Settings:
    base = graph.url.rstrip("/")
    return make_settings(url, graph_client_id="bot-graph-app",
                         graph_client_secret="graph-s3cret-value",
                         graph_token_url=f"{base}/token", graph_api_url=f"{base}/v1.0",
                         teams_app_catalog_id=CATALOG_ID, **overrides)


async def private_team(start_bot: Any, url: str, graph: FakeGraph,
                       connector: FakeConnector) -> Team:
    """A team whose Graph app may make chats; Teams lets the bot post only in the chats
    its app was installed in; Teams knows everyone's Entra id."""
    connector.chat_installs = set()
    graph.on_chat_install = connector.chat_installs.add
    for user in (teams.ADA, teams.GRACE, teams.LINUS):
        connector.members[user.id] = {"id": user.id, "name": user.name,
                                      "aadObjectId": user.aad_object_id}
    team = Team(await start_bot(private_settings(url, graph)), connector)
    await team.say("setup")
    return team


async def in_chat(team: Team, incident: Incident, text: str, *,
                  sender: User = teams.ADA, mentions: tuple[User, ...] = ()) -> None:
    """`@incident <text>` typed in the incident's group chat."""
    for user in mentions:
        text = text.replace(f"@{user.name.split()[0]}", user.mention()[0])
    status, _ = await team.bot.post(teams.group_chat_message(
        team.connector.url, f"{teams.BOT_MENTION_TEXT} {text}", sender=sender,
        mentions=list(mentions), chat_id=incident.thread_id or ""))
    assert status == 200


async def in_1on1(bot: RunningBot, connector: FakeConnector, text: str,
                  sender: User) -> None:
    status, _ = await bot.post(teams.personal_message(connector.url, text, sender=sender))
    assert status == 200


def public_calls(connector: FakeConnector) -> list[Call]:
    """Everything the bot sent into the team's channels."""
    return [c for c in connector.calls if c.kind in ("create_conversation", "reply", "send",
                                                     "update")
            and (teams.CHANNEL_ID in (c.conversation_id or "")
                 or teams.CHANNEL_ID in str((c.body or {}).get("channelData")))]


def answers_to(connector: FakeConnector, conversation: str) -> list[str]:
    return [c.text for c in connector.calls if c.conversation_id == conversation
            and c.kind in ("reply", "send")]


async def declare_private(team: Team, text: str = f"{TITLE} sev2",
                          mentions: tuple[User, ...] = ()) -> Incident:
    incident = await team.declare(f"private {text}", mentions=mentions)
    await team.settle()
    return await Incident.get(id=incident.id)


async def test_declare_private_makes_a_group_chat_whose_first_post_is_the_card(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)

    incident = await declare_private(team, mentions=(teams.GRACE,),
                                     text=f"{TITLE} sev2 @Grace")

    [chat] = graph.chats.values()
    assert incident.private and incident.thread_id == chat["id"] == incident.chat_id
    assert chat["members"] == [teams.ADA.aad_object_id, teams.GRACE.aad_object_id]
    assert chat["topic"] == f"INC-1 (private) SEV2 · {TITLE}"
    assert chat["apps"] == [CATALOG_ID]
    steps = [r.path.rsplit("/", 1)[-1] for r in graph.chat_requests]
    assert steps == ["chats", "installedApps"]  # made once, then the bot installed
    [card] = [c for c in connector.calls if c.conversation_id == chat["id"]
              and c.kind == "send"]
    assert TITLE in card.text and card.body["attachments"]
    assert "INC-1" in card.text
    # The role card for Grace and the room link follow the card into the chat.
    in_the_chat = answers_to(connector, chat["id"])
    assert any("Grace Hopper" in t and "Investigator" in t for t in in_the_chat)
    # The incidents channel saw the redacted line and the redacted answer, nothing else.
    public = public_calls(connector)
    assert public, "the incidents channel was not told"
    assert all(TITLE not in c.text and "Payroll" not in str(c.body) for c in public)
    assert any("A private incident INC-1 is open, SEV2, Commander: not yet named." in c.text
               for c in public)
    assert any("Declared private incident INC-1." in c.text for c in public)
    assert {m.person_id for m in await IncidentMember.filter(incident_id=incident.id)} == {
        teams.ADA.id, teams.GRACE.id}


async def test_only_members_see_it_and_only_in_private_places(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    await team.declare("search slow sev3")  # a public one beside it
    incident = await declare_private(team)

    await in_1on1(team.bot, connector, "list", teams.LINUS)
    await in_1on1(team.bot, connector, "status INC-2", teams.LINUS)
    await in_1on1(team.bot, connector, "note INC-2 I can write here?", teams.LINUS)
    await in_1on1(team.bot, connector, "list", teams.ADA)
    await team.say("status INC-2")  # Ada, a member, but in the incidents channel
    await in_chat(team, incident, "note the export bucket was public for 3 days")
    await team.settle()

    linus = answers_to(connector, f"a:1on1-{teams.LINUS.id}")
    [linus_list, linus_status, linus_note] = linus
    assert "INC-1" in linus_list and "INC-2" not in linus_list and TITLE not in linus_list
    assert "INC-2 is a private incident: only the people working on it" in linus_status
    assert "private incident" in linus_note and "Noted" not in linus_note
    [ada_list] = [t for t in answers_to(connector, f"a:1on1-{teams.ADA.id}") if "INC-1" in t]
    assert "INC-2" in ada_list and TITLE in ada_list
    assert any("INC-2 is private: say it in its group chat" in c.text
               for c in public_calls(connector))
    assert any("Noted" in t for t in answers_to(connector, incident.thread_id or ""))
    assert all(TITLE not in c.text for c in public_calls(connector))


async def test_people_asked_later_join_the_chat_and_may_see_it(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    incident = await declare_private(team)

    await in_chat(team, incident, "commander @Linus", mentions=(teams.LINUS,))
    await in_chat(team, incident, "commandeer @Grace payroll owner", mentions=(teams.GRACE,))
    await eventually(lambda: _members_in_chat(graph, 3))
    await team.settle()

    [chat] = graph.chats.values()
    assert chat["members"] == [teams.ADA.aad_object_id, teams.LINUS.aad_object_id,
                               teams.GRACE.aad_object_id]
    adds = [r for r in graph.chat_requests if r.path.endswith("/members")]
    assert [r.body["user@odata.bind"] for r in adds] == [
        "https://graph.microsoft.com/v1.0/users('aad-linus')",
        "https://graph.microsoft.com/v1.0/users('aad-grace')"]
    assert all(r.body["@odata.type"] == "#microsoft.graph.aadUserConversationMember"
               for r in adds)
    await in_1on1(team.bot, connector, "status INC-1", teams.LINUS)
    await team.settle()
    [status] = [t for t in answers_to(connector, f"a:1on1-{teams.LINUS.id}") if "INC-1" in t]
    assert TITLE in status


async def _members_in_chat(graph: FakeGraph, count: int) -> bool:
    return any(len(c["members"]) >= count for c in graph.chats.values())


async def test_stakeholders_hear_only_that_there_was_an_update(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    await team.say("setup stakeholders", channel="19:stakeholders@thread.tacv2")
    incident = await declare_private(team)

    await in_chat(team, incident, "update rotated the leaked export credentials")
    await team.settle()

    stakeholder_posts = [c for c in connector.of_kind("create_conversation")
                         if "stakeholders" in str(c.body.get("channelData"))]
    [post] = stakeholder_posts
    assert "A private incident INC-1 is open, SEV2" in post.text
    assert "rotated" not in post.text and TITLE not in post.text
    assert any("rotated the leaked export credentials" in t
               for t in answers_to(connector, incident.thread_id or ""))


async def test_a_throttled_install_is_retried_in_the_same_chat(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    graph.fail_chats(429, step="install", retry_after="1")

    await team.say(f"declare private {TITLE}")
    await eventually(lambda: _install_refused(graph))
    await team.fire_timers(InstallInChat.KIND)
    incident = await eventually(_with_thread)

    assert len(graph.chats) == 1
    [chat] = graph.chats.values()
    assert incident.thread_id == chat["id"] and chat["apps"] == [CATALOG_ID]
    assert [r.status for r in graph.chat_requests] == [201, 429, 201]


async def _install_refused(graph: FakeGraph) -> bool:
    return any(r.status == 429 for r in graph.chat_requests)


async def _with_thread() -> Incident | None:
    return await Incident.filter(thread_id__isnull=False, private=True).first()


async def test_graph_refusing_for_good_keeps_it_in_the_declarers_1on1(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    graph.chats_forbidden.add("create")

    incident = await declare_private(team)

    assert incident.space_state == "fallback" and incident.chat_id is None
    assert incident.thread_id == f"a:1on1-{teams.ADA.id}"
    [start] = [c for c in connector.of_kind("create_conversation")
               if not c.body.get("isGroup") and c.body.get("activity")]
    assert start.body["members"] == [{"id": teams.ADA.id}] and TITLE in start.text
    told = answers_to(connector, incident.thread_id)
    assert any("could not get its private group chat" in t and "Chat.Create" in t
               for t in told)
    assert all(TITLE not in c.text for c in public_calls(connector))


async def test_private_without_a_graph_app_is_refused_before_anything_is_made(
    start_bot, sqlite_url, connector
):
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    await team.say("setup")

    await team.say(f"declare private {TITLE}")
    await team.settle()

    assert await Incident.all().count() == 0
    assert any("A private incident needs a Microsoft Graph app" in c.text
               and "Nothing was declared" in c.text for c in connector.of_kind("reply"))


async def test_the_public_status_page_does_not_show_it(start_bot, sqlite_url, graph, connector):
    connector.chat_installs = set()
    graph.on_chat_install = connector.chat_installs.add
    team = Team(await start_bot(private_settings(sqlite_url, graph,
                                                 status_page_tenant_id=teams.TENANT)),
                connector)
    await team.say("setup")
    incident = await declare_private(team)
    await in_chat(team, incident, "update the export bucket is closed again")
    await team.settle()

    for path in ("/status", "/status.json", "/status.atom"):
        async with team.bot.session.get(team.bot.server.make_url(path)) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert TITLE not in page and "INC-1" not in page and "bucket" not in page


async def test_a_card_button_of_a_private_incident_shows_nothing_to_others(
    start_bot, sqlite_url, graph, connector
):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    incident = await declare_private(team)

    status, body = await team.bot.post(teams.card_action(
        connector.url, verb="incident.refresh", card_id="1",
        data={"incidentId": incident.id}, sender=teams.LINUS, trigger="automatic"))
    assert status == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "INC-1 is a private incident" in body["value"] and TITLE not in str(body)

    status, body = await team.bot.post(teams.card_action(
        connector.url, verb="incident.refresh", card_id=incident.card_activity_id or "1",
        data={"incidentId": incident.id}, sender=teams.ADA, trigger="automatic",
        conversation_id=incident.thread_id))
    assert status == 200 and TITLE in str(body)  # its member sees the card


async def test_its_room_does_not_carry_the_title_outside(start_bot, sqlite_url, graph,
                                                         connector):
    team = await private_team(start_bot, sqlite_url, graph, connector)
    incident = await declare_private(team)

    fresh = await eventually(lambda: _with_room(incident))
    assert "Payroll" not in (fresh.room_url or "") and "payroll" not in (fresh.room_url or "")
    assert "Private-Incident" in (fresh.room_url or "")


async def _with_room(incident: Incident) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url else None
