"""No credential or token appears in logs, messages, errors or the review.

A whole incident runs through the real endpoint with every integration on and every
secret configured, including the providers' failures; then everything the bot said
anywhere (log records at DEBUG from every logger with their tracebacks, stdout and stderr,
what it sent the Bot Connector and the other providers, its HTTP answers, the review
pages, the database) is searched for each secret and token. The only place a credential
may go is the credential field of a request to the provider that owns it, which is not
searched.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from tortoise import Tortoise

from bot.incidents.pir import ExportReview, TrackAction
from bot.incidents.review_meeting import ScheduleMeeting
from bot.incidents.rooms import CreateRoom
from bot.incidents.staffing import Staff
from bot.store.incident_models import Commandeer, Handover, HandoverStatus, Incident
from bot.store.models import Job
from bot.store.oncall_models import Squad
from bot.store.pir_models import FollowUpAction, Review, SigningSecret
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.fakes.connector import as_read
from tests.fakes.google import write_service_account
from tests.fakes.google_drive import UPLOAD_PATH, FakeGoogleDrive
from tests.fakes.graph import FakeGraph
from tests.fakes.identity import APP_PASSWORD, FakeIdentity
from tests.fakes.loopback import serve
from tests.fakes.statuspage import FakeStatuspage
from tests.scenario import Team, a_week_from_now, eventually

CSE = User("29:1cse-carol", "Carol Support", "aad-carol")
BOB = User("29:1bob-dba", "Bob Dba", "aad-bob")
DECLARER = User("29:1dennis", "Dennis R", "aad-dennis")

ZOOM_SECRET = "zoomSecret-Kq8vT3nW6yB1xR4p"
GRAPH_SECRET = "graphSecret-Lm5cJ9hD2sF7gZ0u"
GITHUB_TOKEN = "github_pat_11ALEAKCHECK0Vd8Qe3Nw5Tz"
STATUSPAGE_KEY = "statuspageKey-Rw2mQ8xV4nB7kD1s"
METRICS_TOKEN = "metricsToken-Hs3dL9pW5qZ2cT8v"
WRONG_APP_PASSWORD = "Wr0ngAppPassword-Yh6Pn1Xc"
# A leak is a secret, or this many characters of one in a row.
CHUNK = 24
# What secrets and tokens are made of (base64, base64url, hex, JWT dots): a chunk of one
# can only appear inside a run of these characters.
_RUN = re.compile(rf"[A-Za-z0-9_.+/=~-]{{{CHUNK},}}")
_LINK = re.compile(r"https?://\S+?/review\.(?:html|md)\?expires=\d+&sig=[0-9a-f]+")
# The parts of a log record that are its own, not `extra=` fields.
_RECORD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class AllOfGoogle(FakeGoogleDrive):
    """One loopback Google serving what the bot uses on one api_endpoint: the token
    endpoint, Meet, Calendar and Drive."""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v2/spaces", self._create_space)
        app.router.add_post("/calendars/{calendar}/events", self._insert_event)
        app.router.add_get("/calendars/{calendar}/events/{event_id}", self._get_event)
        app.router.add_get("/files", self._list_files)
        app.router.add_post(UPLOAD_PATH, self._upload_file)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner, self.url = await serve(app)


@dataclass
class TokenedGraph(FakeGraph):
    """Graph issuing tokens as unguessable as Entra's (the plain fake numbers them)."""

    issued: list[str] = field(default_factory=list)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_secret") != GRAPH_SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        token = "graph-" + secrets.token_urlsafe(40)
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_in": 3599,
                                  "token_type": "Bearer"})


@dataclass
class SignedBot:
    """The running bot as the Bot Framework calls it: every POST carries a fresh channel
    token; the tokens and every answer are kept."""

    running: RunningBot
    identity: FakeIdentity
    tokens: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.running, name)

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        token = self.identity.token(service_url=activity["serviceUrl"])
        self.tokens.append(token)
        status, body = await self.running.post(
            activity, headers={"Authorization": f"Bearer {token}", **(headers or {})}, raw=raw)
        self.answers.append(f"{status} {json.dumps(body)}")
        return status, body

    async def post_with(self, token: str, activity: Any) -> int:
        """POST with this exact Authorization token; the status."""
        status, body = await self.running.post(
            activity, headers={"Authorization": f"Bearer {token}"})
        self.answers.append(f"{status} {json.dumps(body)}")
        return status

    async def page(self, url: str, *, headers: dict[str, str] | None = None) -> str:
        """GET a review link (links name PUBLIC_BASE_URL's host, so ask this server)."""
        parts = urlsplit(url)
        local = self.running.server.make_url(parts.path).with_query(parts.query)
        async with aiohttp.ClientSession() as session, \
                session.get(local, headers=headers or {}) as resp:
            text = await resp.text()
        self.answers.append(f"{resp.status} {dict(resp.headers)} {text}")
        assert resp.status == 200, text
        return text


@pytest.fixture
def every_logger_at_debug(caplog) -> Iterator[None]:
    """Every record of every logger reaches caplog, DEBUG included (google-auth stops its
    loggers propagating unless they are configured: configure them)."""
    caplog.set_level(logging.DEBUG)
    changed = []
    names = [*logging.root.manager.loggerDict, "google"]
    for logger in [logging.getLogger(n) for n in names]:
        if isinstance(logger, logging.Logger):
            changed.append((logger, logger.level, logger.propagate, logger.disabled))
            logger.setLevel(logging.DEBUG)
            logger.propagate, logger.disabled = True, False
    yield
    for logger, level, propagate, disabled in changed:
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


@pytest.fixture
async def all_of_google() -> AsyncIterator[AllOfGoogle]:
    fake = AllOfGoogle()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def tokened_graph() -> AsyncIterator[TokenedGraph]:
    fake = TokenedGraph()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def statuspage() -> AsyncIterator[FakeStatuspage]:
    fake = FakeStatuspage(key=STATUSPAGE_KEY)
    await fake.start()
    yield fake
    await fake.stop()


def _secured(database_url: str, identity: FakeIdentity, **extra: Any):
    return make_settings(
        database_url, app_id=identity.app_id, bot_openid_metadata_url=identity.metadata_url,
        bot_token_url=identity.token_url, allowed_tenant_ids=teams.TENANT,
        public_base_url="https://incident-bot.example.com", **extra)


@pytest.mark.slow
async def test_no_secret_or_token_leaks_from_an_incident_with_every_integration(
    start_bot, database_url, identity, connector, zoom, all_of_google, tokened_graph, github,
    statuspage, tmp_path, caplog, capfd, every_logger_at_debug,
):
    google, graph = all_of_google, tokened_graph
    zoom.client_secret, github.token = ZOOM_SECRET, GITHUB_TOKEN
    account = write_service_account(tmp_path, google.token_uri)
    google.public_key = account.public_key
    settings = _secured(
        database_url, identity, app_password=APP_PASSWORD, video_provider="zoom",
        zoom_account_id=zoom.account_id, zoom_client_id=zoom.client_id,
        zoom_client_secret=ZOOM_SECRET, zoom_api_base_url=zoom.api_url,
        zoom_oauth_url=zoom.oauth_url, video_timeout_s=5.0,
        google_service_account_file=str(account.path), google_delegated_user="ic@example.com",
        google_api_endpoint=google.url,
        graph_client_id="graph-app", graph_client_secret=GRAPH_SECRET,
        graph_token_url=graph.url + "token", graph_api_url=graph.url + "v1.0",
        github_repository="acme/payments", github_token=GITHUB_TOKEN,
        github_api_url=github.api_url, metrics_token=METRICS_TOKEN,
        statuspage_page_id=statuspage.page_id, statuspage_api_key=STATUSPAGE_KEY,
        statuspage_api_url=statuspage.api_url,
    )
    bot = SignedBot(await start_bot(settings), identity)
    team = Team(bot, connector)  # type: ignore[arg-type]

    incident = await _staffed_incident(team, graph)
    await _the_record(team, incident)
    public_pages = await _customers_told(team, incident, statuspage)
    await _rooms_through_failures(team, incident, zoom, google)
    pages = await _the_review(team, incident, zoom, google, github) + public_pages
    pages.append(await bot.page("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}))
    refused = _refused_tokens(identity, connector.url)
    for token in refused:
        assert await bot.post_with(token, _help(connector)) == 401

    # Every credential and failure the run was meant to exercise was, so the search means
    # something.
    assert len(identity.token_requests) >= 2  # the connector's 401 dropped the app token
    assert graph.issued and graph.lookups
    assert zoom.issued_tokens and {401, 500} <= _statuses(zoom.calls("meetings"))
    assert 401 in _statuses(zoom.calls("token"))
    assert {401, 500} <= _statuses(github.requests) and github.created
    assert 500 in _statuses(google.calls("token")) and google.files
    assert 500 in _statuses(google.calls("upload"))
    assert 500 in _statuses(statuspage.requests) and len(statuspage.bodies()) == 2
    assert {401, 500} <= _statuses(r for r in google.requests if r.path == "/v2/spaces")
    said = await _everything_said(caplog, capfd, bot, connector, pages, zoom=zoom,
                                  google=google, graph=graph, github=github)
    said["statuspage"] = _dump([(r.path, r.body, _without_auth(r.headers))
                                for r in statuspage.requests])
    known = await _secrets(settings, bot, connector, identity, zoom=zoom, google=google,
                           graph=graph, account_pem=account.private_key_pem,
                           extra=refused)
    _assert_none_in(known, said)


async def test_no_secret_leaks_when_the_app_password_is_wrong(
    start_bot, sqlite_url, identity, connector, caplog, capfd, every_logger_at_debug,
):
    settings = _secured(sqlite_url, identity, app_password=WRONG_APP_PASSWORD)
    bot = SignedBot(await start_bot(settings), identity)

    status, _ = await bot.post(_help(connector))

    assert status == 200  # the reply and the apology both failed for want of a token
    assert "Invalid client secret" in caplog.text
    assert {r["client_secret"] for r in identity.token_requests} == {WRONG_APP_PASSWORD}
    said = await _everything_said(caplog, capfd, bot, connector, [])
    known = await _secrets(settings, bot, connector, identity)
    assert WRONG_APP_PASSWORD in known.values()
    _assert_none_in(known, said)


# --- driving ------------------------------------------------------------------------------

async def _staffed_incident(team: Team, graph: TokenedGraph) -> Incident:
    """Setup, an on-call squad, and an incident staffed from it (Graph presence)."""
    for user in (ADA, GRACE, LINUS, BOB, DECLARER):
        team.connector.members[user.id] = {
            "id": user.id, "name": user.name, "aadObjectId": user.aad_object_id,
            "email": f"{user.name.split()[0].lower()}@example.com"}
    graph.presence = {ADA.aad_object_id: ("Available", False),
                      GRACE.aad_object_id: ("Available", False),
                      LINUS.aad_object_id: ("Away", False)}
    await team.say("setup")
    await team.say("setup cse @Carol", mentions=(CSE,))
    await team.say("oncall db rotation weekly 09:00 mon UTC @Ada @Grace @Linus",
                   mentions=(ADA, GRACE, LINUS))
    await eventually(lambda: Squad.exists(name="db"))
    incident = await team.declare("replica lag db", sender=DECLARER)
    await team.fire_timers(Staff.KIND)
    for user, role in ((ADA, "investigator"), (GRACE, "commander")):
        ask = await eventually(lambda u=user, r=role: _asked(u, r))
        await team.press("handover.accept", {"handoverId": ask.id, "incidentId": incident.id},
                         sender=user)
    return await eventually(lambda: _room(incident, "zoom"))


async def _the_record(team: Team, incident: Incident) -> None:
    """Commandeer, notes and updates; the connector once answers 401 (stale app token)."""
    await team.say("commandeer @Bob we need a DBA", sender=GRACE, mentions=(BOB,),
                   thread=incident)
    dm = await eventually(lambda: _dm_to(team.connector, BOB))
    request = await Commandeer.get()
    await team.press("commandeer.join", {"commandeerId": request.id, "incidentId": incident.id},
                     sender=BOB, conversation_id=dm.conversation_id)
    team.connector.fail_next(401)
    for text in ("note p99 4s https://grafana.example/d/db", "hypothesis replica lag",
                 "update failing over the replica", "impact EU checkout"):
        await team.say(text, sender=ADA, thread=incident)
    await team.settle()


async def _rooms_through_failures(team: Team, incident: Incident, zoom, google) -> None:
    """Zoom 500 (retried); Zoom 401 twice (falls back to Jitsi); Zoom's token endpoint 401
    (Jitsi); Meet 401 (token renewed); Meet 500 (retried)."""
    zoom.fail_next(500)
    await _new_room(team, incident, "zoom", "zoom")
    zoom.fail_next(401, times=2)
    await _new_room(team, incident, "zoom", "jitsi")
    zoom.revoke_tokens()
    zoom.fail_next(401, endpoint="token")
    await _new_room(team, incident, "zoom", "jitsi")
    google.fail_next(401, endpoint="meet")
    await _new_room(team, incident, "meet", "meet")
    google.fail_next(500, endpoint="meet")
    await _new_room(team, incident, "meet", "meet")


async def _customers_told(team: Team, incident: Incident,
                          statuspage: FakeStatuspage) -> list[str]:
    """Two external updates, synced to Statuspage (a 500 retried); the public pages."""
    await team.say("update external We are looking into slow payments.", sender=GRACE,
                   thread=incident)
    answer = await team.press("external.publish", {
        "incidentId": incident.id, "title": "Payments are slow", "components": "API",
        "status": "investigating", "text": "We are looking into slow payments."},
        sender=GRACE)
    assert "Published" in answer["value"], answer
    statuspage.fail_next(500)
    await team.say("update external identified A fix is rolling out.", sender=GRACE,
                   thread=incident)
    await eventually(lambda: _true(len(statuspage.bodies()) == 2), timeout=30)
    return [await team.bot.page(path) for path in ("/status", "/status.json", "/status.atom")]


async def _true(value: bool) -> bool:
    return value


async def _the_review(team: Team, incident: Incident, zoom, google, github) -> list[str]:
    """Mitigated; GitHub issues (a 500 retried, a 401 for good); the review meeting on
    Zoom (a 500 retried); ready, exported to Google Docs (the token endpoint and the upload
    fail once); the review pages through their signed links."""
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))
    html_link = await eventually(lambda: _link(team.connector, "html"))
    github.fail_next(500)
    await team.say("action add replica lag alert @Linus", sender=GRACE, mentions=(LINUS,),
                   thread=incident)
    await eventually(lambda: _tracked(team, 1, "created"))
    github.fail_next(401)
    await team.say("action runbook for failover", sender=GRACE, thread=incident)
    await eventually(lambda: _tracked(team, 2, "failed"))
    zoom.fail_next(500)
    await team.say(f"review meeting {a_week_from_now()}", sender=GRACE, thread=incident)
    await eventually(lambda: _after_firing(team, ScheduleMeeting.KIND, lambda: _meeting(incident)))
    google.fail_next(500, endpoint="token")
    google.fail_next(500, endpoint="upload")
    await team.say("pir ready", sender=GRACE, thread=incident)
    await eventually(lambda: _after_firing(team, ExportReview.KIND, lambda: _exported(incident)))
    await team.say("pir", sender=GRACE, thread=incident)
    md_link = await eventually(lambda: _link(team.connector, "md"))
    pages = [await team.bot.page(html_link), await team.bot.page(md_link)]
    await team.settle()
    return pages


def _statuses(requests) -> set[int]:
    return {r.status for r in requests}



def _help(connector) -> dict:
    return teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")


async def _asked(user: User, role: str) -> Handover | None:
    return await Handover.filter(to_id=user.id, role=role, status=HandoverStatus.PENDING).first()


async def _room(incident: Incident, provider: str):
    """The incident once no room is being made and its room is on `provider`."""
    if await Job.filter(kind=CreateRoom.KIND, status__in=["pending", "running"]).exists():
        return None
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url and fresh.room_provider == provider else None


async def _new_room(team: Team, incident: Incident, ask: str, expect: str) -> None:
    """`room <ask>`, firing the retries, until a new room on `expect` is on the incident."""
    await team.say(f"room {ask}", sender=GRACE, thread=incident)
    await eventually(lambda: _after_firing(team, CreateRoom.KIND, lambda: _room(incident, expect)))


async def _after_firing(team: Team, kind: str, check):
    """Make retries of `kind` due at once, then check (for `eventually`)."""
    await team.fire_timers(kind)
    return await check()


async def _dm_to(connector, user: User):
    chats = [c.response["id"] for c in connector.of_kind("create_conversation")
             if c.body.get("members") == [{"id": user.id}]]
    sent = [c for c in connector.of_kind("send") if c.conversation_id in chats]
    return sent[-1] if sent else None


async def _tracked(team: Team, number: int, state: str):
    await team.fire_timers(TrackAction.KIND)
    action = await FollowUpAction.get_or_none(number=number)
    return action if action and action.tracker_state == state else None


async def _meeting(incident: Incident):
    review = await Review.get_or_none(incident_id=incident.id)
    return review if review and review.meeting_url else None


async def _exported(incident: Incident):
    review = await Review.get_or_none(incident_id=incident.id)
    return review if review and review.doc_url else None


async def _link(connector, fmt: str) -> str:
    for call in reversed(connector.delivered):
        for link in _LINK.findall(call.text):
            if link.split("?")[0].endswith(fmt):
                return link
    return ""


def _refused_tokens(identity: FakeIdentity, service_url: str) -> list[str]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [identity.token(service_url=service_url, key=other),
            identity.token(service_url=service_url, aud="someone-elses-app"),
            identity.token(service_url="https://smba.attacker.example/")]




# --- capturing and searching ------------------------------------------------------------


async def _everything_said(caplog, capfd, bot: SignedBot, connector, pages: list[str], *,
                           zoom=None, google=None, graph=None, github=None) -> dict[str, str]:
    """Every text the bot produced, by where it went; credential fields sent to the
    provider that owns the credential are left out."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logs = []
    for record in caplog.records:
        logs.append(formatter.format(record))  # with the traceback and stack, if any
        logs += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _RECORD_ATTRS]
    out, err = capfd.readouterr()
    said = {
        "logs": "\n".join(logs),
        "stdout": out,
        "stderr": err,
        "answers": "\n".join(bot.answers),
        "connector": _dump([(c.method, c.path, c.body, _without_auth(c.headers))
                            for c in connector.calls]),
        "review pages": "\n".join(pages),
        "database": await _database(),
    }
    if zoom is not None:
        said["zoom"] = _dump([(r.path, r.body, _without_auth(r.headers)) for r in zoom.requests])
    if google is not None:
        said["google"] = _dump([
            (r.path, r.query, _without_auth(r.headers),
             {k: v for k, v in r.body.items() if k != "assertion"}
             if r.path == "/token" else r.body)
            for r in google.requests])
        said["google docs"] = _dump([vars(f) for f in google.files.values()])
    if graph is not None:
        said["graph"] = _dump([lookup["ids"] for lookup in graph.lookups])
    if github is not None:
        said["github"] = _dump([(r.path, r.body, _without_auth(r.headers))
                                for r in github.requests])
    return said


def _without_auth(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def _dump(value: Any) -> str:
    return json.dumps(value, default=repr)


async def _database() -> str:
    """Every row of every table but the one that holds the link-signing key."""
    rows = []
    for model in Tortoise.apps.get_models_iterable():
        if model is not SigningSecret:
            rows.append(f"{model.__name__}: {_dump(await model.all().values())}")
    return "\n".join(rows)


async def _secrets(settings, bot: SignedBot, connector, identity: FakeIdentity, *, zoom=None,
                   google=None, graph=None, account_pem: str = "",
                   extra: list[str] = ()) -> dict[str, str]:
    """Each secret and token the run configured, obtained or was shown, by name."""
    known: dict[str, str] = {f"setting {i}": s for i, s in enumerate(settings.secrets())}
    for i, token in enumerate(bot.tokens + list(extra)):
        known[f"channel token {i}"] = token
    app_tokens = {c.headers["Authorization"] for c in connector.calls
                  if "Authorization" in c.headers}
    for i, header in enumerate(sorted(app_tokens)):
        known[f"app token {i}"] = header.removeprefix("Bearer ")
    signing = await SigningSecret.all().values_list("secret", flat=True)
    known.update({f"review link key {i}": key for i, key in enumerate(signing)})
    if zoom is not None:
        known["zoom basic auth"] = base64.b64encode(
            f"{zoom.client_id}:{zoom.client_secret}".encode()).decode()
        known["zoom host key"] = zoom.host_key
        known.update({f"zoom token {i}": t for i, t in enumerate(zoom.issued_tokens)})
    if google is not None:
        known.update({f"google token {i}": g.token for i, g in enumerate(google.grants)})
        known.update({f"google assertion {i}": call.body["assertion"]
                      for i, call in enumerate(google.calls("token"))})
    if graph is not None:
        known.update({f"graph token {i}": t for i, t in enumerate(graph.issued)})
    if account_pem:
        known["private key"] = "".join(account_pem.strip().splitlines()[1:-1])
    assert all(len(v) >= 10 for v in known.values()), known  # long enough to mean a leak
    return known


def _assert_none_in(known: dict[str, str], said: dict[str, str]) -> None:
    """No secret, nor any CHUNK characters of one, in any text (also as a person reads it:
    JSON, Markdown and HTML escapes resolved; and URL-decoded)."""
    leaks: dict[str, dict[str, str]] = {}
    chunks = {s[i:i + CHUNK]: name for name, s in known.items() if _RUN.fullmatch(s)
              for i in range(len(s) - CHUNK + 1)}
    whole = {name: s for name, s in known.items() if not _RUN.fullmatch(s)}
    for where, text in said.items():
        for variant in (text, as_read(text.replace("\\\\", "\\")), unquote(text)):
            for name, secret in whole.items():
                if secret in variant:
                    leaks.setdefault(name, {}).setdefault(where, _around(variant, secret))
            for run in _RUN.findall(variant):
                for i in range(len(run) - CHUNK + 1):
                    name = chunks.get(run[i:i + CHUNK])
                    if name:
                        leaks.setdefault(name, {}).setdefault(where, _around(variant, run))
    if leaks:
        pytest.fail("leaked: " + "; ".join(f"{name} in {', '.join(places)}"
                                           for name, places in leaks.items())
                    + "".join(f"\n{name} in {where}: ...{seen}..."
                              for name, places in list(leaks.items())[:5]
                              for where, seen in places.items()), pytrace=False)


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return text[max(0, at - 120):at + len(secret) + 40].replace("\n", " | ")
