"""The one configuration object, read from the environment (and `.env`) once.

Names follow the contract in DESIGN.md; Microsoft's sample names are kept for the Bot
Framework credentials so that an existing Azure Bot registration can be reused as is.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PUBLIC_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_TOKEN_ISSUER = "https://api.botframework.com"
PUBLIC_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
# Who may publish external updates, besides admins (EXTERNAL_UPDATE_ROLES).
EXTERNAL_ROLES = frozenset({"commander", "investigator", "assistant", "anyone"})


class Mode(str, Enum):
    """Whether incoming requests are authenticated."""

    LOCAL = "local"
    AUTHENTICATED = "authenticated"


def _env(name: str, *more: str) -> AliasChoices:
    return AliasChoices(name, *more)


class Settings(BaseSettings):
    """Everything the bot can be told from outside; passed down explicitly, never global."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, case_sensitive=False
    )

    app_id: str = Field("", validation_alias=_env("MicrosoftAppId", "app_id"))
    app_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("MicrosoftAppPassword", "app_password")
    )
    app_type: str = Field("MultiTenant", validation_alias=_env("MicrosoftAppType", "app_type"))
    app_tenant_id: str = Field(
        "", validation_alias=_env("MicrosoftAppTenantId", "app_tenant_id")
    )
    port: int = Field(3978, validation_alias=_env("PORT", "port"))
    host: str = Field("", validation_alias=_env("HOST", "host"))
    database_url: str = Field(
        "sqlite://incident-bot.sqlite3", validation_alias=_env("DATABASE_URL", "database_url")
    )
    video_provider: str = Field("", validation_alias=_env("VIDEO_PROVIDER", "video_provider"))
    zoom_account_id: str = Field("", validation_alias=_env("ZOOM_ACCOUNT_ID", "zoom_account_id"))
    zoom_client_id: str = Field("", validation_alias=_env("ZOOM_CLIENT_ID", "zoom_client_id"))
    zoom_client_secret: SecretStr = Field(
        SecretStr(""), validation_alias=_env("ZOOM_CLIENT_SECRET", "zoom_client_secret")
    )
    zoom_api_base_url: str = Field(
        "https://api.zoom.us/v2", validation_alias=_env("ZOOM_API_BASE_URL", "zoom_api_base_url")
    )
    zoom_oauth_url: str = Field(
        "https://zoom.us/oauth/token", validation_alias=_env("ZOOM_OAUTH_URL", "zoom_oauth_url")
    )
    zoom_host_user: str = Field("me", validation_alias=_env("ZOOM_HOST_USER", "zoom_host_user"))
    google_service_account_file: str = Field(
        "", validation_alias=_env("GOOGLE_SERVICE_ACCOUNT_FILE", "google_service_account_file")
    )
    google_delegated_user: str = Field(
        "", validation_alias=_env("GOOGLE_DELEGATED_USER", "google_delegated_user")
    )
    google_api_endpoint: str = Field(
        "", validation_alias=_env("GOOGLE_API_ENDPOINT", "google_api_endpoint")
    )
    video_fallback: str = Field("", validation_alias=_env("VIDEO_FALLBACK", "video_fallback"))
    video_timeout_s: float = Field(
        15.0, validation_alias=_env("VIDEO_TIMEOUT_SECONDS", "video_timeout_s")
    )
    jitsi_base_url: str = Field(
        "https://meet.jit.si", validation_alias=_env("JITSI_BASE_URL", "jitsi_base_url")
    )
    allowed_tenant_ids: str = Field(
        "", validation_alias=_env("ALLOWED_TENANT_IDS", "allowed_tenant_ids")
    )
    bot_openid_metadata_url: str = Field(
        PUBLIC_OPENID_METADATA_URL,
        validation_alias=_env("BOT_OPENID_METADATA_URL", "bot_openid_metadata_url"),
    )
    bot_token_issuer: str = Field(
        PUBLIC_TOKEN_ISSUER, validation_alias=_env("BOT_TOKEN_ISSUER", "bot_token_issuer")
    )
    bot_token_url: str = Field("", validation_alias=_env("BOT_TOKEN_URL", "bot_token_url"))
    public_base_url: str = Field(
        "", validation_alias=_env("PUBLIC_BASE_URL", "public_base_url")
    )
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL", "log_level"))
    log_format: str = Field("text", validation_alias=_env("LOG_FORMAT", "log_format"))
    metrics_token: SecretStr = Field(
        SecretStr(""), validation_alias=_env("METRICS_TOKEN", "metrics_token")
    )
    graph_tenant_id: str = Field("", validation_alias=_env("GRAPH_TENANT_ID", "graph_tenant_id"))
    graph_client_id: str = Field("", validation_alias=_env("GRAPH_CLIENT_ID", "graph_client_id"))
    graph_client_secret: SecretStr = Field(
        SecretStr(""), validation_alias=_env("GRAPH_CLIENT_SECRET", "graph_client_secret")
    )
    graph_api_url: str = Field(
        "https://graph.microsoft.com/v1.0", validation_alias=_env("GRAPH_API_URL", "graph_api_url")
    )
    graph_token_url: str = Field(
        "", validation_alias=_env("GRAPH_TOKEN_URL", "graph_token_url")
    )
    oncall_answer_minutes: int = Field(
        10, ge=1, validation_alias=_env("ONCALL_ANSWER_MINUTES", "oncall_answer_minutes")
    )
    timezone: str = Field("UTC", validation_alias=_env("TIMEZONE", "timezone"))
    holidays_country: str = Field(
        "", validation_alias=_env("HOLIDAYS_COUNTRY", "holidays_country")
    )
    github_repository: str = Field(
        "", validation_alias=_env("GITHUB_REPOSITORY", "github_repository")
    )
    github_token: SecretStr = Field(
        SecretStr(""), validation_alias=_env("GITHUB_TOKEN", "github_token")
    )
    github_api_url: str = Field(
        "https://api.github.com", validation_alias=_env("GITHUB_API_URL", "github_api_url")
    )
    review_meeting_severity: int = Field(
        2, ge=0, le=4,
        validation_alias=_env("REVIEW_MEETING_SEVERITY", "review_meeting_severity"),
    )
    review_link_hours: int = Field(
        72, ge=1, validation_alias=_env("REVIEW_LINK_HOURS", "review_link_hours")
    )
    admin_user_ids: str = Field("", validation_alias=_env("ADMIN_USER_IDS", "admin_user_ids"))
    handover_timeout_minutes: int = Field(
        15, ge=1, validation_alias=_env("HANDOVER_TIMEOUT_MINUTES", "handover_timeout_minutes")
    )
    commandeer_timeout_minutes: int = Field(
        10, ge=1,
        validation_alias=_env("COMMANDEER_TIMEOUT_MINUTES", "commandeer_timeout_minutes"),
    )
    checkin_interval_minutes: int = Field(
        60, ge=1, validation_alias=_env("CHECKIN_INTERVAL_MINUTES", "checkin_interval_minutes")
    )
    status_page_tenant_id: str = Field(
        "", validation_alias=_env("STATUS_PAGE_TENANT_ID", "status_page_tenant_id")
    )
    status_page_title: str = Field(
        "Service status", validation_alias=_env("STATUS_PAGE_TITLE", "status_page_title")
    )
    status_page_days: int = Field(
        14, ge=1, le=365, validation_alias=_env("STATUS_PAGE_DAYS", "status_page_days")
    )
    status_components: str = Field(
        "", validation_alias=_env("STATUS_COMPONENTS", "status_components")
    )
    external_update_roles: str = Field(
        "commander", validation_alias=_env("EXTERNAL_UPDATE_ROLES", "external_update_roles")
    )
    statuspage_page_id: str = Field(
        "", validation_alias=_env("STATUSPAGE_PAGE_ID", "statuspage_page_id")
    )
    statuspage_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=_env("STATUSPAGE_API_KEY", "statuspage_api_key")
    )
    statuspage_api_url: str = Field(
        "https://api.statuspage.io/v1",
        validation_alias=_env("STATUSPAGE_API_URL", "statuspage_api_url"),
    )

    journal_dir: str = Field("", validation_alias=_env("JOURNAL_DIR", "journal_dir"))
    journal_max_mb: int = Field(
        64, ge=1, validation_alias=_env("JOURNAL_MAX_MB", "journal_max_mb")
    )
    database_timeout_s: float = Field(
        5.0, gt=0, le=60,
        validation_alias=_env("DATABASE_TIMEOUT_SECONDS", "database_timeout_s"),
    )
    request_body_timeout_s: float = Field(
        10.0, gt=0, le=120,
        validation_alias=_env("REQUEST_BODY_TIMEOUT_SECONDS", "request_body_timeout_s"),
    )
    max_connections: int = Field(
        0, ge=0, validation_alias=_env("MAX_CONNECTIONS", "max_connections")
    )

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
        listed = {t.strip() for t in self.allowed_tenant_ids.split(",") if t.strip()}
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
    def admins(self) -> frozenset[str]:
        """Teams ids or Entra object ids that may act on any incident."""
        return frozenset(a.strip() for a in self.admin_user_ids.split(",") if a.strip())

    @property
    def tracker_enabled(self) -> bool:
        """Follow-up actions become GitHub issues only with a repository and a token."""
        return bool(self.github_repository and self.github_token.get_secret_value())

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

    def secrets(self) -> list[str]:
        """Every configured secret, so logs and messages can be checked for leaks."""
        values = [self.app_password, self.zoom_client_secret, self.graph_client_secret,
                  self.github_token, self.statuspage_api_key, self.metrics_token]
        return [v.get_secret_value() for v in values if v.get_secret_value()]


def environment_names() -> frozenset[str]:
    """Every environment variable `Settings` reads (the names of DESIGN.md's contract)."""
    names = set()
    for field in Settings.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            names.add(str(field.validation_alias.choices[0]))
    return frozenset(names)
