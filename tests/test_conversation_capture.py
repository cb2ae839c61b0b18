"""The conversation on the record (issue 19, docs/conversation-capture.md): with
CAPTURE_CONVERSATION, what people write in an incident's thread, channel or chat without
mentioning the bot goes on its timeline and into the review; edits and deletions follow;
everything else is neither stored nor answered. Teams-shaped activities (a message with
its `text/html` attachment and channelData, `messageUpdate` / `messageDelete` with their
event types) posted to the real /api/messages."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.incidents import review_links
from bot.incidents.queries import picture
from bot.store.incident_models import ChatEntry, Incident, IncidentStatus, TimelineEvent
from bot.store.models import ProcessedActivity
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.scenario import Team
from tests.test_private_incidents import declare_private, private_settings

GRAFANA = "https://grafana.example.com/d/checkout?from=now-1h"


async def capturing(start_bot: Any, url: str, connector: Any, **overrides: Any) -> Team:
    team = Team(await start_bot(make_settings(url, capture_conversation=True, **overrides)),
                connector)
    await team.say("setup")
    return team


async def declared(team: Team) -> Incident:
    incident = await team.declare("Checkout latency sev2")
    await team.settle()
    return await Incident.get(id=incident.id)


async def chat(team: Team, incident: Incident | None, text: str, **kwargs: Any) -> dict:
    """`text` written in the incident's thread (or, without one, as told by kwargs)."""
    if incident is not None:
        kwargs.setdefault("root_id", incident.card_activity_id)
    message = teams.chat_message(team.connector.url, text, **kwargs)
    status, body = await team.bot.post(message)
    assert (status, body) == (200, None)
    return message


async def post(team: Team, activity: dict) -> None:
    status, body = await team.bot.post(activity)
    assert (status, body) == (200, None)


async def chat_events(incident: Incident) -> list[tuple[str | None, str]]:
    events = await TimelineEvent.filter(incident_id=incident.id, kind="chat").order_by("id")
    return [(e.actor_name, e.text) for e in events]


async def review(team: Team, incident: Incident, fmt: str) -> str:
    path = await review_links.link("", incident.id, fmt=fmt, expires=int(time.time()) + 600)
    async with team.bot.session.get(team.bot.server.make_url(path)) as resp:
        assert resp.status == 200
        return await resp.text()


def conversation_part(page: str) -> str:
    """The review's Conversation section (HTML or Markdown)."""
    start = page.index("Conversation</h2>") if "</h2>" in page else page.index("## Conversation")
    end = page.index("Hypotheses", start)
    return page[start:end]


async def test_two_people_chat_one_edits_one_deletes_timeline_and_review_show_exactly_that(
    start_bot, database_url, connector
):
    team = await capturing(start_bot, database_url, connector)
    incident = await declared(team)
    calls_before = len(connector.calls)

    grace = await chat(team, incident, "p99 is 4 s since 09:50, dashboard", sender=GRACE,
                       html=f'<p>p99 is 4 s since 09:50, <a href="{GRAFANA}">dashboard</a></p>')
    ada = await chat(team, incident, "Rolling back deploy 4411 now", sender=ADA)
    await post(team, teams.message_update(
        grace, "p99 is 6 s since 09:50, dashboard",
        html=f'<p>p99 is <b>6 s</b> since 09:50, <a href="{GRAFANA}">dashboard</a></p>'))
    await post(team, teams.message_delete(ada))

    # The timeline: two chat entries, as they read now.
    assert await chat_events(incident) == [
        ("Grace Hopper", "p99 is 6 s since 09:50, dashboard"),
        ("Ada Lovelace", "message deleted by its author")]
    entries = await ChatEntry.filter(incident_id=incident.id).order_by("id")
    assert [(e.message_id, e.author_id, e.edited_at is not None, e.deleted_at is not None)
            for e in entries] == [(grace["id"], GRACE.id, True, False),
                                  (ada["id"], ADA.id, False, True)]
    assert entries[0].links == [GRAFANA] and entries[1].text == "message deleted by its author"
    assert "Rolling back" not in str([(e.text, e.links, e.attachments) for e in entries])
    # Nobody asked the bot anything: no reply, no card refresh.
    await team.settle()
    assert connector.calls[calls_before:] == []
    # The card and `status` keep what was decided, not the chat.
    assert all(e.kind != "chat" for e in (await picture(incident)).recent)

    for fmt in ("html", "md"):
        page = await review(team, incident, fmt)
        said = conversation_part(page)
        assert "Grace Hopper" in said and "6 s since 09:50" in said
        assert "4 s since" not in page and "Rolling back" not in page
        assert "message deleted by its author" in said and "Ada Lovelace" in said
        assert GRAFANA.split("?")[0] in said and "(edited " in said
        # Beside the timeline, not in it.
        assert "6 s since" not in page[:page.index(said)]
    html_page = await review(team, incident, "html")
    assert "<details>\n<summary>2 messages written" in conversation_part(html_page)


async def test_messages_outside_incident_places_are_neither_stored_nor_answered(
    start_bot, sqlite_url, connector
):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)
    calls_before = len(connector.calls)
    processed = await ProcessedActivity.all().count()

    await chat(team, None, "lunch at noon?")  # a new post in the incidents channel
    await chat(team, None, "anyone seen the build?", root_id="1764000000001")  # other thread
    await chat(team, None, "weekend plans", channel_id="19:random@thread.tacv2")
    await chat(team, None, "hello there", chat_id="19:unrelated-chat@thread.v2")

    assert await ChatEntry.all().count() == 0
    assert await chat_events(incident) == []
    assert await ProcessedActivity.all().count() == processed  # not even a transaction
    await team.settle()
    assert connector.calls[calls_before:] == []


async def test_without_the_setting_nothing_is_stored(start_bot, sqlite_url, connector):
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    await team.say("setup")
    incident = await declared(team)

    calls_before = len(connector.calls)
    message = await chat(team, incident, "p99 is 4 s since 09:50", sender=GRACE)
    await post(team, teams.message_update(message, "p99 is 6 s"))
    await post(team, teams.message_delete(message))
    # Teams sends such messages only with the RSC permissions (a package built with the
    # setting on, which was turned off since): they are neither commands nor answered.
    await chat(team, incident, "mitigated by rolling back the deploy, I think", sender=GRACE)

    assert await ChatEntry.all().count() == 0
    assert await chat_events(incident) == []
    await team.settle()
    assert [c for c in connector.calls[calls_before:] if c.kind in ("reply", "send")] == []
    assert (await Incident.get(id=incident.id)).status is IncidentStatus.INVESTIGATING


HOSTILE_HTML = ('<p>look <script>alert(1)</script><img src="x" onerror="alert(2)" alt="pic">'
                '<a href="javascript:alert(3)">here</a> [click](javascript:alert(4)) '
                '&lt;b&gt;bold&lt;/b&gt; <at>incident</at> resolved</p>'
                '<style>body{display:none}</style>')


async def test_hostile_chat_text_stays_inert_on_the_timeline_the_review_and_the_cards(
    start_bot, sqlite_url, connector
):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)
    cards_before = len(team.card_updates())

    # A fake mention (an <at> with no mention entity) is text, not a command.
    await chat(team, incident, "<at>incident</at> resolved", sender=GRACE, html=HOSTILE_HTML)
    await chat(team, incident, "x" * 10_000, sender=LINUS)
    await chat(team, incident, "<script>alert(5)</script> | --- | [a](b) <at>Ada</at>",
               sender=ADA, html="")

    assert (await Incident.get(id=incident.id)).status is IncidentStatus.INVESTIGATING
    [(_, first), (_, long), (_, third)] = await chat_events(incident)
    assert "alert(1)" not in first and "display:none" not in first
    assert "[pic]" in first and "<b>bold</b> incident resolved" in first
    assert len(long) == 4000 and long.endswith("…")
    entries = await ChatEntry.filter(incident_id=incident.id).order_by("id")
    assert entries[0].links is None  # javascript: is no link
    assert entries[0].attachments == [{"name": "pic", "url": "", "kind": "image"}]

    page = await review(team, incident, "html")
    said = conversation_part(page)
    assert "<script" not in page and "javascript:" not in said.replace(
        "[click](javascript:alert(4))", "")
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in said
    assert "&lt;b&gt;bold&lt;/b&gt;" in said and "onerror" not in page
    assert 'href="javascript' not in page
    markdown = conversation_part(await review(team, incident, "md"))
    assert "\\<script\\>" in markdown and "\\[a\\](b)" in markdown
    assert "\\| --- \\|" in markdown and "\\[click\\](javascript:alert(4))" in markdown
    # Chat never reaches the card: it is not refreshed, and what it shows has none of it.
    await team.settle()
    assert len(team.card_updates()) == cards_before
    assert all("alert" not in str(c.body) for c in connector.calls)


async def test_a_mention_still_runs_its_command_and_is_not_chat(start_bot, sqlite_url,
                                                                connector):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)

    await team.say("note checked the load balancer", thread=incident, sender=GRACE)

    notes = await TimelineEvent.filter(incident_id=incident.id, kind="note")
    assert [n.text for n in notes] == ["checked the load balancer"]
    assert await ChatEntry.all().count() == 0 and await chat_events(incident) == []


async def test_edits_and_deletions_of_messages_never_heard_are_ignored(start_bot, sqlite_url,
                                                                       connector):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)
    command = await team.say("note checked the load balancer", thread=incident)
    kept = await chat(team, incident, "keep this", sender=GRACE)
    processed = await ProcessedActivity.all().count()

    await post(team, teams.message_update(command, "note something else"))
    await post(team, teams.message_delete(command))
    stranger = teams.chat_message(connector.url, "never sent to the bot",
                                  root_id=incident.card_activity_id)
    await post(team, teams.message_update(stranger, "edited"))
    await post(team, teams.message_update(kept, "other event", event="reactionAdded"))

    assert await chat_events(incident) == [("Grace Hopper", "keep this")]
    notes = await TimelineEvent.filter(incident_id=incident.id, kind="note")
    assert [n.text for n in notes] == ["checked the load balancer"]
    assert await ProcessedActivity.all().count() == processed
    # The same edit delivered twice is applied once; a later edit still applies.
    edit = teams.message_update(kept, "keep this, edited")
    await post(team, edit)
    await post(team, edit)
    await post(team, teams.message_update(kept, "keep this, edited twice"))
    assert await chat_events(incident) == [("Grace Hopper", "keep this, edited twice")]


async def test_a_private_incidents_chat_is_captured(start_bot, sqlite_url, graph, connector):
    # tests/test_private_incidents.py's team, with the setting on.
    connector.chat_installs = set()
    graph.on_chat_install = connector.chat_installs.add
    for user in (ADA, GRACE, LINUS):
        connector.members[user.id] = {"id": user.id, "name": user.name,
                                      "aadObjectId": user.aad_object_id}
    team = Team(await start_bot(private_settings(sqlite_url, graph, capture_conversation=True)),
                connector)
    await team.say("setup")
    incident = await declare_private(team, mentions=(GRACE,),
                                     text="Payroll export readable by all staff sev2 @Grace")
    calls_before = len(connector.calls)

    said = await chat(team, None, "the export bucket is public", sender=GRACE,
                      chat_id=incident.thread_id)
    await post(team, teams.message_update(said, "the export bucket was public"))

    assert await chat_events(incident) == [("Grace Hopper", "the export bucket was public")]
    await team.settle()
    assert connector.calls[calls_before:] == []


@pytest.mark.parametrize("kind", ["image/png", "reference"])
async def test_attachments_are_kept_as_references(start_bot, sqlite_url, connector, kind):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)
    url = "https://contoso.sharepoint.com/sites/ops/Shared%20Documents/trace.har"

    await chat(team, incident, "", html="<p></p>", sender=GRACE, attachments=[
        {"contentType": kind, "contentUrl": url, "name": "trace.har"},
        {"contentType": "application/vnd.microsoft.teams.file.download.info",
         "contentUrl": url, "name": "dump.bin",
         "content": {"downloadUrl": "https://download.example/secret-token", "fileType": "bin"}},
    ])

    [entry] = await ChatEntry.filter(incident_id=incident.id)
    assert entry.text == "[trace.har, dump.bin]"
    assert entry.attachments == [
        {"name": "trace.har", "url": url, "kind": "image" if kind == "image/png" else "file"},
        {"name": "dump.bin", "url": "", "kind": "file"}]
    page = await review(team, incident, "html")
    assert "trace.har" in page and "secret-token" not in page


async def test_a_closed_incident_hears_no_more_and_other_bots_are_not_people(
    start_bot, sqlite_url, connector
):
    team = await capturing(start_bot, sqlite_url, connector)
    incident = await declared(team)
    workflow = teams.chat_message(connector.url, "Deployment 1.42 finished",
                                  root_id=incident.card_activity_id)
    workflow["from"] = {"id": "28:workflows-app", "name": "Workflows", "role": "bot"}
    await post(team, workflow)
    kept = await chat(team, incident, "rolled back at 10:02", sender=GRACE)
    await team.settle()
    # Closed (the close command's own rules are tested elsewhere): its record is final.
    await Incident.filter(id=incident.id).update(status=IncidentStatus.CLOSED)

    await chat(team, incident, "one more thing after close", sender=LINUS)
    await post(team, teams.message_update(kept, "rolled back at 10:03"))

    assert await chat_events(incident) == [("Grace Hopper", "rolled back at 10:02")]

