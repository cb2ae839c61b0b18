"""Every Bot Framework token rule, checked through the real endpoint with a loopback issuer."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.identity import APP_PASSWORD


@pytest.fixture
async def secured_bot(start_bot, sqlite_url, identity):
    settings = make_settings(
        sqlite_url,
        app_id=identity.app_id,
        app_password=APP_PASSWORD,
        bot_openid_metadata_url=identity.metadata_url,
        bot_token_url=identity.token_url,
        allowed_tenant_ids=f"{teams.TENANT},other-allowed-tenant",
    )
    return await start_bot(settings)


def _help(connector):
    return teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")


async def test_a_valid_token_is_accepted_and_replies_carry_the_app_token(
    secured_bot, connector, identity
):
    message = _help(connector)
    token = identity.token(service_url=connector.url)

    status, _ = await secured_bot.post(message, headers={"Authorization": f"Bearer {token}"})

    assert status == 200
    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.headers["Authorization"] == "Bearer app-token-1"
    [grant] = identity.token_requests
    assert grant["grant_type"] == "client_credentials"
    assert grant["client_id"] == identity.app_id
    assert grant["scope"] == "https://api.botframework.com/.default"


async def test_the_app_token_is_fetched_once_and_reused(secured_bot, connector, identity):
    for _ in range(3):
        token = identity.token(service_url=connector.url)
        await secured_bot.post(_help(connector), headers={"Authorization": f"Bearer {token}"})

    await connector.wait_for(3, kind="reply")
    assert len(identity.token_requests) == 1
    assert identity.metadata_requests == 1


def _other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


BAD_TOKENS = {
    "expired": dict(exp=int(time.time()) - 600),
    "expired beyond the clock skew only": dict(exp=int(time.time()) - 301),
    "wrong audience": dict(aud="someone-elses-app"),
    "wrong issuer": dict(iss="https://evil.example.com"),
    "unknown key id": dict(kid="not-a-published-key"),
    "signed by another key": dict(key=_other_key()),
    "mismatched serviceUrl": dict(serviceurl="https://smba.attacker.example/"),
    "no expiry": dict(exp=None),
}


@pytest.mark.parametrize("overrides", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_bad_tokens_get_401_and_nothing_happens(secured_bot, connector, identity, overrides):
    token = identity.token(service_url=connector.url, **overrides)

    status, body = await secured_bot.post(
        _help(connector), headers={"Authorization": f"Bearer {token}"}
    )

    assert status == 401
    assert body == {"error": "unauthorized"}
    assert connector.calls == []


async def test_a_token_within_the_clock_skew_is_accepted(secured_bot, connector, identity):
    token = identity.token(service_url=connector.url, exp=int(time.time()) - 120)

    status, _ = await secured_bot.post(_help(connector), headers={"Authorization": f"Bearer {token}"})

    assert status == 200


async def test_a_key_not_endorsed_for_the_channel_is_refused(secured_bot, connector, identity):
    identity.endorsements = ["webchat"]
    token = identity.token(service_url=connector.url)

    status, _ = await secured_bot.post(_help(connector), headers={"Authorization": f"Bearer {token}"})

    assert status == 401


HEADERS = {
    "no header": None,
    "not a bearer": "Basic dXNlcjpwYXNz",
    "empty bearer": "Bearer ",
    "garbage bearer": "Bearer not.a.jwt",
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
async def test_missing_or_malformed_headers_get_401(secured_bot, connector, header):
    headers = {"Authorization": header} if header is not None else {}

    status, _ = await secured_bot.post(_help(connector), headers=headers)

    assert status == 401
    assert connector.calls == []


async def test_an_hs256_token_is_refused(secured_bot, connector, identity):
    token = identity.token(service_url=connector.url, alg="HS256", key="a-shared-secret-guess-of-32-bytes!!")

    status, _ = await secured_bot.post(_help(connector), headers={"Authorization": f"Bearer {token}"})

    assert status == 401


def _tenant_in_channel_data(message, tenant):
    message["channelData"]["tenant"]["id"] = tenant
    message["conversation"].pop("tenantId", None)


def _tenant_in_conversation_only(message, tenant):
    message["channelData"].pop("tenant")
    message["conversation"]["tenantId"] = tenant


def _no_tenant(message, tenant):
    message["channelData"].pop("tenant")
    message["conversation"].pop("tenantId", None)


def _tenants_disagree(message, tenant):
    message["channelData"]["tenant"]["id"] = teams.TENANT
    message["conversation"]["tenantId"] = tenant


@pytest.mark.parametrize("place, expected", [
    (_tenant_in_channel_data, 403), (_tenant_in_conversation_only, 403), (_no_tenant, 403),
    (_tenants_disagree, 400),
])
async def test_a_tenant_that_is_not_allowed_is_refused_and_logged(
        secured_bot, connector, identity, caplog, place, expected):
    message = _help(connector)
    place(message, "some-other-tenant")
    token = identity.token(service_url=connector.url)

    status, _ = await secured_bot.post(message, headers={"Authorization": f"Bearer {token}"})

    assert status == expected
    assert connector.calls == []
    if expected == 403:
        assert "refused activity" in caplog.text


async def test_a_wrong_app_password_surfaces_as_a_logged_error_not_a_500(
    start_bot, sqlite_url, identity, connector, caplog
):
    bot = await start_bot(make_settings(
        sqlite_url, app_id=identity.app_id, app_password="Wr0ng-Secret-Value",
        bot_openid_metadata_url=identity.metadata_url, bot_token_url=identity.token_url,
    ))
    token = identity.token(service_url=connector.url)

    status, _ = await bot.post(_help(connector), headers={"Authorization": f"Bearer {token}"})

    assert status == 200
    assert "Invalid client secret" in caplog.text
    assert "Wr0ng-Secret-Value" not in caplog.text
    assert connector.calls == []


async def test_local_mode_accepts_requests_without_a_token(local_bot, connector):
    status, _ = await local_bot.post(_help(connector))

    assert status == 200
    [reply] = await connector.wait_for(1, kind="reply")
    assert "Authorization" not in reply.headers
