"""`@incident help` through the real endpoint, answered through the loopback connector."""

from __future__ import annotations

from tests.fakes import activities as teams


async def test_channel_help_is_answered_in_the_same_thread(bot, connector):
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    status, _ = await bot.post(message)

    assert status == 200
    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.conversation_id == message["conversation"]["id"]
    assert reply.activity_id == message["id"]
    assert reply.body["type"] == "message"
    assert reply.body["replyToId"] == message["id"]
    assert reply.body["from"]["id"] == teams.BOT_ID
    attachment = reply.body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["version"] == "1.5"
    assert "@incident help" in reply.text


async def test_help_works_in_a_one_to_one_chat_without_a_mention(local_bot, connector):
    message = teams.personal_message(connector.url, "help")

    status, _ = await local_bot.post(message)

    assert status == 200
    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.conversation_id == message["conversation"]["id"]
    assert "@incident help" in reply.text


async def test_help_works_in_a_group_chat(local_bot, connector):
    message = teams.group_chat_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    await local_bot.post(message)

    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.conversation_id == "19:group-chat-1@thread.v2"


async def test_commands_are_case_insensitive(local_bot, connector):
    await local_bot.post(teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} HeLp"))

    [reply] = await connector.wait_for(1, kind="reply")
    assert "Mention me with one of these commands" in reply.text


async def test_unknown_text_gets_a_short_answer_not_the_help_card(local_bot, connector):
    await local_bot.post(
        teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} frobnicate the db")
    )

    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.text == ("'frobnicate' is not one of my commands. "
                          "Mention me with `help` for the list.")
    assert not reply.body.get("attachments")


async def test_a_mistyped_command_is_answered_with_the_one_meant(local_bot, connector):
    await local_bot.post(teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} stauts"))

    [reply] = await connector.wait_for(1, kind="reply")
    assert reply.text == ("I don't know 'stauts'. Did you mean `@incident status [INC-n]`? "
                          "The current picture: roles, what is known, open hypotheses and tasks.")


async def test_installing_the_app_greets_the_team_once(local_bot, connector):
    await local_bot.post(teams.installation_update(connector.url))
    await local_bot.post(teams.conversation_update(connector.url, added=[{"id": teams.BOT_ID}]))

    replies = await connector.wait_for(1)
    assert len(connector.delivered) == 1
    assert "Thanks for adding me" in replies[0].text


async def test_a_redelivered_activity_is_answered_once(local_bot, connector):
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    first, _ = await local_bot.post(message)
    second, _ = await local_bot.post(message)

    assert (first, second) == (200, 200)
    await connector.wait_for(1, kind="reply")
    assert len(connector.delivered) == 1


async def test_unknown_card_action_gets_a_message_not_an_error(local_bot, connector):
    action = teams.card_action(connector.url, verb="no-such-verb", data={}, card_id="123")

    status, body = await local_bot.post(action)

    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"


async def test_a_throttled_reply_is_handed_to_the_outbox_and_still_arrives(local_bot, connector):
    connector.fail_next(429, retry_after="1")
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    status, _ = await local_bot.post(message)

    assert status == 200
    [reply] = await connector.wait_for(1, kind="reply", timeout=10)
    assert reply.activity_id == message["id"]
    assert [c.answered for c in connector.calls] == [429, 201]
