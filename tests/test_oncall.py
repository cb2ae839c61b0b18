"""On-call defaults per the guide: who is asked for Investigator and Commander, in order."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.incidents.context import Ctx, Origin
from bot.incidents.oncall import current, parse_until
from bot.incidents.oncall_import import import_ical
from bot.incidents.people import Person
from bot.incidents.rotation import handoffs_since, next_handoff, on_duty
from bot.incidents.staffing import Staff
from bot.store.incident_models import Handover, HandoverStatus, Incident
from bot.store.oncall_models import OnCallOverride, Squad
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.scenario import Team, eventually, thread_posts

MARGARET = User("29:1margaret", "Margaret Hamilton", "aad-margaret")
KEN = User("29:1ken", "Ken Thompson", "aad-ken")
DECLARER = User("29:1dennis", "Dennis R", "aad-dennis")


async def _squad(team: Team, *members: User) -> None:
    for member in members:  # what GET .../members/{id} answers, as Teams does
        team.connector.members[member.id] = {"id": member.id, "name": member.name,
                                             "aadObjectId": member.aad_object_id}
    mentions = " ".join(f"@{m.name.split()[0]}" for m in members)
    await team.say(f"oncall db rotation weekly 09:00 mon UTC {mentions}", mentions=members)
    await eventually(lambda: Squad.exists(name="db"))


async def _handover_to(user: User, role: str) -> Handover | None:
    return await Handover.filter(to_id=user.id, role=role, status=HandoverStatus.PENDING).first()


async def _accept(team: Team, handover: Handover, user: User) -> None:
    await team.press("handover.accept", {"handoverId": handover.id,
                                         "incidentId": handover.incident_id}, sender=user)


async def _declared(team: Team) -> Incident:
    incident = await team.declare("replica lag db", sender=DECLARER)
    await team.fire_timers(Staff.KIND)
    return incident


@pytest.fixture
async def team(bot, connector) -> Team:
    return Team(bot, connector)


async def test_the_primary_accepts_investigator_and_the_secondary_is_asked_to_command(team):
    await _squad(team, ADA, GRACE, LINUS)  # this week: Ada primary, Grace secondary
    incident = await _declared(team)

    assert incident.squad == "db" and incident.title == "replica lag"
    ask = await eventually(lambda: _handover_to(ADA, "investigator"))
    assert ask.reason == "primary on-call for db"
    assert (await Incident.get(id=incident.id)).investigator_id == DECLARER.id
    command = await eventually(lambda: _handover_to(GRACE, "commander"))
    assert command.reason == "secondary on-call for db"

    await _accept(team, ask, ADA)
    await _accept(team, command, GRACE)

    incident = await Incident.get(id=incident.id)
    assert (incident.investigator_id, incident.commander_id) == (ADA.id, GRACE.id)


async def test_when_the_primary_declines_the_secondary_becomes_investigator(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE, LINUS)
    incident = await _declared(team)
    ask = await eventually(lambda: _handover_to(ADA, "investigator"))

    await team.press("handover.decline", {"handoverId": ask.id, "incidentId": incident.id},
                     sender=ADA)

    second = await eventually(lambda: _handover_to(GRACE, "investigator"))
    assert second.reason == "secondary on-call for db; Ada Lovelace declined"
    await _accept(team, second, GRACE)
    incident = await Incident.get(id=incident.id)
    assert incident.investigator_id == GRACE.id
    # Grace cannot also command: the Commander request moves on to the squad.
    assert (await Handover.get(to_id=GRACE.id, role="commander")).status is \
        HandoverStatus.SUPERSEDED
    linus = await eventually(lambda: _handover_to(LINUS, "commander"))
    assert linus.reason.endswith("; Grace Hopper took the Investigator role")
    await team.settle()
    # The new role cards say why (and who passed before): no post repeats them.
    posts = " ".join(c.text for c in thread_posts(connector, incident))
    assert "Why you:** Secondary on-call for db; Ada Lovelace declined." in posts
    assert "asking" not in posts.lower()


async def test_no_answer_in_time_moves_on_like_a_decline(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE)
    await _declared(team)
    await eventually(lambda: _handover_to(ADA, "investigator"))

    await team.fire_timers("handover.expire")

    assert await eventually(lambda: _handover_to(GRACE, "investigator"))


async def test_an_unavailable_secondary_is_passed_over_for_an_online_squad_member(
    start_bot, sqlite_url, connector, graph
):
    settings = make_settings(sqlite_url, graph_client_id="graph-app",
                             graph_client_secret="graph-secret",
                             graph_token_url=graph.url + "token",
                             graph_api_url=graph.url + "v1.0")
    team = Team(await start_bot(settings), connector)
    graph.presence = {ADA.aad_object_id: ("Available", False),
                      GRACE.aad_object_id: ("Offline", False),
                      LINUS.aad_object_id: ("Away", False),
                      MARGARET.aad_object_id: ("Available", False)}
    await _squad(team, ADA, GRACE, LINUS, MARGARET)
    incident = await _declared(team)

    assert await eventually(lambda: _handover_to(ADA, "investigator"))
    commander = await eventually(lambda: _handover_to(MARGARET, "commander"))
    assert commander.reason == "online member of db"
    # Linus (Away) next; the offline secondary only as a last resort.
    assert [c["id"] for c in commander.next_candidates] == [LINUS.id, GRACE.id]
    assert await _handover_to(GRACE, "commander") is None
    [lookup] = graph.lookups
    assert set(lookup["ids"]) == {u.aad_object_id for u in (ADA, GRACE, LINUS, MARGARET)}
    assert lookup["auth"] == "Bearer graph-1"
    await team.settle()
    posts = " ".join(c.text for c in thread_posts(connector, await Incident.get(id=incident.id)))
    assert "Grace Hopper (secondary on-call for db) is offline" in posts
    assert len(connector.of_kind("get_member")) == 4


async def test_out_of_office_counts_as_unavailable(start_bot, sqlite_url, connector, graph):
    settings = make_settings(sqlite_url, graph_client_id="g", graph_client_secret="s",
                             graph_token_url=graph.url + "token",
                             graph_api_url=graph.url + "v1.0")
    team = Team(await start_bot(settings), connector)
    graph.presence = {ADA.aad_object_id: ("Busy", True)}
    await _squad(team, ADA, GRACE, LINUS)
    await _declared(team)

    assert await eventually(lambda: _handover_to(GRACE, "investigator"))
    assert await _handover_to(ADA, "investigator") is None


async def test_naming_people_at_declaration_wins_over_the_defaults(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE)
    await team.declare("db down db @Dennis @Linus", sender=DECLARER, mentions=(DECLARER, LINUS))
    await team.fire_timers(Staff.KIND)
    await team.settle()

    assert await _handover_to(LINUS, "commander")
    assert await _handover_to(ADA, "investigator") is None


async def test_a_channel_default_squad_applies_without_naming_it(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE)
    await team.say("oncall db default")
    await team.declare("checkout errors", sender=DECLARER)
    await team.fire_timers(Staff.KIND)

    assert await eventually(lambda: _handover_to(ADA, "investigator"))


async def test_oncall_commands_set_cover_and_overrides(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE, LINUS)

    await team.say("oncall db secondary @Ken", mentions=(KEN,))
    await team.say("oncall db override @Margaret until +4h", mentions=(MARGARET,))
    await team.say("oncall")

    shown = await eventually(lambda: _reply(connector, "db: primary"))
    assert "db: primary Margaret Hamilton, secondary Ken Thompson" in shown.text
    squad = await Squad.get(name="db")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    primary, _ = await current(squad, later)
    assert primary.person.id == ADA.id  # the override has ended


async def _reply(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


def test_weekly_hand_off_follows_the_squads_wall_clock_across_utc_days():
    anchor = dt.date(2026, 11, 2)  # a Monday; Sydney is UTC+11 in November
    common = dict(anchor=anchor, period="weekly", handoff_time="09:00", weekday=0,
                  zone="Australia/Sydney")
    before = handoffs_since(at=dt.datetime(2026, 11, 29, 21, 59, tzinfo=dt.UTC),
                            **common)
    after = handoffs_since(at=dt.datetime(2026, 11, 29, 22, 1, tzinfo=dt.UTC),
                           **common)

    assert (before, after) == (3, 4)
    assert on_duty(["a", "b", "c"], before) == ("a", "b")
    assert on_duty(["a", "b", "c"], after) == ("b", "c")
    assert next_handoff(at=dt.datetime(2026, 11, 29, 21, 59, tzinfo=dt.UTC),
                        period="weekly", handoff_time="09:00", weekday=0,
                        zone="Australia/Sydney") == dt.datetime(2026, 11, 29, 22, 0,
                                                                tzinfo=dt.UTC)


def test_daily_hand_off_keeps_local_time_across_a_daylight_saving_change():
    common = dict(anchor=dt.date(2026, 10, 20), period="daily", handoff_time="09:00",
                  weekday=0, zone="Europe/London")
    # London leaves summer time on 25 Oct 2026: 09:00 local is 08:00 UTC then 09:00 UTC.
    assert handoffs_since(at=dt.datetime(2026, 10, 24, 8, 1, tzinfo=dt.UTC),
                          **common) == 4
    assert handoffs_since(at=dt.datetime(2026, 10, 26, 8, 59, tzinfo=dt.UTC),
                          **common) == 5
    assert handoffs_since(at=dt.datetime(2026, 10, 26, 9, 1, tzinfo=dt.UTC),
                          **common) == 6


def test_until_accepts_dates_clock_times_and_offsets():
    now = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)

    assert parse_until("+4h", now=now, zone="UTC") == now + dt.timedelta(hours=4)
    assert parse_until("08:00", now=now, zone="UTC") == dt.datetime(
        2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    assert parse_until("2026-11-28 18:00", now=now, zone="Europe/Berlin") == dt.datetime(
        2026, 11, 28, 17, 0, tzinfo=dt.UTC)


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//oncall//EN
BEGIN:VEVENT
UID:1
SUMMARY:Primary: Grace Hopper
DTSTART:20261201T090000Z
DTEND:20261208T090000Z
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Secondary - Linus T
DTSTART:20261201T090000Z
DTEND:20261208T090000Z
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:Primary: Someone Else
DTSTART:20261208T090000Z
DTEND:20261215T090000Z
END:VEVENT
END:VCALENDAR
"""


async def test_an_icalendar_schedule_becomes_overrides(db):
    tenant = teams.TENANT
    ctx = Ctx(actor=Person(ADA.id, ADA.name), origin=Origin(tenant, "http://x/"))
    from bot.incidents.oncall import define_rotation

    await define_rotation(ctx, "db", period="weekly", handoff="09:00", weekday="mon", zone="UTC",
                          people=[Person(u.id, u.name, u.aad_object_id) for u in (ADA, GRACE,
                                                                                  LINUS)])
    result = await import_ical(tenant, "db", ICS)

    assert result.imported == 2
    assert result.skipped == ["Primary: Someone Else: no squad member of that name"]
    squad = await Squad.get(name="db")
    primary, secondary = await current(squad, dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    assert (primary.person.id, secondary.person.id) == (GRACE.id, LINUS.id)
    assert "override" in primary.why
    # Importing again replaces, not duplicates.
    await import_ical(tenant, "db", ICS)
    assert await OnCallOverride.filter(source="ical").count() == 2


async def test_a_secondary_who_declares_commands_and_the_primary_is_asked_to_investigate(
    local_bot, connector
):
    team = Team(local_bot, connector)
    await _squad(team, ADA, GRACE, LINUS)  # Ada primary, Grace secondary
    await team.declare("replica lag db", sender=GRACE)
    await team.fire_timers(Staff.KIND)

    assert await eventually(lambda: _handover_to(ADA, "investigator"))
    incident = await eventually(lambda: _commanded_by(GRACE))
    assert incident.investigator_id is None  # open until Ada accepts
    assert await _handover_to(LINUS, "commander") is None


async def _commanded_by(user: User) -> Incident | None:
    return await Incident.filter(commander_id=user.id).first()


def test_a_wrong_timezone_or_holiday_calendar_is_refused_at_start():
    with pytest.raises(ValueError, match="TIMEZONE"):
        make_settings("sqlite://x", timezone="Europe/Londn")
    with pytest.raises(ValueError, match="HOLIDAYS_COUNTRY"):
        make_settings("sqlite://x", holidays_country="XX")
    assert make_settings("sqlite://x", holidays_country="gb-eng").holidays_country == "GB-ENG"


async def test_only_admins_change_the_rotation_once_admins_are_named(start_bot, sqlite_url,
                                                                     connector):
    team = Team(await start_bot(make_settings(sqlite_url, admin_user_ids=ADA.id)), connector)
    await _squad(team, ADA, GRACE)

    await team.say("oncall db primary @Linus", sender=GRACE, mentions=(LINUS,))

    assert await eventually(lambda: _reply(connector, "Only the bot's admins"))
    assert not await OnCallOverride.exists()
