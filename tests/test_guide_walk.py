"""The incident guide walked as a team of seven does it, through the real endpoint: for
each step, what the person who typed sees where they typed it, and what the incident's
thread shows (posts counted: a quiet thread is part of the outcome).

The people: Dennis declares; Ada (primary on-call for db) investigates; Grace (secondary)
commands; Linus is commandeered; Margaret helps; Ken takes over investigating; Bob is
the Customer Support Engineer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.incidents.checkins import CheckIn
from bot.incidents.handovers import ANYONE, ExpireHandover
from bot.incidents.staffing import Staff
from bot.store.incident_models import Commandeer, Handover, HandoverStatus, Incident
from bot.store.models import Job
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.fakes.connector import Call, FakeConnector
from tests.scenario import Team, eventually

DENNIS = User("29:1dennis", "Dennis R", "aad-dennis")
MARGARET = User("29:1margaret", "Margaret Hamilton", "aad-margaret")
KEN = User("29:1ken", "Ken Thompson", "aad-ken")
BOB = User("29:1bob", "Bob Support", "aad-bob")
EVERYONE = (DENNIS, ADA, GRACE, LINUS, MARGARET, KEN, BOB)


def one_to_one(user: User) -> str:
    """The id of the bot's 1:1 chat with `user` (as the fake activities name it)."""
    return f"a:1on1-{user.id}"


class Seen:
    """What the bot sent, per conversation, since the last look; once `incident` is set,
    each look also checks that every notice in its thread mentions the people it names
    (but those whose own action it reports, `by`): outcome 3, for every step."""

    def __init__(self, connector: FakeConnector) -> None:
        self.connector = connector
        self.looked = 0
        self.incident: Incident | None = None

    def new(self, *by: User) -> list[Call]:
        calls = [c for c in self.connector.delivered if c.kind in ("reply", "send")]
        fresh, self.looked = calls[self.looked:], len(calls)
        if self.incident is not None:
            for call in fresh:
                self._names_are_mentions(call, {u.id for u in by})
        return fresh

    def _names_are_mentions(self, call: Call, actors: set[str]) -> None:
        incident = self.incident
        assert incident is not None
        notice = (call.conversation_id == incident.thread_id
                  and call.activity_id == incident.card_activity_id
                  and (call.body or {}).get("text"))
        if not notice:
            return  # an answer to whoever typed, a card, or a 1:1
        named = {u.id for u in EVERYONE if u.name in shown(call)} - actors
        assert named <= _mentioned(call), (shown(call), named - _mentioned(call))

    @staticmethod
    def into(calls: list[Call], conversation: str | None) -> list[Call]:
        return [c for c in calls if c.conversation_id == conversation]

    @staticmethod
    def under_post(calls: list[Call], incident: Incident) -> list[Call]:
        """Replies in the incidents channel outside the incident's thread (under the post
        that typed a command there)."""
        return [c for c in calls if (c.conversation_id or "").startswith(teams.CHANNEL_ID)
                and c.conversation_id != incident.thread_id]


async def _in_chat(team: Team, user: User, text: str) -> None:
    """`user` types `text` in their 1:1 chat with the bot."""
    status, _ = await team.bot.post(teams.personal_message(team.connector.url, text,
                                                           sender=user))
    assert status == 200


def shown(call: Call) -> str:
    """What a person reads: a mention shows as the name."""
    return re.sub(r"</?at>", "", call.text)


def _mentioned(call: Call) -> set[str]:
    body: dict[str, Any] = call.body or {}
    ids = {e["mentioned"]["id"] for e in body.get("entities") or []
           if e.get("type") == "mention"}
    for attachment in body.get("attachments") or []:
        content = attachment.get("content") or {}
        for e in (content.get("msteams") or {}).get("entities") or []:
            ids.add(e["mentioned"]["id"])
    return ids


def _links_to_thread(call: Call, incident: Incident) -> bool:
    return "/l/message/" in call.markup and str(incident.card_activity_id) in call.markup


@pytest.fixture
def team(bot, connector) -> Team:
    return Team(bot, connector)


async def _squad(team: Team) -> None:
    for member in (ADA, GRACE, LINUS, MARGARET):
        team.connector.members[member.id] = {"id": member.id, "name": member.name,
                                             "aadObjectId": member.aad_object_id}
    # This week: Ada primary, Grace secondary.
    await team.say("oncall db rotation weekly 09:00 mon UTC @Ada @Grace @Margaret",
                   mentions=(ADA, GRACE, MARGARET))


@pytest.mark.slow
async def test_the_guide_walked_by_a_team(team: Team, connector: FakeConnector) -> None:
    seen = Seen(connector)
    await team.say("setup", sender=DENNIS)
    await team.say("setup cse @Bob", sender=DENNIS, mentions=(BOB,))
    await _squad(team)
    await team.settle()
    seen.new()

    # Declare for squad db: the thread holds the live card, the two role cards and the
    # room's link; nothing repeats the cards.
    incident = await team.declare("replica lag db sev2", sender=DENNIS)
    await team.fire_timers(Staff.KIND)
    await eventually(lambda: _pending_count(2))
    await team.settle()
    incident = await Incident.get(id=incident.id)
    seen.incident = incident
    calls = seen.new(DENNIS)
    thread = seen.into(calls, incident.thread_id)
    texts = [shown(c) for c in thread]
    role_cards = [t for t in texts if "please take the" in t]
    assert len(role_cards) == 2, texts
    investigator_card = next(t for t in role_cards if "Investigator" in t)
    commander_card = next(t for t in role_cards if "Incident Commander" in t)
    assert "**Why you:** Primary on-call for db." in investigator_card
    assert "**Why you:** Secondary on-call for db." in commander_card
    assert "If you don't answer within 10 min" in investigator_card
    assert "Dennis R keeps the role until someone accepts." in investigator_card
    assert [t for t in texts if "Incident Command Room" in t], texts
    assert len(thread) == 3, texts  # two role cards and the room's link
    assert not [t for t in texts if t.startswith("Asking") or "On-call defaults" in t]
    declared_here = seen.under_post(calls, incident)
    assert [shown(c) for c in declared_here if shown(c).startswith("Declared INC-1 SEV2")]

    # Roles accepted on the cards: one post each in the thread, naming who was released.
    for user, role in ((ADA, "investigator"), (GRACE, "commander")):
        handover = await Handover.get(to_id=user.id, role=role, status=HandoverStatus.PENDING)
        await team.press("handover.accept", {"handoverId": handover.id,
                                             "incidentId": incident.id}, sender=user)
    await team.settle()
    thread = seen.into(seen.new(ADA, GRACE), incident.thread_id)
    assert [shown(c) for c in thread] == [
        "Ada Lovelace accepted and is now the Investigator. Dennis R is released.",
        "Grace Hopper accepted and is now the Incident Commander."]

    # A hypothesis in the thread is answered there; settled from Ada's 1:1 (the guide's
    # word), Ada sees it in her chat with a link, and the thread hears it once.
    await team.say("hypothesis the replica's disk is full", sender=ADA, thread=incident)
    await team.settle()
    thread = seen.into(seen.new(ADA), incident.thread_id)
    [recorded] = thread
    assert shown(recorded).startswith("Hypothesis 1 recorded.")
    await _in_chat(team, ADA, "hypothesis INC-1 1 disproved")
    await team.settle()
    calls = seen.new(ADA)
    [mine] = seen.into(calls, one_to_one(ADA))
    assert shown(mine).startswith("Hypothesis 1 disproved by Ada Lovelace")
    assert _links_to_thread(mine, incident)
    [posted] = seen.into(calls, incident.thread_id)
    assert shown(posted).startswith("Hypothesis 1 disproved by Ada Lovelace")

    # The guide's other word settles the next one; a typo gets the one usage it meant.
    await team.say("hypothesis the failover script hung", sender=ADA, thread=incident)
    await team.say("hypothesis 2 proved", sender=ADA, thread=incident)
    await team.say("hypotheses 2 proved", sender=ADA, thread=incident)
    await team.settle()
    # (The typo's answer is sent inline, the others through the outbox: any order.)
    thread = sorted(shown(c) for c in seen.into(seen.new(ADA), incident.thread_id))
    assert len(thread) == 3, thread
    assert thread[0].startswith("Hypothesis 2 confirmed by Ada Lovelace")
    assert thread[1].startswith("Hypothesis 2 recorded.")
    assert thread[2].startswith("I don't know 'hypotheses'. Did you mean `@incident hypothesis")

    # The Commander commandeers Linus: he is asked 1:1; his answer shows in the thread,
    # mentioning the Commander.
    await team.say("commandeer @Linus we need a DBA", sender=GRACE, mentions=(LINUS,),
                   thread=incident)
    await team.settle()
    calls = seen.new(GRACE)
    [asked] = seen.into(calls, incident.thread_id)
    assert shown(asked).startswith("Asked Linus T privately to join INC-1.")
    request = await Commandeer.get(person_id=LINUS.id)
    await team.press("commandeer.join", {"commandeerId": request.id,
                                         "incidentId": incident.id}, sender=LINUS)
    await team.settle()
    [joining] = seen.into(seen.new(LINUS), incident.thread_id)
    assert shown(joining) == "Linus T is joining (asked by Grace Hopper)."
    assert _mentioned(joining) == {GRACE.id}

    # A task in the thread mentions its owner.
    await team.say("task @Margaret check the replica's disk", sender=ADA,
                   mentions=(MARGARET,), thread=incident)
    await team.settle()
    [task] = seen.into(seen.new(ADA), incident.thread_id)
    assert MARGARET.id in _mentioned(task)

    # Severity and a status update from the Commander's 1:1: answered there, said once
    # in the thread.
    for typed, said in (("sev INC-1 sev3", "Severity changed from SEV2 to SEV3 by Grace"),
                        ("update INC-1 failing over to the standby",
                         "Status update from Grace Hopper: failing over to the standby")):
        await _in_chat(team, GRACE, typed)
        await team.settle()
        calls = seen.new(GRACE)
        [mine] = seen.into(calls, one_to_one(GRACE))
        assert shown(mine).startswith(said) and _links_to_thread(mine, incident), shown(mine)
        assert [shown(c).startswith(said) for c in seen.into(calls, incident.thread_id)] == [True]

    # The check-in: Ada asks for support; the thread's notice mentions the Commander, who
    # is also told 1:1.
    await team.fire_timers(CheckIn.KIND)
    await eventually(lambda: _sent_to(connector, one_to_one(ADA), "How are you doing?"))
    await team.settle()
    [checkin] = seen.into(seen.new(), one_to_one(ADA))
    assert "How are you doing?" in shown(checkin)
    await team.press("checkin.help", {"incidentId": incident.id}, sender=ADA)
    await team.settle()
    calls = seen.new(ADA)
    [support] = seen.into(calls, incident.thread_id)
    assert "asked for support" in shown(support) and _mentioned(support) == {GRACE.id}
    assert [c for c in seen.into(calls, one_to_one(GRACE)) if "Find out what they need" in shown(c)]

    # Handover: Ken takes over investigating; Ada keeps it until he accepts.
    connector.members[KEN.id] = {"id": KEN.id, "name": KEN.name, "aadObjectId": KEN.aad_object_id}
    await team.say("investigator @Ken", sender=ADA, mentions=(KEN,), thread=incident)
    await team.settle()
    [card] = seen.into(seen.new(ADA), incident.thread_id)
    assert "**Why you:** Named by Ada Lovelace." in shown(card)
    assert "Ada Lovelace keeps the role until someone accepts." in shown(card)
    handover = await Handover.get(to_id=KEN.id)
    await team.press("handover.accept", {"handoverId": handover.id,
                                         "incidentId": incident.id}, sender=KEN)
    await team.settle()
    seen.new(KEN)

    # From a group chat the Commander asks Margaret to help investigate: the chat is
    # answered with a link, the thread gets her role card once.
    chat = teams.group_chat_message(
        connector.url, f"{teams.BOT_MENTION_TEXT} assist INC-1 {MARGARET.mention()[0]}",
        sender=GRACE, mentions=[MARGARET])
    assert (await team.bot.post(chat))[0] == 200
    await team.settle()
    calls = seen.new(GRACE)
    [mine] = seen.into(calls, chat["conversation"]["id"])
    assert shown(mine).startswith("Asked Margaret Hamilton to take the extra investigator "
                                  "role on INC-1; they answer on the card in its thread.")
    assert _links_to_thread(mine, incident)
    [card] = seen.into(calls, incident.thread_id)
    assert "Margaret Hamilton" in shown(card) and MARGARET.id in _mentioned(card)

    # Mitigated from the Commander's 1:1: her chat says so, the thread hears it once and
    # gets the review's draft.
    await _in_chat(team, GRACE, "mitigated INC-1")
    await team.settle()
    calls = seen.new(GRACE)
    [mine] = seen.into(calls, one_to_one(GRACE))
    assert shown(mine).startswith("Mitigated by Grace Hopper")
    thread = [shown(c) for c in seen.into(calls, incident.thread_id)]
    assert len(thread) == 2 and thread[0].startswith("Mitigated by Grace Hopper"), thread
    assert thread[1].startswith("Post Incident Review draft:")

    # The review is ready before the resolution: nothing then advises it again.
    await team.say("pir ready", sender=GRACE, thread=incident)
    await team.settle()
    calls = seen.new(GRACE)
    assert [c for c in seen.into(calls, one_to_one(BOB)) if "is ready" in shown(c)]
    await team.say("resolved", sender=GRACE, thread=incident)
    await team.settle()
    [resolved] = seen.into(seen.new(GRACE), incident.thread_id)
    assert "Next: the Post Incident Review" not in shown(resolved)
    assert "The review is ready: close the incident with `@incident close`." in shown(resolved)

    # Closed from the 1:1: answered there, "Incident closed." once in the thread.
    await _in_chat(team, GRACE, "close INC-1")
    await team.settle()
    calls = seen.new(GRACE)
    [mine] = seen.into(calls, one_to_one(GRACE))
    assert shown(mine).startswith("Incident closed.") and _links_to_thread(mine, incident)
    assert [shown(c) for c in seen.into(calls, incident.thread_id)] == ["Incident closed."]


async def _sent_to(connector: FakeConnector, conversation: str, text: str) -> bool:
    return any(c.conversation_id == conversation and text in c.text for c in connector.delivered)


async def _pending_count(count: int) -> bool:
    return await Handover.filter(status=HandoverStatus.PENDING).count() == count


async def test_without_a_squad_anyone_may_be_the_commander(team: Team,
                                                          connector: FakeConnector) -> None:
    seen = Seen(connector)
    await team.say("setup", sender=DENNIS)
    await team.settle()
    seen.new()

    incident = await team.declare("checkout is slow sev2", sender=DENNIS)
    await team.settle()
    incident = await Incident.get(id=incident.id)
    seen.incident = incident
    calls = seen.new(DENNIS)
    [reply] = [c for c in seen.under_post(calls, incident) if "Declared" in shown(c)]
    assert "Nobody is the Incident Commander yet: anyone can take it" in shown(reply)
    [card] = [c for c in seen.into(calls, incident.thread_id) if "Nobody is the" in shown(c)]
    assert "The first to press is the Commander." in shown(card)
    open_call = await Handover.get(to_id=ANYONE)

    # Dennis is the Investigator: he cannot also command.
    data = {"handoverId": open_call.id, "incidentId": incident.id}
    refused = await team.press("handover.accept", data, sender=DENNIS)
    assert "one person cannot hold both roles" in refused["value"]

    # Nobody took it in time: the Investigator is reminded, mentioned, once; the card stays.
    await team.fire_timers(ExpireHandover.KIND)
    await eventually(lambda: _sent_to(connector, str(incident.thread_id), "Nobody has taken"))
    await team.settle()
    [reminder] = seen.into(seen.new(), incident.thread_id)
    assert shown(reminder).startswith("Dennis R: Nobody has taken the Incident Commander role")
    assert _mentioned(reminder) == {DENNIS.id}
    assert (await Handover.get(id=open_call.id)).status is HandoverStatus.PENDING

    # It is taken where the card is: a press sent from a 1:1 is refused.
    away = await team.press("handover.accept", data, sender=LINUS,
                            conversation_id=one_to_one(LINUS))
    assert away["value"] == ("Take it on the card in INC-1's thread in the incidents "
                             "channel.")

    # Grace takes it first; Linus, a moment later, is told.
    taken = await team.press("handover.accept", data, sender=GRACE)
    assert "Taken by Grace Hopper" in str(taken["value"])
    late = await team.press("handover.accept", data, sender=LINUS)
    assert late["value"] == "Grace Hopper took the Incident Commander role first."
    incident = await Incident.get(id=incident.id)
    assert incident.commander_id == GRACE.id
    await team.settle()
    thread = seen.into(seen.new(GRACE), incident.thread_id)
    assert [shown(c) for c in thread if c.kind == "reply"] == [
        "Grace Hopper accepted and is now the Incident Commander."]


async def test_an_open_call_for_a_commander_ends_with_the_incident(
        team: Team, connector: FakeConnector) -> None:
    await team.say("setup", sender=DENNIS)
    incident = await team.declare("false alarm on checkout sev3", sender=DENNIS)
    open_call = await Handover.get(anyone=True)
    await team.say("resolved", sender=DENNIS, thread=incident)
    await team.settle()

    # Nobody is asked to command a resolved incident: the card says so, no reminder comes.
    assert (await Handover.get(id=open_call.id)).status is HandoverStatus.SUPERSEDED
    assert not await Job.filter(kind=ExpireHandover.KIND, status="pending").exists()
    [card] = [u for u in connector.of_kind("update") if "No longer needed." in u.text]
    assert "I'll be the Incident Commander" not in card.text
    late = await team.press("handover.accept", {"handoverId": open_call.id,
                                                "incidentId": incident.id}, sender=GRACE)
    assert late["value"] == "This request is already superseded."
    assert (await Incident.get(id=incident.id)).commander_id is None
