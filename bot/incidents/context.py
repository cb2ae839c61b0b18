"""Who is acting, from where, under which rules: what every domain service is given."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.incidents.notices import Notice
from bot.incidents.people import Person
from bot.incidents.severity import BUILT_IN, SeverityScale


@dataclass(frozen=True)
class Origin:
    """Where a command came from; empty for timers."""

    tenant_id: str
    service_url: str
    conversation_id: str = ""
    conversation_type: str = ""  # channel, groupChat or personal
    team_id: str | None = None
    channel_id: str | None = None
    # The team's Entra group id (Graph's team id), when Teams sent it.
    team_aad_group_id: str | None = None


@dataclass(frozen=True)
class Policy:
    """Timings and privileges an organisation can set."""

    handover_timeout_s: int = 15 * 60
    commandeer_timeout_s: int = 10 * 60
    checkin_interval_s: int = 60 * 60
    # How long someone asked by the on-call defaults has before the next one is asked.
    oncall_answer_s: int = 10 * 60
    # How long a "Be the Commander" card waits before the Investigator is reminded.
    commander_wanted_s: int = 5 * 60
    admin_ids: frozenset[str] = frozenset()
    # Video providers to try for the Incident Command Room, in order (empty: none).
    video_chain: tuple[str, ...] = ("jitsi",)
    # Working-day rules for review due times, unless the team set its own.
    timezone: str = "UTC"
    holidays_country: str = ""
    # Where review links point, and how long they work.
    base_url: str = "http://127.0.0.1:3978"
    review_link_s: int = 72 * 3600
    # Follow-up actions are filed in a tracker (GitHub, Jira, Trello) when one is configured.
    tracker_enabled: bool = False
    # A ready review is also exported as a Google Doc when Google is configured.
    docs_enabled: bool = False
    # Incidents this severe or worse get a review meeting proposed (SEV1 and SEV2), unless
    # the level says otherwise (`Level.review_meeting`, from the process file).
    meeting_max_severity: int = 2
    # The severity levels, their names, criteria and rules (SEVERITY_FILE, else built in).
    severity: SeverityScale = BUILT_IN
    # Runbook links by squad name from the process file (a squad's own link wins).
    runbooks: tuple[tuple[str, str], ...] = ()
    # External communication: the tenant whose incidents go public (empty: nobody's), who
    # besides the Commander may publish, the components customers know, Statuspage sync.
    status_tenant_id: str = ""
    external_roles: frozenset[str] = frozenset({"commander"})
    components: tuple[str, ...] = ()
    statuspage_enabled: bool = False
    # A Graph app is configured: a team may choose a channel per incident.
    graph_enabled: bool = False
    # ... and knows the app's catalog id: private incidents get a group chat.
    private_enabled: bool = False
    # Zoom reports who joins and leaves rooms (its webhook secret is set), and when the
    # Investigator should have joined a new room (bot.incidents.attendance).
    room_attendance: bool = False
    room_join_check_s: int = 10 * 60
    # How often a Google Meet room's attendance is read (0: never).
    meet_poll_s: int = 60
    # Teams rooms' attendance reports are read (TEAMS_ATTENDANCE), and how often.
    teams_attendance: bool = False
    teams_poll_s: int = 300
    # What people write in an incident's thread, channel or chat without mentioning the
    # bot goes on its timeline (CAPTURE_CONVERSATION, bot.incidents.conversation).
    capture_conversation: bool = False

    def review_meeting(self, level: int) -> bool:
        """Whether a review meeting is proposed for an incident of this level."""
        said = self.severity.level(level).review_meeting
        return level <= self.meeting_max_severity if said is None else said

    def checkin_s(self, level: int) -> int:
        """How often the Investigator of an incident of this level is checked in with."""
        minutes = self.severity.level(level).checkin_minutes
        return self.checkin_interval_s if minutes is None else minutes * 60

    def file_runbook(self, squad: str) -> str | None:
        """The process file's runbook for the squad, if it gives one."""
        return dict(self.runbooks).get(squad.lower())


@dataclass
class Ctx:
    """One command's (or timer's) view: actor, origin, rules, the clock, what to say."""

    actor: Person
    origin: Origin
    policy: Policy = field(default_factory=Policy)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    notices: list[Notice] = field(default_factory=list)

    def tell(self, *notices: Notice) -> None:
        """Queue messages; they leave only if the transaction commits."""
        self.notices.extend(notices)

    @property
    def now_ms(self) -> int:
        """`now` in the unit of the job table."""
        return int(self.now.timestamp() * 1000)
