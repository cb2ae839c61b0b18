"""The organisation's process file (SEVERITY_FILE): its own severity levels drive what
people type, what the cards and `help sev` say and the rules that depend on the level; a
broken file stops the start with one line per problem naming the line; squads' runbooks
(from `oncall <squad> runbook` or the file) reach the live card and the Investigator."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from bot.__main__ import configuration_error
from bot.errors import CommandError
from bot.incidents.process_file import ProcessFileError, parse
from bot.incidents.staffing import Staff
from bot.store.incident_models import Handover, Incident, TeamSettings
from bot.store.oncall_models import Squad
from bot.teams.command_line import severity_in_title, severity_of
from tests.bot_process import SCRIPT, bot_env
from tests.conftest import make_settings
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.scenario import Team, eventually, thread_posts
from tests.test_incident_channels import channel_settings
from tests.test_private_incidents import TITLE, public_calls

PROCESS = """\
# Acme's incident process.
[[level]]
code = "critical"
name = "Critical"
aliases = ["sev1", "p1"]
criteria = ["Customer data may be at risk", "Checkout is down for everyone"]
review_meeting = true
checkin_minutes = 30

[[level]]
code = "major"
name = "Major"
aliases = ["sev2", "p2"]
criteria = ["A key function is down for some customers", "There is no workaround"]
# Only Critical incidents get a review meeting here (REVIEW_MEETING_SEVERITY says 2).
review_meeting = false

[[level]]
code = "minor"
name = "Minor"
aliases = ["sev3", "p3"]
words = ["low"]
criteria = ["Limited impact, and a workaround exists"]
stakeholders = false

[runbooks]
payments = "https://wiki.example.com/runbooks/payments"
"""


@pytest.fixture
def process_file(tmp_path: Path) -> Path:
    path = tmp_path / "process.toml"
    path.write_text(PROCESS, encoding="utf-8")
    return path


@pytest.fixture
async def team(start_bot, sqlite_url, connector, process_file) -> Team:
    return Team(await start_bot(make_settings(sqlite_url, severity_file=str(process_file))),
                connector)


def _replies(connector, fragment: str):
    return [c for c in connector.of_kind("reply") if fragment in c.text]


async def _reply(connector, fragment: str):
    found = _replies(connector, fragment)
    return found[-1] if found else None


async def _posted(connector, incident: Incident, fragment: str):
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


# --- the file read on its own -----------------------------------------------------------


def test_the_files_levels_are_typed_by_code_alias_number_and_word():
    scale = parse(PROCESS).severity

    assert [level.name for level in scale.levels] == ["Critical", "Major", "Minor"]
    assert severity_of("MAJOR", scale) == 2
    assert severity_of("p1", scale) == 1
    assert severity_of("3", scale) == 3
    assert severity_of("low", scale) == 3
    assert severity_in_title("Checkout down major".split(), scale) == (2, ["Checkout", "down"])
    # A word is read only by `sev`: a title may end in one.
    assert severity_in_title("replica lag low".split(), scale) == (None, "replica lag low".split())
    with pytest.raises(CommandError) as refused:
        severity_of("sev4", scale)
    assert "critical, major, minor, sev1, sev2, sev3, p1, p2, p3" in str(refused.value)


@pytest.mark.parametrize(("text", "line", "says"), [
    ('[[level]]\ncode = "sev1"\nname = "SEV1"\ncriteria = ["x"\n', 4, "not valid TOML"),
    ('[[level]]\ncode = "sev1"\nname = SEV1\ncriteria = ["x"]\n', 3, "not valid TOML"),
    ('[[level]]\ncode = "a"\nname = "A"\naliases = ["p1"]\ncriteria = ["x"]\n\n'
     '[[level]]\ncode = "b"\nname = "B"\naliases = ["P-1"]\ncriteria = ["y"]\n', 10,
     "'p1' is also level 1's"),
    ('[[level]]\ncode = "a"\nname = "A"\ncriteria = ["x"]\ncolour = "red"\n', 5,
     "unknown key 'colour'"),
    ('[[level]]\ncode = "a"\nname = "A"\n\n[[level]]\ncode = "b"\nname = "B"\n'
     'criteria = ["x"]\n', 1, "level 1 (A): 'criteria' is missing"),
    ('[[level]]\ncode = "a"\nname = "A"\ncriteria = []\n', 4, "'criteria' is empty"),
    ('[[level]]\ncode = "status"\nname = "A"\ncriteria = ["x"]\n', 2, "is a command word"),
    ('[[level]]\ncode = "a"\nname = "A"\ncriteria = ["x"]\ncheckin_minutes = "30"\n', 5,
     "'checkin_minutes' must be a whole number"),
    ('[runbooks]\ndb = "http://wiki.example.com/db"\n', 2, "not an https:// link"),
])
def test_a_broken_file_is_refused_naming_the_line(tmp_path, text, line, says):
    path = tmp_path / "process.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ValidationError) as refused:
        make_settings("sqlite://x", severity_file=str(path))

    problem = next(p for p in configuration_error(refused.value).splitlines() if says in p)
    assert problem.startswith(f"  SEVERITY_FILE {path} line {line}: ")


def test_every_problem_of_a_file_is_said_at_once():
    with pytest.raises(ProcessFileError) as refused:
        parse('[[level]]\ncode = "a"\nname = "A"\nsize = 1\n', "p.toml")
    assert refused.value.problems == [
        "SEVERITY_FILE p.toml line 4: level 1: unknown key 'size' (known: code, name, aliases, "
        "words, summary, criteria, review_meeting, stakeholders, checkin_minutes)",
        "SEVERITY_FILE p.toml line 1: level 1 (A): 'criteria' is missing (a few lines saying "
        "when an incident is this severe)",
    ]


def _start(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "process.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                                      SEVERITY_FILE=str(path)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_bot_refuses_to_start_with_a_broken_file_one_line_per_problem(tmp_path) -> None:
    result = _start(tmp_path, '[[level]]\ncode = "a"\nname = "A"\naliases = ["a"]\n'
                              'criteria = ["x"]\nrules = 1\n\n[[level]]\ncode = "b"\n'
                              'name = "B"\n')

    assert result.returncode == 2
    path = tmp_path / "process.toml"
    assert result.stderr.splitlines() == [
        "incident-bot cannot start: the configuration is not usable",
        f"  SEVERITY_FILE {path} line 6: level 1: unknown key 'rules' (known: code, name, "
        "aliases, words, summary, criteria, review_meeting, stakeholders, checkin_minutes)",
        f"  SEVERITY_FILE {path} line 8: level 2 (B): 'criteria' is missing (a few lines "
        "saying when an incident is this severe)",
        f"  SEVERITY_FILE {path} line 4: level 1 (A): 'a' is twice in this level; each code, "
        "alias and word means one level",
        "See docs/configuration.md.",
    ]


def test_the_bot_refuses_to_start_with_a_file_that_is_not_toml(tmp_path) -> None:
    result = _start(tmp_path, '[[level]]\ncode = "a"\nname = A\n')

    assert result.returncode == 2
    assert f"SEVERITY_FILE {tmp_path / 'process.toml'} line 3: not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- through the real endpoint ------------------------------------------------------------


async def test_declare_and_sev_take_the_files_levels(team, connector):
    incident = await team.declare("Checkout down major")

    assert (incident.title, incident.severity) == ("Checkout down", 2)
    declared = await eventually(lambda: _reply(connector, "Declared INC-"))
    assert f"Declared INC-{incident.number} Major: Checkout down." in declared.text
    start = connector.of_kind("create_conversation")[-1]
    assert f"INC-{incident.number} · Major · Investigating" in start.text

    await team.say("sev low", thread=incident)
    await eventually(lambda: _posted(connector, incident, "Severity changed from Major to Minor"))
    assert (await Incident.get(id=incident.id)).severity == 3

    await team.say("sev sev4", thread=incident)
    refused = await eventually(lambda: _reply(connector, "is not a severity"))
    assert "critical, major, minor" in refused.text


async def test_the_declare_form_and_help_sev_show_the_criteria(team, connector):
    await team.say("declare")
    form = await eventually(lambda: _reply(connector, "Declare an incident"))
    [choices] = [item for item in form.body["attachments"][0]["content"]["body"]
                 if item.get("id") == "severity"]
    assert [c["title"] for c in choices["choices"]] == [
        "Critical: Customer data may be at risk",
        "Major: A key function is down for some customers",
        "Minor: Limited impact, and a workaround exists"]
    assert ("**Major**: A key function is down for some customers; There is no workaround"
            in form.text)

    await team.say("help sev")
    helped = await eventually(lambda: _reply(connector, "The levels, most severe first"))
    assert ("- **Critical** (`critical`, `sev1`, `p1`): Customer data may be at risk; "
            "Checkout is down for everyone") in helped.text
    assert ("- **Minor** (`minor`, `sev3`, `p3`, `low`): Limited impact, and a workaround "
            "exists") in helped.text


async def test_the_form_declares_at_the_level_chosen(team, connector):
    await team.press("declare.submit", {"title": "Payments slow", "severity": "3"}, sender=ADA)
    incident = await eventually(lambda: Incident.get_or_none(title="Payments slow"))
    assert incident.severity == 3


async def test_a_role_request_says_what_the_level_means(team, connector):
    incident = await team.declare("Checkout down major")

    await team.say("commander @Grace", thread=incident, mentions=(GRACE,))

    card = await eventually(lambda: _posted(connector, incident, "Commander** role"))
    assert ("Major means: A key function is down for some customers; There is no workaround"
            in card.text)


async def test_the_review_meeting_follows_the_files_rule(team, connector):
    major = await team.declare("Checkout down major")
    critical = await team.declare("Data leak critical")

    for incident in (major, critical):
        await team.say("mitigated", thread=incident)
    opened = await eventually(lambda: _posted(connector, critical, "Post Incident Review draft"))
    assert "A review meeting is recommended" in opened.text
    opened = await eventually(lambda: _posted(connector, major, "Post Incident Review draft"))
    # REVIEW_MEETING_SEVERITY (2) would propose one; the file says Major gets none.
    assert "review meeting" not in opened.text


async def test_without_the_file_the_built_in_levels_stay(local_bot, connector):
    team = Team(local_bot, connector)
    incident = await team.declare("Checkout down sev2")
    assert (incident.title, incident.severity) == ("Checkout down", 2)

    await team.say("help sev")
    helped = await eventually(lambda: _reply(connector, "The levels, most severe first"))
    assert "- **SEV1** (`sev1`, `p1`, `critical`): Customers broadly affected" in helped.text
    await team.say("declare Checkout down major")
    declared = await eventually(lambda: _reply(connector, "Checkout down major"))
    assert "SEV1: Checkout down major." in declared.text


# --- runbooks -------------------------------------------------------------------------------


async def _squad(team: Team, name: str) -> None:
    for member in (GRACE, LINUS):
        team.connector.members[member.id] = {"id": member.id, "name": member.name,
                                             "aadObjectId": member.aad_object_id}
    await team.say(f"oncall {name} rotation weekly 09:00 mon UTC @Grace @Linus",
                   mentions=(GRACE, LINUS))
    await eventually(lambda: Squad.exists(name=name))


async def test_a_squads_runbook_is_on_the_live_card_and_the_investigators_role_card(
    local_bot, connector
):
    team = Team(local_bot, connector)
    await _squad(team, "db")
    await team.say("oncall db runbook https://wiki.example.com/runbooks/db?a=1&b=2")
    await eventually(lambda: _reply(connector, "Squad db's runbook is now"))

    incident = await team.declare("replica lag db")
    await team.fire_timers(Staff.KIND)

    assert incident.runbook == "https://wiki.example.com/runbooks/db?a=1&b=2"
    start = connector.of_kind("create_conversation")[-1]
    assert "**Runbook:** https://wiki.example.com/runbooks/db?a=1&b=2" in start.text
    ask = await eventually(lambda: Handover.get_or_none(to_id=GRACE.id, role="investigator"))
    card = await eventually(lambda: _posted(connector, incident, "Investigator** role"))
    assert "**Runbook:** https://wiki.example.com/runbooks/db?a=1&b=2" in card.text
    command = await eventually(lambda: _posted(connector, incident, "Commander** role"))
    assert "Runbook" not in command.text
    assert ask.incident_id == incident.id


async def test_a_runbook_must_be_an_https_link(local_bot, connector):
    team = Team(local_bot, connector)
    await _squad(team, "db")

    await team.say("oncall db runbook http://wiki.example.com/db")

    refused = await eventually(lambda: _reply(connector, "Cannot use that runbook"))
    assert "is not an https:// link" in refused.text
    assert (await Squad.get(name="db")).runbook is None

    await team.say("oncall db runbook https://wiki.example.com/db")
    await eventually(lambda: _reply(connector, "Squad db's runbook is now"))
    await team.say("oncall db runbook none")
    await eventually(lambda: _reply(connector, "has no runbook of its own"))
    assert (await Squad.get(name="db")).runbook is None


async def test_the_files_runbook_applies_and_the_command_wins(team, connector):
    await _squad(team, "payments")
    first = await team.declare("Card auth failing payments")
    assert first.runbook == "https://wiki.example.com/runbooks/payments"

    await team.say("oncall payments runbook https://runbooks.example.com/payments")
    await eventually(lambda: _reply(connector, "Squad payments's runbook is now"))
    second = await team.declare("Refunds stuck payments")
    assert second.runbook == "https://runbooks.example.com/payments"


async def test_a_squad_may_not_be_named_like_a_severity(team, connector):
    await team.say("oncall major rotation weekly 09:00 mon UTC @Grace", mentions=(GRACE,))

    refused = await eventually(lambda: _reply(connector, "is a severity"))
    assert "'major' is a severity; give the squad another name." in refused.text
    assert not await Squad.exists(name="major")


def test_the_documented_example_file_is_usable():
    page = (Path(__file__).resolve().parents[1] / "docs" / "severity-and-runbooks.md"
            ).read_text(encoding="utf-8")
    example = page.split("```toml\n", 1)[1].split("```", 1)[0]

    process = parse(example, "example.toml")

    assert [level.name for level in process.severity.levels] == ["Critical", "Major", "Minor"]
    assert process.severity.level(1).checkin_minutes == 30
    assert dict(process.runbooks)["db"] == "https://wiki.example.com/runbooks/database"


def test_the_levels_rules_fall_back_to_the_settings_where_the_file_is_silent():
    from bot.incidents.context import Policy

    policy = Policy(severity=parse(PROCESS).severity, meeting_max_severity=3,
                    checkin_interval_s=3600)

    assert [policy.review_meeting(n) for n in (1, 2, 3)] == [True, False, True]
    assert [policy.checkin_s(n) for n in (1, 2, 3)] == [1800, 3600, 3600]
    assert [policy.severity.level(n).stakeholders for n in (1, 2, 3)] == [True, True, False]


_LINK = re.compile(r"(http://\S+/review\.md\?expires=\d+&sig=[0-9a-f]+)")


async def test_the_review_names_the_files_levels(team, connector):
    await team.say("setup")
    incident = await team.declare("Checkout slow for some major")
    await team.say("sev critical", thread=incident)
    await team.say("mitigated", thread=incident)  # the review starts here
    await team.say("pir", thread=incident)

    async def link() -> str:
        found = [m for c in connector.delivered for m in _LINK.findall(c.text)]
        return found[-1] if found else ""

    parts = urlsplit(await eventually(link))
    async with team.bot.session.get(str(team.bot.server.make_url(parts.path)) + "?"
                                    + parts.query) as resp:
        assert resp.status == 200
        review = await resp.text()
    assert "Critical; history: Major at" in review and "Critical at" in review
    assert "SEV1" not in review and "SEV2" not in review


async def test_a_channel_pattern_and_a_private_incidents_line_use_the_files_names(
    start_bot, sqlite_url, connector, graph, process_file
):
    settings = channel_settings(sqlite_url, graph, severity_file=str(process_file),
                                teams_app_catalog_id="1542629c-01b3-4a6d-8f76-1938b779e48d")
    connector.chat_installs = set()
    graph.on_chat_install = connector.chat_installs.add
    for user in (ADA, GRACE, LINUS):
        connector.members[user.id] = {"id": user.id, "name": user.name,
                                      "aadObjectId": user.aad_object_id}
    team = Team(await start_bot(settings), connector)
    await team.say("setup")
    await team.say("setup space channel inc-{number}-{sev}-{title-slug}")
    await eventually(lambda: _channel_space())

    await team.declare("Search slow minor")
    await team.declare(f"private {TITLE} major")
    await team.settle()

    assert [c["displayName"] for c in graph.team_channels()] == ["inc-1-minor-search-slow"]
    [chat] = graph.chats.values()
    assert chat["topic"] == f"INC-2 (private) Major · {TITLE}"
    assert any("A private incident INC-2 is open, Major, Commander: not yet named." in c.text
               for c in public_calls(connector))


async def _channel_space() -> bool:
    return await TeamSettings.filter(space="channel").exists()
