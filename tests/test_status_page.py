"""External communication end to end: `update external` in Teams, the card asking for the
public title, the public status page (HTML, JSON, Atom), Statuspage sync through the
loopback fake, and the review's "External communication" section."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
import pytest

from bot.incidents.pir import RemindReview
from bot.incidents.pir_builder import build_record
from bot.store.incident_models import Incident
from bot.store.status_models import PublicIncident, PublicUpdate, SyncState
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE
from tests.fakes.connector import FakeConnector
from tests.fakes.statuspage import FakeStatuspage
from tests.scenario import Team, eventually, thread_posts

ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC_URL = "https://status.example.com"
# Internal words that must never reach a public page.
INTERNAL = ("Primary DB failover", "acme-corp", "replica-7 lag", "Grace Hopper",
            "Ada Lovelace", "INC-1", "EU checkout", "rolling back deploy 4711")


@pytest.fixture
async def statuspage():
    fake = FakeStatuspage()
    await fake.start()
    yield fake
    await fake.stop()


def _settings(database_url: str, statuspage: FakeStatuspage | None = None, **extra: Any):
    values: dict[str, Any] = {
        "status_page_tenant_id": teams.TENANT, "public_base_url": PUBLIC_URL,
        "status_components": "API=apicomp01, Checkout=chkcomp01, Dashboard",
        "status_page_title": "Acme status"}
    if statuspage is not None:
        values.update(statuspage_page_id=statuspage.page_id, statuspage_api_key=statuspage.key,
                      statuspage_api_url=statuspage.api_url)
    return make_settings(database_url, **{**values, **extra})


@pytest.fixture
async def team(database_url, start_bot, connector, statuspage) -> Team:
    bot = await start_bot(_settings(database_url, statuspage))
    team = Team(bot, connector)
    await team.say("setup")
    return team


async def _commanded(team: Team, title: str = "Primary DB failover sev2") -> Incident:
    incident = await team.declare(f"{title} @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    await team.press("handover.accept", {"handoverId": handover.id, "incidentId": incident.id},
                     sender=GRACE)
    return await Incident.get(id=incident.id)


async def _fetch(bot: RunningBot, path: str) -> tuple[int, str, dict[str, str]]:
    async with bot.session.get(bot.server.make_url(path)) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


def _form(connector: FakeConnector, *, closing: bool = False) -> dict | None:
    """The latest external-update card: the first one asks for a title, a closing one not."""
    for call in reversed(connector.of_kind("reply")):
        for attachment in (call.body or {}).get("attachments") or []:
            card = attachment.get("content") or {}
            if (any(a.get("verb") == "external.publish" for a in card.get("actions") or [])
                    and ("title" in _inputs(card)) is not closing):
                return card
    return None


def _inputs(card: dict) -> dict[str, Any]:
    return {e["id"]: e for e in card["body"] if e.get("type", "").startswith("Input.")}


async def _replied(connector: FakeConnector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def test_external_updates_reach_the_status_page_feed_json_and_statuspage(
        team: Team, connector, statuspage):
    incident = await _commanded(team)
    await team.say("note acme-corp sees replica-7 lag", sender=ADA, thread=incident)
    await team.say("update rolling back deploy 4711", sender=GRACE, thread=incident)
    await team.say("impact EU checkout payments delayed", sender=GRACE, thread=incident)

    # Only the Commander (by default) speaks to customers.
    await team.say("update external We are looking into it", sender=ADA, thread=incident)
    await eventually(lambda: _replied(connector, "Only the Incident Commander of INC-1 can "
                                      "publish external updates"))

    # The first external update asks for a public title: empty, never the internal one.
    first = "We are investigating delayed card payments."
    await team.say(f"update external {first}", sender=GRACE, thread=incident)
    card = await eventually(lambda: _async(_form(connector)))
    inputs = _inputs(card)
    assert inputs["title"]["value"] == "" and "Primary DB failover" not in json.dumps(card)
    assert inputs["text"]["value"] == first and inputs["status"]["value"] == "investigating"
    assert [c["value"] for c in inputs["components"]["choices"]] == ["API", "Checkout",
                                                                     "Dashboard"]
    assert not await PublicIncident.exists()

    answer = await team.press("external.publish", {
        "incidentId": incident.id, "title": "Card payments delayed",
        "components": "Checkout,API", "status": "investigating", "text": first}, sender=GRACE)
    assert "Published to customers" in answer["value"]

    await eventually(lambda: _async(statuspage.bodies() == [first]))
    statuspage.fail_next(503)  # Statuspage is down once: the update is retried, in order
    second = "We found the cause and are rolling out a fix."
    await team.say(f"update external identified {second}", sender=GRACE, thread=incident)
    await team.say("mitigated", sender=GRACE, thread=incident)

    # Mitigation prompts the next update, with nothing prefilled; as offered it says
    # "monitoring" (the cause may still be there), never "resolved".
    closing = await eventually(lambda: _async(_form(connector, closing=True)))
    assert _inputs(closing)["text"]["value"] == ""
    assert _inputs(closing)["status"]["value"] == "monitoring" and "title" not in _inputs(closing)
    third = "Card payments are processed normally again. Sorry for the delay!"
    await team.press("external.publish", {"incidentId": incident.id, "status": "resolved",
                                          "text": third}, sender=GRACE)

    await eventually(lambda: _async(statuspage.bodies() == [first, second, third]))
    [sp_incident] = statuspage.incidents.values()
    assert sp_incident["name"] == "Card payments delayed"
    assert sp_incident["status"] == "resolved"
    assert [r.status for r in statuspage.requests] == [201, 503, 200, 200]
    assert [r.method for r in statuspage.requests] == ["POST", "PATCH", "PATCH", "PATCH"]
    assert statuspage.requests[0].body["incident"]["component_ids"] == ["chkcomp01",
                                                                        "apicomp01"]
    assert statuspage.requests[-1].body["incident"]["components"] == {
        "chkcomp01": "operational", "apicomp01": "operational"}
    await eventually(lambda: _synced_count(3))
    await team.settle()
    live = [u for u in team.card_updates() if u.activity_id == incident.card_activity_id][-1]
    assert "**Customers told:** resolved since {{DATE(" in live.text

    # The HTML page: every update, no login, nothing internal.
    status, page, headers = await _fetch(team.bot, "/status")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "max-age" in headers["Cache-Control"]
    # Self-contained: inline CSS, no scripts, nothing fetched from elsewhere.
    assert 'name="viewport"' in page and "<style>" in page
    assert "<script" not in page and "src=" not in page and 'rel="stylesheet"' not in page
    for text in ("Card payments delayed", first, second, "Sorry for the delay!"):
        assert text in page
    assert "Recently resolved" in page and "All systems operational" in page

    # JSON: the stable schema.
    status, raw, headers = await _fetch(team.bot, "/status.json")
    data = json.loads(raw)
    assert data["status"] == "operational" and data["page"]["url"] == f"{PUBLIC_URL}/status"
    [public] = data["incidents"]
    assert public["title"] == "Card payments delayed" and public["status"] == "resolved"
    assert public["components"] == ["Checkout", "API"] and public["resolved_at"]
    assert [u["text"] for u in public["updates"]] == [third, second, first]
    assert [u["status"] for u in public["updates"]] == ["resolved", "identified", "investigating"]

    # Atom: a valid feed, one entry per update, newest first.
    status, atom, headers = await _fetch(team.bot, "/status.atom")
    assert headers["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(atom.encode())
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}").text
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "Acme status"
    [self_link] = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href") == f"{PUBLIC_URL}/status.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}content").text for e in entries] == [third, second, first]
    for entry in entries:
        assert entry.find(f"{ATOM}id").text.startswith(f"{PUBLIC_URL}/status#update-")
        assert entry.find(f"{ATOM}title").text.startswith("Card payments delayed: ")
        assert entry.find(f"{ATOM}updated").text.endswith("Z")
    assert len({e.find(f"{ATOM}id").text for e in entries}) == 3

    # Nothing internal on any of the three.
    for body in (page, raw, atom):
        for secret in INTERNAL:
            assert secret not in body, secret

    # The review lists what customers were told, and that Statuspage has it.
    record = await build_record(await Incident.get(id=incident.id))
    markdown = render_markdown(record)
    assert "## External communication" in markdown
    assert "**Customers told:** yes, as Card payments delayed" in markdown
    assert markdown.count("(Statuspage: synced)") == 3
    assert "We found the cause and are rolling out a fix." in render_html(record)


async def test_public_text_is_escaped_on_every_output(team: Team, connector):
    incident = await _commanded(team)
    await team.say("update external x", sender=GRACE, thread=incident)
    await eventually(lambda: _async(_form(connector)))
    hostile_title = '<script>alert("t")</script> & </title>'
    hostile_text = "</content><entry>forged</entry> <img src=x onerror=alert(1)> ]]> &amp;"
    unxml = "\ufffe"  # not a character XML can carry: replaced in the feed only
    data = {"incidentId": incident.id, "title": hostile_title, "components": "Dashboard",
            "status": "monitoring", "text": hostile_text + unxml}
    await team.press("external.publish", data, sender=GRACE)
    again = await team.press("external.publish", data, sender=GRACE)  # a second press
    assert again["value"] == "That update is already published."

    _, page, _ = await _fetch(team.bot, "/status")
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; &amp; &lt;/title&gt;" in page
    _, atom, _ = await _fetch(team.bot, "/status.atom")
    feed = ET.fromstring(atom.encode())
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}content").text == hostile_text + "\ufffd"
    assert entry.find(f"{ATOM}title").text == f"{hostile_title}: Monitoring"
    _, raw, _ = await _fetch(team.bot, "/status.json")
    assert json.loads(raw)["incidents"][0]["updates"][0]["text"] == hostile_text + unxml


async def test_a_statuspage_refusal_is_told_in_the_thread_and_later_updates_still_sync(
        team: Team, connector, statuspage):
    incident = await _commanded(team)
    await team.say("update external Some logins fail.", sender=GRACE, thread=incident)
    await eventually(lambda: _async(_form(connector)))
    statuspage.fail_next(400)  # refused for good: no retry
    await team.press("external.publish", {"incidentId": incident.id, "title": "Login errors",
                                          "status": "investigating",
                                          "text": "Some logins fail."}, sender=GRACE)
    warning = await eventually(lambda: _posted(connector, incident, "Could not post the "
                                               "external update"))
    assert "Statuspage refused the update (400)" in warning.text
    assert statuspage.key not in warning.text
    await team.say("update external monitoring Logins work again.", sender=GRACE,
                   thread=incident)
    await eventually(lambda: _async(statuspage.bodies() == ["Logins work again."]))
    await eventually(lambda: _synced_count(1))
    states = [u.sync_state for u in await PublicUpdate.all().order_by("id")]
    assert states == [SyncState.FAILED, SyncState.SYNCED]
    # The status page has both: it never depended on Statuspage.
    _, raw, _ = await _fetch(team.bot, "/status.json")
    assert len(json.loads(raw)["incidents"][0]["updates"]) == 2
    markdown = render_markdown(await build_record(await Incident.get(id=incident.id)))
    assert "(Statuspage: failed: Statuspage refused the update (400)" in markdown


async def test_commander_is_reminded_when_impacted_customers_were_not_told(team: Team,
                                                                           connector):
    incident = await _commanded(team)
    await team.say("impact checkout down for all EU shoppers", sender=GRACE, thread=incident)
    await eventually(lambda: _replied(connector, "Customers have not been told yet"))
    await team.say("mitigated", sender=GRACE, thread=incident)
    reminder = await eventually(lambda: _posted(connector, incident,
                                                "customers have not been told"))
    assert reminder.body["entities"][0]["mentioned"]["id"] == GRACE.id
    assert "@incident update external" in reminder.text
    markdown = render_markdown(await build_record(await Incident.get(id=incident.id)))
    assert "**Customers told:** no — customer impact was recorded" in markdown

    # The review reminders say it again, privately.
    await team.fire_timers(RemindReview.KIND)
    reminded = await eventually(lambda: _sent(connector, "customers were never told"))
    assert "@incident update external" in reminded.text


async def test_without_a_status_tenant_nothing_is_public(start_bot, sqlite_url, connector):
    bot = await start_bot(make_settings(sqlite_url))
    team = Team(bot, connector)
    await team.say("setup")
    incident = await _commanded(team)
    await team.say("update external hello customers", sender=GRACE, thread=incident)
    await eventually(lambda: _replied(connector, "External updates are not set up"))
    for path in ("/status", "/status.json", "/status.atom"):
        status, _, _ = await _fetch(bot, path)
        assert status == 404


async def test_the_page_shows_only_its_own_tenant(start_bot, sqlite_url, connector):
    bot = await start_bot(_settings(sqlite_url))
    team = Team(bot, connector)
    await team.say("setup")
    incident = await _commanded(team)
    other = await Incident.create(
        tenant_id="other-tenant", number=1, title="x", severity=1, declared_at=incident.declared_at,
        declared_by_id="u", declared_by_name="u", service_url="http://x", channel_id="c")
    public = await PublicIncident.create(
        tenant_id="other-tenant", incident=other, title="Other tenant outage",
        published_at=incident.declared_at, updated_at=incident.declared_at)
    await PublicUpdate.create(public_incident=public, status="investigating",
                              text="other tenant text", published_at=incident.declared_at)
    for path in ("/status", "/status.json", "/status.atom"):
        status, body, _ = await _fetch(bot, path)
        assert status == 200 and "Other tenant" not in body and "other tenant text" not in body
    # A forged card naming the other tenant's incident changes nothing.
    answer = await team.press("external.publish", {
        "incidentId": other.id, "title": "t", "status": "resolved", "text": "forged"},
        sender=GRACE)
    assert "does not exist" in answer["value"]
    assert await PublicUpdate.filter(text="forged").count() == 0


async def _posted(connector: FakeConnector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def _sent(connector: FakeConnector, fragment: str):
    found = [c for c in connector.of_kind("send") if fragment in c.text]
    return found[-1] if found else None


async def _synced_count(expected: int) -> bool:
    return await PublicUpdate.filter(sync_state=SyncState.SYNCED).count() == expected


async def _async(value: Any) -> Any:
    return value


async def test_statuspage_client_retries_only_what_statuspage_says_to(statuspage):
    from integrations.statuspage import PublicPost, Statuspage, StatuspageError

    async with aiohttp.ClientSession() as session:
        client = Statuspage(session, page_id=statuspage.page_id, api_key=statuspage.key,
                            api_url=statuspage.api_url, components={"API": "apicomp01"})
        post = PublicPost("Slow API", "investigating", "Looking into it", ("API", "Unknown"))
        statuspage.fail_next(429, headers={"Retry-After": "7"})
        with pytest.raises(StatuspageError) as limited:
            await client.post(post, incident_id=None)
        assert limited.value.retryable and limited.value.retry_after == 7.0
        created = await client.post(post, incident_id=None)
        assert statuspage.requests[-1].headers["Authorization"] == f"OAuth {statuspage.key}"
        assert statuspage.requests[-1].body == {"incident": {
            "status": "investigating", "body": "Looking into it", "component_ids": ["apicomp01"],
            "name": "Slow API"}}
        assert await client.post(post, incident_id=created) == created
        wrong = Statuspage(session, page_id=statuspage.page_id, api_key="nope",
                           api_url=statuspage.api_url)
        with pytest.raises(StatuspageError) as refused:
            await wrong.post(post, incident_id=None)
        assert not refused.value.retryable and refused.value.status == 401


def test_status_settings_name_one_tenant_and_map_components_to_statuspage_ids():
    settings = make_settings("sqlite://x", allowed_tenant_ids="t-1",
                             status_components="API=apicomp01, Checkout ,,Dashboard=",
                             external_update_roles="Investigator, commander")
    assert settings.status_tenant == "t-1"
    assert settings.components == (("API", "apicomp01"), ("Checkout", ""), ("Dashboard", ""))
    assert settings.external_update_roles == "commander,investigator"
    assert not settings.statuspage_enabled
    assert make_settings("sqlite://x", allowed_tenant_ids="t-1,t-2").status_tenant == ""
    assert make_settings("sqlite://x", allowed_tenant_ids="t-1,t-2",
                         status_page_tenant_id="t-2").status_tenant == "t-2"
    with pytest.raises(ValueError, match="EXTERNAL_UPDATE_ROLES"):
        make_settings("sqlite://x", external_update_roles="commander,intern")


async def test_configured_roles_may_publish_too(start_bot, sqlite_url, connector):
    bot = await start_bot(_settings(sqlite_url, external_update_roles="investigator"))
    team = Team(bot, connector)
    await team.say("setup")
    incident = await _commanded(team)
    await team.say("update external Searches are slow.", sender=ADA, thread=incident)
    card = await eventually(lambda: _async(_form(connector)))
    assert _inputs(card)["text"]["value"] == "Searches are slow."
    answer = await team.press("external.publish", {
        "incidentId": incident.id, "title": "Slow search", "components": "Dashboard, nope",
        "status": "investigating", "text": "Searches are slow."}, sender=ADA)
    assert "'nope' is not one of the components customers know" in answer["value"]
    await team.press("external.publish", {
        "incidentId": incident.id, "title": "Slow search", "components": "dashboard",
        "status": "investigating", "text": "Searches are slow."}, sender=ADA)
    public = await PublicIncident.get()
    assert public.components == ["Dashboard"] and public.title == "Slow search"
