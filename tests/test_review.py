"""From declaration to a ready Post Incident Review, through Teams and the review pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.incidents.pir import RemindReview, TrackAction
from bot.incidents.working_days import pir_due
from bot.store.incident_models import Incident, IncidentStatus, TimelineEvent
from bot.store.pir_models import FollowUpAction, Review
from tests.conftest import make_settings
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.scenario import Team, a_week_from_now, eventually, thread_posts

CSE = User("29:1cse-carol", "Carol Support", "aad-carol")
_LINK = re.compile(r"(http://\S+/review\.(?:html|md)\?expires=\d+&sig=[0-9a-f]+)")


async def _commanded_incident(team: Team) -> Incident:
    incident = await team.declare("Checkout latency sev2 @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    await team.press("handover.accept", {"handoverId": handover.id, "incidentId": incident.id},
                     sender=GRACE)
    return await Incident.get(id=incident.id)


async def _link(connector, incident: Incident, fmt: str = "html") -> str:
    incident = await Incident.get(id=incident.id)
    for call in reversed(thread_posts(connector, incident) + connector.of_kind("reply")
                         + connector.of_kind("send")):
        for link in _LINK.findall(call.text):
            if link.split("?")[0].endswith(fmt):
                return link
    return ""


_SERVER: list[str] = []


async def _get(url: str) -> tuple[int, str, dict]:
    """Fetch a review link from the running bot (links name PUBLIC_BASE_URL's host)."""
    parts = urlsplit(url)
    local = _SERVER[-1].rstrip("/") + parts.path + ("?" + parts.query if parts.query else "")
    async with aiohttp.ClientSession() as session:
        async with session.get(local) as resp:
            return resp.status, await resp.text(), dict(resp.headers)


def _serving(bot) -> None:
    _SERVER.append(str(bot.server.make_url("/")))


@pytest.fixture
async def reviewed(start_bot, database_url, connector, github):
    settings = make_settings(database_url, github_repository="acme/payments",
                             github_token="ghp_test_token_value",
                             github_api_url=github.url.rstrip("/"))
    bot = await start_bot(settings)
    _serving(bot)
    team = Team(bot, connector)
    await team.say("setup")
    await team.say("setup cse @Carol", mentions=(CSE,))
    await team.say("setup timezone Europe/Berlin")
    await team.say("setup holidays DE")
    return team


async def test_from_declaration_to_a_ready_review(reviewed: Team, connector, github):
    team = reviewed
    incident = await _commanded_incident(team)
    for text in ("note p99 4s https://grafana.example/d/checkout", "hypothesis replica lag",
                 "hypothesis 1 confirmed", "update failing over the replica"):
        await team.say(text, sender=ADA, thread=incident)
    await team.say("mitigated", sender=GRACE, thread=incident)

    review = await eventually(lambda: Review.get_or_none(incident_id=incident.id))
    incident = await Incident.get(id=incident.id)
    assert review.due_at == pir_due(incident.mitigated_at, zone="Europe/Berlin", country="DE")
    page = await eventually(lambda: _link(connector, incident))
    status, html, headers = await _get(page)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    events = [e.text for e in await TimelineEvent.filter(incident=incident).order_by("at", "id")]
    positions = [html.find(_escaped(text)) for text in events]
    assert -1 not in positions and positions == sorted(positions)
    assert "<svg" in html

    github.fail_next(500)  # the tracker is down once: the action is kept and retried
    await team.say("action add replica lag alert @Linus", sender=GRACE, mentions=(LINUS,),
                   thread=incident)
    await eventually(lambda: _tracked(team))
    assert len(github.requests) == 2
    [issue] = github.created
    assert issue["body"]["title"].startswith("INC-1 follow-up: add replica lag alert")
    assert issue["headers"]["Authorization"] == "Bearer ghp_test_token_value"

    await team.say("pir ready", sender=ADA, thread=incident)  # not the Commander
    await eventually(lambda: _reply(connector, "Only the Incident Commander"))
    await team.say("pir ready", sender=GRACE, thread=incident)
    told = await eventually(lambda: _sent_to_cse(connector))
    assert "INC-1 (Checkout latency) is ready" in told.text
    await team.say("pir", sender=GRACE, thread=incident)
    md = await eventually(lambda: _link(connector, incident, "md"))
    status, markdown, headers = await _get(md)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    assert "# PIR: INC-1" in markdown and "github.com/acme/payments/issues/1" in markdown

    await team.say("resolved", sender=GRACE, thread=incident)
    await team.say("close", sender=GRACE, thread=incident)
    await eventually(lambda: _closed(incident))


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


async def _tracked(team: Team):
    await team.fire_timers(TrackAction.KIND)
    action = await FollowUpAction.first()
    return action if action and action.tracker_state == "created" else None


async def _reply(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def _sent_to_cse(connector):
    chats = [c for c in connector.of_kind("create_conversation")
             if c.body.get("members") == [{"id": CSE.id}]]
    if not chats:
        return None
    sent = [c for c in connector.of_kind("send") if c.conversation_id == chats[0].response["id"]]
    return sent[-1] if sent else None


async def _closed(incident: Incident) -> bool:
    return (await Incident.get(id=incident.id)).status is IncidentStatus.CLOSED


async def test_forged_or_expired_links_are_refused(local_bot, connector):
    _serving(local_bot)
    team = Team(local_bot, connector)
    incident = await _commanded_incident(team)
    await team.say("mitigated", sender=GRACE, thread=incident)
    page = await eventually(lambda: _link(connector, incident))

    forged = page[:-4] + ("0000" if not page.endswith("0000") else "1111")
    expired = re.sub(r"expires=\d+", "expires=1000", page)
    other = page.replace(f"/incidents/{incident.id}/", f"/incidents/{incident.id + 1}/")
    for url in (forged, expired, other, page.split("?")[0]):
        status, _, _ = await _get(url)
        assert status == 403, url
    assert (await _get(page))[0] == 200


async def test_review_reminders_fire_from_the_job_table_after_a_restart(start_bot, sqlite_url,
                                                                        connector):
    first = await start_bot(make_settings(sqlite_url))
    team = Team(first, connector)
    incident = await _commanded_incident(team)
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))
    await team.settle()
    await first.server.close()  # the bot goes down; its timers are rows, not tasks

    second = await start_bot(make_settings(sqlite_url))
    team = Team(second, connector)
    await team.fire_timers(RemindReview.KIND)

    reminder = await eventually(lambda: _dm_containing(connector, "is now overdue"))
    assert "review of INC-1" in reminder.text


async def _dm_containing(connector, fragment: str):
    found = [c for c in connector.of_kind("send") if fragment in c.text]
    return found[-1] if found else None


async def test_a_review_meeting_is_scheduled_with_the_participants_invited(
    start_bot, sqlite_url, connector, google, tmp_path
):
    from bot.incidents.review_meeting import ScheduleMeeting
    from tests.fakes.google import write_service_account

    account = write_service_account(tmp_path, google.token_uri)
    google.public_key = account.public_key
    settings = make_settings(sqlite_url, google_service_account_file=str(account.path),
                             google_delegated_user="ic@example.com",
                             google_api_endpoint=google.url)
    team = Team(await start_bot(settings), connector)
    for user in (ADA, GRACE):
        connector.members[user.id] = {"id": user.id, "name": user.name,
                                      "email": f"{user.name.split()[0].lower()}@example.com"}
    incident = await _commanded_incident(team)
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))

    await team.say(f"review meeting {a_week_from_now()}", sender=GRACE, thread=incident)
    await team.fire_timers(ScheduleMeeting.KIND)

    review = await eventually(lambda: _meeting_booked(incident))
    assert review.meeting_url.startswith("https://meet.google.com/")
    invited = {email for _event_id, email in google.invitations}  # sent with sendUpdates=all
    assert {"ada@example.com", "grace@example.com"} <= invited
    post = await eventually(lambda: _thread_post(connector, incident, "Review meeting on"))
    assert "invited: <at>Ada Lovelace</at>, <at>Grace Hopper</at>" in post.text  # notified


async def _meeting_booked(incident: Incident):
    review = await Review.get_or_none(incident_id=incident.id)
    return review if review and review.meeting_url else None


async def _thread_post(connector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def test_a_ready_review_is_exported_to_google_docs(start_bot, sqlite_url, connector, drive,
                                                         tmp_path):
    from bot.incidents.pir import ExportReview
    from tests.fakes.google import write_service_account

    account = write_service_account(tmp_path, drive.token_uri)
    drive.public_key = account.public_key
    settings = make_settings(sqlite_url, google_service_account_file=str(account.path),
                             google_delegated_user="ic@example.com",
                             google_api_endpoint=drive.url)
    team = Team(await start_bot(settings), connector)
    incident = await _commanded_incident(team)
    await team.say("note replica lag confirmed at 09:40", sender=ADA, thread=incident)
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))

    await team.say("pir ready", sender=GRACE, thread=incident)
    await team.fire_timers(ExportReview.KIND)

    review = await eventually(lambda: _exported(incident))
    [document] = drive.files.values()
    assert review.doc_url == document.webViewLink
    assert document.name == "PIR INC-1: Checkout latency"
    assert "replica lag confirmed at 09:40" in document.content
    await eventually(lambda: _thread_post(connector, incident, "also in Google Docs"))


async def _exported(incident: Incident):
    review = await Review.get_or_none(incident_id=incident.id)
    return review if review and review.doc_url else None


async def test_only_the_people_working_the_incident_change_its_review(bot, connector):
    team = Team(bot, connector)
    await team.say("setup")
    incident = await _commanded_incident(team)  # Ada investigates, Grace commands
    mallory = User("29:1mallory", "Mallory", "aad-mallory")
    await team.say("mitigated", sender=GRACE, thread=incident)
    await team.say("action add replica lag alert @Linus", sender=GRACE, mentions=(LINUS,),
                   thread=incident)

    await team.say("action blame the intern", sender=mallory, thread=incident)
    await eventually(lambda: _reply(connector, "can add its follow-up actions"))
    await team.say("pir rootcause it was the intern", sender=mallory, thread=incident)
    await eventually(lambda: _reply(connector, "Only the people working INC-1 (or an admin) "
                                               "can write its review"))
    await team.say("action 1 done", sender=mallory, thread=incident)
    refusal = await eventually(lambda: _reply(connector, "can mark follow-up actions done"))
    assert "Linus T, who owns action 1" in refusal.text
    assert "Commander: Grace Hopper" in refusal.text
    review = await eventually(lambda: Review.get_or_none(incident_id=incident.id))
    assert not review.root_cause
    assert (await FollowUpAction.get(incident_id=incident.id, number=1)).status == "open"
    assert await FollowUpAction.filter(incident_id=incident.id).count() == 1

    await team.say("action 1 done", sender=LINUS, thread=incident)  # its owner may
    await team.say("pir rootcause replica lag", sender=ADA, thread=incident)  # as may Ada
    await eventually(lambda: _reply(connector, "Saved in the review."))
    assert (await FollowUpAction.get(incident_id=incident.id, number=1)).status == "done"
    assert (await Review.get(incident_id=incident.id)).root_cause == "replica lag"
