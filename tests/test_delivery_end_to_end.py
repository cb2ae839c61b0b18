"""What people post survives a struggling Bot Connector, end to end: commands are
acknowledged at once, and their messages arrive later, all of them, in thread order."""

from __future__ import annotations

from tests.fakes.activities import ADA
from tests.scenario import Team, eventually, thread_posts


async def test_throttling_errors_and_a_timeout_lose_nothing_and_keep_thread_order(
        local_bot, connector):
    team = Team(local_bot, connector)
    await team.say("setup")
    incident = await team.declare("Payments down sev2 @Ada", mentions=(ADA,))
    await team.settle()

    connector.fail_next(429, retry_after="1")
    connector.fail_next(500)
    connector.hang_next(11)  # past the bot's 10 s request timeout
    for step in range(5):
        await team.say(f"update step {step}", thread=incident)  # each asserts HTTP 200

    expected = [f"Status update from Ada Lovelace: step {step}" for step in range(5)]

    async def all_arrived() -> list[str] | None:
        seen = [c.text for c in thread_posts(connector, incident) if "Status update" in c.text]
        return seen if set(expected) <= set(seen) else None

    seen = await eventually(all_arrived, timeout=60)
    first_seen = list(dict.fromkeys(seen))
    assert first_seen == expected
    # At least once: only the message whose answer never came may arrive twice.
    assert len(seen) - len(first_seen) <= 1
    assert {c.answered for c in connector.calls} >= {429, 500}
