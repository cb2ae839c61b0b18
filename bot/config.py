"""The one configuration object, read from the environment (and `.env`) once.

Names are listed in docs/architecture.md and explained in docs/configuration.md;
Microsoft's sample names are kept for the Bot Framework credentials so that an existing
Azure Bot registration can be reused as is.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.incidents import alert_rules, process_file, severity
from bot.incidents.context import Policy
from integrations.jira_issues import oauth_base

if TYPE_CHECKING:
    from bot.web.review_template import ReviewTemplate

PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_TOKEN_ISSUER = "https://api.botframework.com"
PUBLIC_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
# Who may publish external updates, besides admins (EXTERNAL_UPDATE_ROLES).
EXTERNAL_ROLES = frozenset({"commander", "investigator", "assistant", "anyone"})
# What Teams meetings as the room need (integrations.teams_meetings, docs/teams-meetings.md).
TEAMS_NEEDS = ("GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID (or GRAPH_TOKEN_URL) "
               "and TEAMS_MEETING_ORGANIZER")
# Follow-up trackers (FOLLOW_UP_TRACKER) and where setting one up is explained.
TRACKERS = ("github", "jira", "trello")
TRACKER_DOCS = "see docs/follow-up-trackers.md"
_JIRA_PROJECT = re.compile(r"[A-Z][A-Z0-9_]*")
_TRELLO_ID = re.compile(r"[0-9a-fA-F]{24}")
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class Mode(str, Enum):
    """Whether incoming requests are authenticated."""

    LOCAL = "local"
    AUTHENTICATED = "authenticated"


def _comma_set(value: object) -> object:
    """`a, b,,c` -> {"a", "b", "c"}; sets and lists are taken as they are."""
    if isinstance(value, str):
        return frozenset(item.strip() for item in value.split(",") if item.strip())
    return value


def _whole(unit: str) -> Callable[[object], object]:
    """Read a whole number of `unit`s (at least 1) as a duration; durations pass."""
    def read(value: object) -> object:
        if isinstance(value, dt.timedelta):
            return value
        try:
            count = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number of {unit}") from None
        if count < 1:
            raise ValueError(f"{count} {unit}: it must be at least 1")
        return dt.timedelta(**{unit: count})

    return read


# Comma-separated ids in the environment (never JSON), a set in the program.
IdSet = Annotated[frozenset[str], NoDecode, BeforeValidator(_comma_set)]
# Durations given in the unit their variable names (`..._MINUTES`, `..._HOURS`).
Minutes = Annotated[dt.timedelta, BeforeValidator(_whole("minutes"))]
Hours = Annotated[dt.timedelta, BeforeValidator(_whole("hours"))]


class Settings(BaseSettings):
    """Everything the bot can be told from outside; passed down explicitly, never global."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, case_sensitive=False
    )

    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "app_id"))
    app_password: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("MicrosoftAppPassword", "app_password")
    )
    app_type: str = Field("MultiTenant", validation_alias=AliasChoices("MicrosoftAppType", "app_type"))
    app_tenant_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppTenantId", "app_tenant_id"))
    port: int = 3978
    host: str = ""
    database_url: str = "sqlite://incident-bot.sqlite3"
    video_provider: str = ""
    zoom_account_id: str = ""
    zoom_client_id: str = ""
    zoom_client_secret: SecretStr = SecretStr("")
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_host_user: str = "me"
    # The Secret Token of the Zoom event subscription: with it, Zoom rooms report who
    # joins and leaves (POST /api/zoom/events, bot.web.zoom_events).
    zoom_webhook_secret_token: SecretStr = SecretStr("")
    google_service_account_file: str = ""
    google_delegated_user: str = ""
    google_api_endpoint: str = ""
    video_fallback: str = ""
    video_timeout_s: float = Field(
        15.0, validation_alias=AliasChoices("VIDEO_TIMEOUT_SECONDS", "video_timeout_s")
    )
    jitsi_base_url: str = "https://meet.jit.si"
    allowed_tenant_ids: IdSet = frozenset()
    bot_openid_metadata_url: str = PUBLIC_OPENID_METADATA_URL
    bot_token_issuer: str = PUBLIC_TOKEN_ISSUER
    bot_token_url: str = ""
    public_base_url: str = ""
    log_level: str = "INFO"
    log_format: str = "text"
    metrics_token: SecretStr = SecretStr("")
    graph_tenant_id: str = ""
    graph_client_id: str = ""
    graph_client_secret: SecretStr = SecretStr("")
    graph_api_url: str = "https://graph.microsoft.com/v1.0"
    graph_token_url: str = ""
    # The Entra object id of the user Teams meetings are created for (VIDEO_PROVIDER=teams).
    teams_meeting_organizer: str = ""
    # The bot's id in the tenant's Teams app catalog: with it (and the Graph app granted
    # TeamsAppInstallation.ReadWriteSelfForUser.All), the bot installs itself for someone
    # it cannot message 1:1 (integrations.teams_apps).
    teams_app_catalog_id: str = ""
    # Spend Teams' rate limits in the bot (bot.teams.pacing). Off only for a Bot Connector
    # without Teams' limits (the Agents Playground, a loopback benchmark).
    teams_pacing: bool = True
    # Record what people write in incident places without mentioning the bot
    # (bot.incidents.conversation); `incident-bot package` then asks for the RSC
    # permissions that make Teams send those messages (docs/conversation-capture.md).
    capture_conversation: bool = False
    oncall_answer: Minutes = Field(dt.timedelta(minutes=10), validation_alias=AliasChoices(
        "ONCALL_ANSWER_MINUTES", "oncall_answer_minutes"))
    timezone: str = "UTC"
    holidays_country: str = ""
    github_repository: str = ""
    github_token: SecretStr = SecretStr("")
    github_api_url: str = "https://api.github.com"
    # Where follow-up actions are filed: github, jira or trello (docs/follow-up-trackers.md);
    # empty: the one configured, GitHub first.
    follow_up_tracker: str = ""
    jira_base_url: str = ""
    jira_site_url: str = ""
    jira_email: str = ""
    jira_api_token: SecretStr = SecretStr("")
    jira_oauth_token: SecretStr = SecretStr("")
    jira_project_key: str = ""
    jira_issue_type: str = "Task"
    trello_api_key: SecretStr = SecretStr("")
    trello_token: SecretStr = SecretStr("")
    trello_list_id: str = ""
    trello_api_url: str = "https://api.trello.com/1"
    review_meeting_severity: int = Field(2, ge=0, le=4)
    # The organisation's process file: severity levels and runbooks (TOML,
    # docs/severity-and-runbooks.md); empty: the built-in SEV1-SEV4.
    severity_file: str = ""
    # The organisation's review template (Markdown, docs/review-template.md); empty: the
    # built-in one (bot/web/review_template.md).
    review_template_file: str = ""
    review_link: Hours = Field(dt.timedelta(hours=72), validation_alias=AliasChoices(
        "REVIEW_LINK_HOURS", "review_link_hours"))
    admin_user_ids: IdSet = frozenset()
    handover_timeout: Minutes = Field(dt.timedelta(minutes=15), validation_alias=AliasChoices(
        "HANDOVER_TIMEOUT_MINUTES", "handover_timeout_minutes"))
    commander_wanted: Minutes = Field(dt.timedelta(minutes=5), validation_alias=AliasChoices(
        "COMMANDER_WANTED_MINUTES", "commander_wanted_minutes"))
    commandeer_timeout: Minutes = Field(dt.timedelta(minutes=10), validation_alias=AliasChoices(
        "COMMANDEER_TIMEOUT_MINUTES", "commandeer_timeout_minutes"))
    checkin_interval: Minutes = Field(dt.timedelta(minutes=60), validation_alias=AliasChoices(
        "CHECKIN_INTERVAL_MINUTES", "checkin_interval_minutes"))
    room_join_check: Minutes = Field(dt.timedelta(minutes=10), validation_alias=AliasChoices(
        "ROOM_JOIN_CHECK_MINUTES", "room_join_check_minutes"))
    # How often a Google Meet room's attendance is read while its incident is open (0: not).
    meet_attendance_poll_s: int = Field(60, ge=0, le=3600, validation_alias=AliasChoices(
        "MEET_ATTENDANCE_POLL_SECONDS", "meet_attendance_poll_seconds"))
    # Read Teams rooms' attendance reports (needs OnlineMeetingArtifact.Read.All,
    # docs/teams-meetings.md), every so often while the incident is open.
    teams_attendance: bool = False
    teams_attendance_poll_s: int = Field(300, ge=30, le=3600, validation_alias=AliasChoices(
        "TEAMS_ATTENDANCE_POLL_SECONDS", "teams_attendance_poll_seconds"))
    status_page_tenant_id: str = ""
    status_page_title: str = "Service status"
    status_page_days: int = Field(14, ge=1, le=365)
    status_components: str = ""
    external_update_roles: str = "commander"
    statuspage_page_id: str = ""
    statuspage_api_key: SecretStr = SecretStr("")
    statuspage_api_url: str = "https://api.statuspage.io/v1"
    # Alerts from Alertmanager and Grafana (docs/alerts.md): the rules file, and the tenant
    # whose incidents channel gets the cards (empty: the only allowed tenant, else the only
    # tenant with a team set up).
    alert_rules_file: str = ""
    alerts_tenant_id: str = ""

    journal_dir: str = ""
    journal_max_mb: int = Field(64, ge=1)
    database_timeout_s: float = Field(
        5.0, gt=0, le=60, validation_alias=AliasChoices("DATABASE_TIMEOUT_SECONDS", "database_timeout_s")
    )
    request_body_timeout_s: float = Field(
        10.0, gt=0, le=120,
        validation_alias=AliasChoices("REQUEST_BODY_TIMEOUT_SECONDS", "request_body_timeout_s"),
    )
    max_connections: int = Field(0, ge=0)
    _alert_rules: alert_rules.AlertRules = PrivateAttr(default_factory=alert_rules.AlertRules)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            raise ValueError(f"TIMEZONE {value!r} is not a time zone like Europe/London") from None
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError(f"LOG_FORMAT {value!r} is neither 'text' nor 'json'")
        return value.strip().lower()

    @field_validator("holidays_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.strip().upper()
        country, _, region = code.partition("-")
        if code:
            regions = holidays.list_supported_countries().get(country)
            if regions is None or (region and region not in regions):
                raise ValueError(f"HOLIDAYS_COUNTRY {value!r} is not a country (DE) or country "
                                 "and region (GB-ENG) the holidays calendar knows")
        return code

    @field_validator("external_update_roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        roles = {r.strip().lower() for r in value.split(",") if r.strip()}
        unknown = roles - EXTERNAL_ROLES
        if unknown:
            raise ValueError(f"EXTERNAL_UPDATE_ROLES names unknown roles {sorted(unknown)}; "
                             f"use some of {sorted(EXTERNAL_ROLES)}")
        return ",".join(sorted(roles))

    @field_validator("teams_meeting_organizer")
    @classmethod
    def _object_id(cls, value: str) -> str:
        # Graph's onlineMeetings take the organizer's object id in the path; a UPN there is
        # answered 404 (https://learn.microsoft.com/graph/api/application-post-onlinemeetings).
        value = value.strip()
        if value and not _OBJECT_ID.match(value):
            raise ValueError(f"TEAMS_MEETING_ORGANIZER {value!r} is not an Entra object id "
                             "(a GUID such as 748d2cbb-3b55-40ed-8c34-2eae5932b22a): Graph "
                             "creates online meetings only for a user's object id, not their "
                             "sign-in name; see docs/teams-meetings.md")
        return value

    @field_validator("follow_up_tracker")
    @classmethod
    def _known_tracker(cls, value: str) -> str:
        name = value.strip().lower()
        if name and name not in TRACKERS:
            raise ValueError(f"FOLLOW_UP_TRACKER {value!r} is none of {', '.join(TRACKERS)}")
        return name

    @field_validator("severity_file")
    @classmethod
    def _usable_process_file(cls, value: str) -> str:
        """Read at start so that a broken file stops it, one line per problem."""
        if value.strip():
            process_file.load(value.strip(), reserved=_command_words())
        return value.strip()

    @field_validator("review_template_file")
    @classmethod
    def _usable_review_template(cls, value: str) -> str:
        """Read at start so that a broken template stops it, one line per problem (never
        an unknown placeholder when a review is shown)."""
        if value.strip():
            from bot.web import review_template  # the web layer imports this module

            review_template.load(value.strip())
        return value.strip()

    @model_validator(mode="after")
    def _trackers_configured(self) -> Settings:
        # One line per problem: `incident-bot` prints each line of the message on its own.
        problems = [problem for problem in (self._github_problem(), self._jira_problem(),
                                            self._trello_problem()) if problem]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _github_problem(self) -> str:
        # Half a GitHub configuration has always meant "no tracker"; only naming it is wrong.
        if self.follow_up_tracker != "github" or self._github_configured:
            return ""
        missing = [name for name, value in (("GITHUB_REPOSITORY", self.github_repository),
                                            ("GITHUB_TOKEN", self.github_token)) if not _set(value)]
        return f"FOLLOW_UP_TRACKER names github, which needs {', '.join(missing)}"

    def _jira_problem(self) -> str:
        values = (self.jira_base_url, self.jira_site_url, self.jira_email, self.jira_api_token,
                  self.jira_oauth_token, self.jira_project_key)
        if self.follow_up_tracker != "jira" and not any(_set(v) for v in values):
            return ""
        api_token, oauth = _set(self.jira_api_token), _set(self.jira_oauth_token)
        missing = [name for name, value in (("JIRA_BASE_URL", self.jira_base_url),
                                            ("JIRA_PROJECT_KEY", self.jira_project_key))
                   if not value.strip()]
        if oauth and (api_token or self.jira_email):
            return ("Jira: set JIRA_EMAIL and JIRA_API_TOKEN, or JIRA_OAUTH_TOKEN, not both "
                    f"({TRACKER_DOCS})")
        if not oauth:
            missing += [name for name, value in (("JIRA_EMAIL", self.jira_email),
                                                 ("JIRA_API_TOKEN", api_token)) if not value]
        if oauth_base(self.jira_base_url) and not self.jira_site_url:
            missing.append("JIRA_SITE_URL (https://<site>.atlassian.net, for the links)")
        if missing:
            how = "" if oauth or api_token or self.jira_email else " (or JIRA_OAUTH_TOKEN)"
            return f"Jira is half configured: missing {', '.join(missing)}{how} ({TRACKER_DOCS})"
        if oauth and not oauth_base(self.jira_base_url):
            return ("Jira: an OAuth access token (JIRA_OAUTH_TOKEN) works only through "
                    "JIRA_BASE_URL=https://api.atlassian.com/ex/jira/<cloud id>, not the site "
                    f"URL ({TRACKER_DOCS})")
        if not _JIRA_PROJECT.fullmatch(self.jira_project_key.strip()):
            return (f"JIRA_PROJECT_KEY {self.jira_project_key!r} is not a project key such as "
                    "OPS (capitals and digits)")
        return ""

    def _trello_problem(self) -> str:
        values = (self.trello_api_key, self.trello_token, self.trello_list_id)
        if self.follow_up_tracker != "trello" and not any(_set(v) for v in values):
            return ""
        missing = [name for name, value in (("TRELLO_API_KEY", self.trello_api_key),
                                            ("TRELLO_TOKEN", self.trello_token),
                                            ("TRELLO_LIST_ID", self.trello_list_id))
                   if not _set(value)]
        if missing:
            return f"Trello is half configured: missing {', '.join(missing)} ({TRACKER_DOCS})"
        if not _TRELLO_ID.fullmatch(self.trello_list_id.strip()):
            return (f"TRELLO_LIST_ID {self.trello_list_id!r} is not a list id (24 hexadecimal "
                    f"characters; {TRACKER_DOCS} says where to find it)")
        return ""

    @model_validator(mode="after")
    def _alert_rules_usable(self) -> Settings:
        # Read at start, so that a broken file stops the start with its lines named; the
        # variables it names for secrets come from the environment (or .env).
        if self.alert_rules_file.strip():
            scale = (process_file.load(self.severity_file, reserved=_command_words()).severity
                     if self.severity_file else severity.BUILT_IN)
            self._alert_rules = alert_rules.load(self.alert_rules_file.strip(), _environment(),
                                                 scale=scale)
        return self

    @model_validator(mode="after")
    def _teams_meetings_configured(self) -> Settings:
        if "teams" in self.video_chain and not (self.graph_enabled
                                                and self.teams_meeting_organizer):
            named = "VIDEO_PROVIDER" if self.effective_video_provider == "teams" else \
                "VIDEO_FALLBACK"
            raise ValueError(f"{named} names teams, which needs {TEAMS_NEEDS}; "
                             f"missing: {', '.join(self._teams_missing())} "
                             "(see docs/teams-meetings.md)")
        if self.teams_attendance and "teams" not in self.video_chain:
            raise ValueError("TEAMS_ATTENDANCE reads Teams meetings' attendance, but no "
                             "VIDEO_PROVIDER or VIDEO_FALLBACK names teams "
                             "(see docs/teams-meetings.md)")
        return self

    def _teams_missing(self) -> list[str]:
        missing = [name for name, value in (
            ("GRAPH_CLIENT_ID", self.graph_client_id),
            ("GRAPH_CLIENT_SECRET", self.graph_client_secret.get_secret_value()),
            ("GRAPH_TENANT_ID", self.graph_tenant_id or self.graph_token_url),
            ("TEAMS_MEETING_ORGANIZER", self.teams_meeting_organizer)) if not value]
        return missing

    @property
    def mode(self) -> Mode:
        """Local mode means no Bot Framework credentials, hence no token checks."""
        return Mode.AUTHENTICATED if self.app_id else Mode.LOCAL

    @property
    def listen_host(self) -> str:
        """Loopback unless credentials are set: an unauthenticated bot must not be reachable."""
        if self.mode is Mode.LOCAL:
            return "127.0.0.1"
        return self.host or "0.0.0.0"

    @property
    def token_url(self) -> str:
        """Entra endpoint for the bot's own outgoing token; single-tenant apps use their tenant."""
        if self.bot_token_url:
            return self.bot_token_url
        if self.app_type.lower() == "singletenant" and self.app_tenant_id:
            return f"https://login.microsoftonline.com/{self.app_tenant_id}/oauth2/v2.0/token"
        return PUBLIC_TOKEN_URL

    @property
    def journal_path(self) -> Path:
        """Where the local journal lives: JOURNAL_DIR, else beside an SQLite database, else
        `incident-bot-journal` in the working directory."""
        if self.journal_dir:
            return Path(self.journal_dir)
        if self.database_url.startswith("sqlite://"):
            file = self.database_url[len("sqlite://"):].split("?", 1)[0]
            if file and file != ":memory:":
                return Path(file).parent / "incident-bot-journal"
        return Path("incident-bot-journal")

    @property
    def allowed_tenants(self) -> frozenset[str]:
        """Tenants that may talk to the bot; empty means any."""
        listed = set(self.allowed_tenant_ids)
        if not listed and self.app_type.lower() == "singletenant" and self.app_tenant_id:
            listed = {self.app_tenant_id}
        return frozenset(listed)

    @property
    def effective_video_provider(self) -> str:
        """The provider named, else the first one whose credentials are present."""
        if self.video_provider:
            return self.video_provider
        if (self.zoom_account_id and self.zoom_client_id
                and self.zoom_client_secret.get_secret_value()):
            return "zoom"
        if self.google_service_account_file and self.google_delegated_user:
            return "meet"
        return "jitsi"

    @property
    def video_chain(self) -> list[str]:
        """Providers to try in order: the configured one, then the fallbacks (default Jitsi)."""
        if self.effective_video_provider == "none":
            return []
        chain = [self.effective_video_provider]
        listed = [p.strip() for p in self.video_fallback.split(",") if p.strip()]
        for name in listed or ["jitsi"]:
            if name not in chain and name != "none":
                chain.append(name)
        return chain

    @property
    def base_url(self) -> str:
        """Where people reach the bot's own pages."""
        return self.public_base_url or f"http://{self.listen_host}:{self.port}"

    @property
    def _github_configured(self) -> bool:
        return bool(self.github_repository and self.github_token.get_secret_value())

    @property
    def tracker(self) -> str:
        """Where follow-up actions are filed: FOLLOW_UP_TRACKER, else the first tracker
        configured (github, jira, trello); empty for none. A half-configured Jira or Trello
        stops the start (`_trackers_configured`), so one that is set is complete."""
        if self.follow_up_tracker:
            return self.follow_up_tracker
        if self._github_configured:
            return "github"
        if self.jira_base_url:
            return "jira"
        if self.trello_list_id:
            return "trello"
        return ""

    @property
    def tracker_enabled(self) -> bool:
        """Follow-up actions become issues or cards only with a tracker configured."""
        return bool(self.tracker)

    @property
    def docs_enabled(self) -> bool:
        """Ready reviews become Google Docs when a delegated service account is set."""
        return bool(self.google_service_account_file and self.google_delegated_user)

    @property
    def graph_enabled(self) -> bool:
        """Presence is looked up only when a Graph app is configured."""
        return bool(self.graph_client_id and self.graph_client_secret.get_secret_value()
                    and (self.graph_tenant_id or self.graph_token_url))

    @property
    def graph_token(self) -> str:
        """Entra token endpoint for the Graph app."""
        return self.graph_token_url or (
            f"https://login.microsoftonline.com/{self.graph_tenant_id}/oauth2/v2.0/token")

    @property
    def status_tenant(self) -> str:
        """The one tenant whose incidents the public status page shows (and Statuspage gets).

        STATUS_PAGE_TENANT_ID, else the app's only allowed tenant; empty: no external updates.
        """
        if self.status_page_tenant_id:
            return self.status_page_tenant_id.strip()
        allowed = self.allowed_tenants
        return next(iter(allowed)) if len(allowed) == 1 else ""

    @property
    def alerts_tenant(self) -> str:
        """The tenant whose incidents channel gets alert cards: ALERTS_TENANT_ID, else the
        app's only allowed tenant; empty: the only tenant with a team set up."""
        if self.alerts_tenant_id.strip():
            return self.alerts_tenant_id.strip()
        allowed = self.allowed_tenants
        return next(iter(allowed)) if len(allowed) == 1 else ""

    @property
    def components(self) -> tuple[tuple[str, str], ...]:
        """STATUS_COMPONENTS as (name, Statuspage component id or "") pairs, in order."""
        pairs = []
        for item in self.status_components.split(","):
            name, _, component_id = item.partition("=")
            if name.strip():
                pairs.append((name.strip()[:80], component_id.strip()))
        return tuple(pairs)

    @property
    def statuspage_enabled(self) -> bool:
        """External updates are also posted to Atlassian Statuspage with a page id and a key."""
        return bool(self.statuspage_page_id and self.statuspage_api_key.get_secret_value())

    @property
    def alert_rules(self) -> alert_rules.AlertRules:
        """The alert sources and rules (ALERT_RULES_FILE; none without it)."""
        return self._alert_rules

    def secrets(self) -> list[str]:
        """Every configured secret, so logs and messages can be checked for leaks."""
        values = [self.app_password, self.zoom_client_secret, self.graph_client_secret,
                  self.github_token, self.jira_api_token, self.jira_oauth_token,
                  self.trello_api_key, self.trello_token, self.statuspage_api_key,
                  self.metrics_token, self.zoom_webhook_secret_token]
        return ([v.get_secret_value() for v in values if v.get_secret_value()]
                + self._alert_rules.secrets())


def _environment() -> dict[str, str]:
    """The environment, over `.env` in the working directory (as `Settings` reads them)."""
    from dotenv import dotenv_values

    dotenv = {k: v for k, v in dotenv_values(".env").items() if v is not None} \
        if Path(".env").is_file() else {}
    return {**dotenv, **os.environ}


def _set(value: str | SecretStr) -> bool:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return bool(text.strip())


def environment_names() -> frozenset[str]:
    """Every environment variable `Settings` reads (the names docs/architecture.md lists):
    the field's name in upper case, or the documented name its alias gives first."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if isinstance(alias, AliasChoices) else name.upper())
    return frozenset(names)


def _command_words() -> set[str]:
    """The verbs and their synonyms, which a severity's code may not be."""
    from bot.teams.commands import all_routes

    routes = all_routes()
    return {*routes.commands, *routes.synonyms}


def process_of(settings: Settings) -> process_file.Process:
    """The organisation's process file, read (it was checked when the settings were)."""
    if not settings.severity_file:
        return process_file.Process()
    return process_file.load(settings.severity_file, reserved=_command_words())


def review_template_of(settings: Settings) -> ReviewTemplate:
    """The review template, read (it was checked when the settings were): the
    organisation's (REVIEW_TEMPLATE_FILE) or the built-in one."""
    from bot.web import review_template

    if not settings.review_template_file:
        return review_template.BUILT_IN
    return review_template.load(settings.review_template_file)


def policy_of(settings: Settings) -> Policy:
    """The domain's rules, from the settings: the one place that maps one to the other."""
    process = process_of(settings)
    return Policy(
        handover_timeout_s=_seconds(settings.handover_timeout),
        commandeer_timeout_s=_seconds(settings.commandeer_timeout),
        checkin_interval_s=_seconds(settings.checkin_interval),
        oncall_answer_s=_seconds(settings.oncall_answer),
        commander_wanted_s=_seconds(settings.commander_wanted),
        admin_ids=settings.admin_user_ids,
        video_chain=tuple(settings.video_chain),
        timezone=settings.timezone,
        holidays_country=settings.holidays_country,
        base_url=settings.base_url,
        review_link_s=_seconds(settings.review_link),
        tracker_enabled=settings.tracker_enabled,
        docs_enabled=settings.docs_enabled,
        meeting_max_severity=settings.review_meeting_severity,
        severity=process.severity,
        runbooks=process.runbooks,
        status_tenant_id=settings.status_tenant,
        external_roles=frozenset(settings.external_update_roles.split(",")),
        components=tuple(name for name, _ in settings.components),
        statuspage_enabled=settings.statuspage_enabled,
        graph_enabled=settings.graph_enabled,
        private_enabled=settings.graph_enabled and bool(settings.teams_app_catalog_id),
        room_attendance=bool(settings.zoom_webhook_secret_token.get_secret_value()),
        room_join_check_s=_seconds(settings.room_join_check),
        meet_poll_s=settings.meet_attendance_poll_s,
        teams_attendance=settings.teams_attendance,
        teams_poll_s=settings.teams_attendance_poll_s,
        capture_conversation=settings.capture_conversation,
    )


def _seconds(duration: dt.timedelta) -> int:
    return int(duration.total_seconds())
