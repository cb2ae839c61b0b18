"""Bad requests get short, clear answers; bugs get an error id, never a stack trace."""

from __future__ import annotations

import json

import pytest

from bot.teams.bot import TeamsBot
from tests.fakes import activities as teams


async def test_healthz_reports_the_database(bot):
    status, body = await bot.get("/healthz")

    assert status == 200
    assert body == {"status": "ok", "database": "ok"}


async def test_wrong_content_type_gets_415(local_bot, connector):
    status, body = await local_bot.post(
        None, raw=b"help", headers={"Content-Type": "text/plain"}
    )

    assert status == 415
    assert "application/json" in body["error"]


async def test_malformed_json_gets_400(local_bot):
    status, body = await local_bot.post(None, raw=b'{"type": "message", ')

    assert status == 400
    assert body["error"].startswith("body is not JSON")


BROKEN = {
    "not an object": [1, 2, 3],
    "no type": {"channelId": "msteams"},
    "no serviceUrl": {"type": "message", "channelId": "msteams"},
    "serviceUrl not http": {"type": "message", "channelId": "msteams",
                            "serviceUrl": "file:///etc/passwd"},
    "no conversation": {"type": "message", "channelId": "msteams",
                        "serviceUrl": "https://smba.trafficmanager.net/amer/"},
}


@pytest.mark.parametrize("body", BROKEN.values(), ids=BROKEN.keys())
async def test_activities_missing_what_a_turn_needs_get_400_with_a_reason(local_bot, body):
    status, answer = await local_bot.post(body)

    assert status == 400
    assert answer["error"]


async def test_fields_of_the_wrong_type_get_400(local_bot, connector):
    message = teams.channel_message(connector.url, "help")
    message["entities"] = "not a list"

    status, answer = await local_bot.post(message)

    assert status == 400
    assert answer == {"error": "'entities' must be a list of objects"}


async def test_a_huge_body_is_refused_not_processed(local_bot, connector):
    message = teams.channel_message(connector.url, "x" * (300 * 1024))

    status, _ = await local_bot.post(message)

    assert status == 413
    assert connector.calls == []


async def test_a_bug_in_a_turn_gives_the_user_an_error_id_and_logs_it(
    local_bot, connector, caplog, monkeypatch
):
    async def broken(self, turn_context, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(TeamsBot, "send_help", broken)
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    status, body = await local_bot.post(message)

    # 500: the failure is visible to Teams (and Azure's channel health), not acknowledged.
    assert status == 500
    [reply] = await connector.wait_for(1, kind="reply")
    error_id = reply.body["text"].split("error id ")[1].split(")")[0]
    assert len(error_id) == 10
    assert f"error id {error_id}" in caplog.text
    assert "RuntimeError: boom" in caplog.text
    assert "Traceback" not in json.dumps(reply.body)


async def test_a_bug_in_a_card_action_answers_the_invoke_with_an_error_id(
    local_bot, connector, monkeypatch
):
    async def broken(self, turn_context):
        raise RuntimeError("boom")

    monkeypatch.setattr(TeamsBot, "on_invoke_activity", broken)

    status, body = await local_bot.post(
        teams.card_action(connector.url, verb="accept", data={}, card_id="1")
    )

    assert status == 200
    assert "error id" in body["value"]


async def test_unsupported_invokes_get_400_not_500(local_bot, connector):
    invoke = teams.card_action(connector.url, verb="x", data={}, card_id="1")
    invoke["name"] = "composeExtension/query"

    status, body = await local_bot.post(invoke)

    assert status == 400
    assert "composeExtension/query" in body["error"]


async def test_unknown_routes_get_a_json_404(local_bot):
    async with local_bot.session.get(local_bot.server.make_url("/nope")) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "Not Found"
