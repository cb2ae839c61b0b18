"""Configuration rules and signing-key caching."""

from __future__ import annotations

import aiohttp

from bot.config import Mode, Settings
from bot.teams.signing_keys import SigningKeys
from tests.conftest import make_settings
from tests.fakes.identity import _new_key


def test_without_credentials_the_bot_is_local_and_loopback_only():
    settings = make_settings("sqlite://x", host="0.0.0.0")

    assert settings.mode is Mode.LOCAL
    assert settings.listen_host == "127.0.0.1"


def test_with_credentials_it_listens_everywhere_unless_host_is_set():
    assert make_settings("sqlite://x", app_id="a", app_password="p").listen_host == "0.0.0.0"
    assert make_settings("sqlite://x", app_id="a", host="10.0.0.5").listen_host == "10.0.0.5"


def test_single_tenant_apps_use_their_tenant_for_tokens_and_allowed_tenants():
    settings = make_settings("sqlite://x", app_id="a", app_type="SingleTenant",
                             app_tenant_id="t-1")

    assert settings.token_url == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    assert settings.allowed_tenants == frozenset({"t-1"})


def test_environment_names_follow_the_design_contract(monkeypatch):
    monkeypatch.setenv("MicrosoftAppId", "app-from-env")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h:5432/d")
    monkeypatch.setenv("ALLOWED_TENANT_IDS", " t1, t2 ,")

    from bot.config import Settings

    settings = Settings(_env_file=None)
    assert settings.app_id == "app-from-env"
    assert settings.database_url == "postgres://u@h:5432/d"
    assert settings.allowed_tenants == frozenset({"t1", "t2"})


def test_the_video_provider_follows_the_credentials_present():
    assert make_settings("sqlite://x").effective_video_provider == "jitsi"
    assert make_settings("sqlite://x", zoom_account_id="a", zoom_client_id="c",
                         zoom_client_secret="s").effective_video_provider == "zoom"
    assert make_settings("sqlite://x", zoom_account_id="a", zoom_client_id="c"
                         ).effective_video_provider == "jitsi"
    assert make_settings("sqlite://x", google_service_account_file="/sa.json",
                         google_delegated_user="ic@example.com").effective_video_provider == "meet"
    assert make_settings("sqlite://x", video_provider="none").effective_video_provider == "none"


async def test_a_rolled_over_key_is_fetched_when_a_token_names_it(identity):
    async with aiohttp.ClientSession() as session:
        keys = SigningKeys(session, identity.metadata_url, min_refetch_s=0)
        assert await keys.get(identity.kid) is not None
        assert identity.metadata_requests == 1

        identity.key, identity.kid = _new_key(), "rolled-over-key"

        assert await keys.get("rolled-over-key") is not None
        assert identity.metadata_requests == 2


async def test_unknown_key_ids_do_not_hammer_the_metadata_endpoint(identity):
    async with aiohttp.ClientSession() as session:
        keys = SigningKeys(session, identity.metadata_url)  # default: once a minute at most
        await keys.get(identity.kid)
        for i in range(20):
            assert await keys.get(f"bogus-{i}") is None

    assert identity.metadata_requests == 1


async def test_a_metadata_outage_keeps_the_known_keys(identity):
    async with aiohttp.ClientSession() as session:
        keys = SigningKeys(session, identity.metadata_url, min_refetch_s=0)
        assert await keys.get(identity.kid) is not None
        kid = identity.kid
        await identity.stop()

        assert await keys.get("other") is None
        assert await keys.get(kid) is not None


def test_the_domain_policy_is_derived_from_the_settings_and_their_defaults_agree():
    from bot.config import policy_of
    from bot.incidents.context import Policy

    defaults = Settings(_env_file=None, database_url="sqlite://:memory:")
    changed = Settings(_env_file=None, database_url="sqlite://:memory:",
                       handover_timeout_minutes=3, review_link_hours=2, admin_user_ids="a, b")

    # Policy's own defaults (used by tests and tools) cannot drift from the settings'.
    assert policy_of(defaults) == Policy()
    assert (policy_of(changed).handover_timeout_s, policy_of(changed).review_link_s,
            policy_of(changed).admin_ids) == (180, 7200, frozenset({"a", "b"}))
