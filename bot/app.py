"""create_app(settings): wires the adapter, services, database and routes for one process."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.config import Mode, Settings, policy_of, review_template_of
from bot.incidents.background import Background, InIncident
from bot.incidents.severity import BUILT_IN, SeverityScale
from bot.logs import Throttled
from bot.metrics import Metrics
from bot.store import outbox
from bot.store.availability import DatabaseGate, answered_within, is_unavailable
from bot.store.database import close_database, open_database, ping, takes_writes
from bot.store.jobs import JobRunner, take_due_soon
from bot.store.local_journal import LocalJournal
from bot.store.models import OutboxOperation
from bot.store.pace import LocalPace, NoPace, Pace, SharedPace
from bot.store.unit_of_work import UnitOfWork
from bot.teams.adapter import TeamsAdapter
from bot.teams.answers import Deferred
from bot.teams.app_token import AppTokenProvider
from bot.teams.auth import BotFrameworkAuth
from bot.teams.bot import TeamsBot
from bot.teams.call import Services
from bot.teams.commands import all_routes
from bot.teams.connector import ConnectorClient
from bot.teams.deliveries import record_delivery
from bot.teams.members import MemberDirectory
from bot.teams.outbox import OutboxDispatcher
from bot.teams.render import Renderer
from bot.teams.replay import JournalReplayer
from bot.teams.signing_keys import SigningKeys
from bot.teams.timers import InTenant, incident_transaction, register_timers, tenant_transaction
from bot.teams.turns import TurnRunner
from bot.teams.undelivered import Undelivered
from bot.web import METRICS, REFUSALS, RUNTIME, SETTINGS
from bot.web.alerts import post_alerts
from bot.web.errors import error_middleware
from bot.web.health import get_healthz, get_livez
from bot.web.messages import post_messages
from bot.web.metrics import get_metrics
from bot.web.recent import RecentActivities
from bot.web.request_ids import request_middleware
from bot.web.review_html import render_html
from bot.web.review_pages import get_review
from bot.web.review_template import BUILT_IN as BUILT_IN_TEMPLATE
from bot.web.review_template import ReviewTemplate
from bot.web.status_pages import get_status, get_status_atom, get_status_json
from bot.web.zoom_events import post_zoom_events
from integrations.github_issues import GitHubIssues, IssueTracker
from integrations.google_docs import GoogleDocsExporter
from integrations.graph_presence import GraphPresence
from integrations.graph_token import GraphToken
from integrations.jira_issues import JiraIssues
from integrations.presence import NoPresence, PresenceSource
from integrations.statuspage import Statuspage
from integrations.teams_apps import GraphAppInstaller
from integrations.teams_channels import GraphChannels
from integrations.teams_chats import GraphChats
from integrations.trello_cards import TrelloCards
from integrations.video_factory import Bridges, Graph

log = logging.getLogger(__name__)

# Teams messages are at most ~28 KB; anything far larger is not a real activity.
MAX_BODY_BYTES = 256 * 1024
# A stop must end within 10 s (issue 14), so each part of it has a share: the workers
# finish their round or are cancelled (what they held is claimed again), then the
# database closes.
WORKER_GRACE_S = 2.0
DATABASE_CLOSE_S = 2.0


@dataclass
class Runtime:
    """Everything one running app holds; built at start-up, torn down at clean-up."""

    settings: Settings
    session: aiohttp.ClientSession
    connector: ConnectorClient
    adapter: TeamsAdapter
    bot: TeamsBot
    dispatcher: OutboxDispatcher
    jobs: JobRunner
    auth: BotFrameworkAuth | None
    journal: LocalJournal
    gate: DatabaseGate
    turns: TurnRunner
    replayer: JournalReplayer
    # Work a webhook causes (alerts: bot/web/alerts.py), in one transaction as the bot.
    in_tenant: InTenant
    recent: RecentActivities = field(default_factory=RecentActivities)
    # Domain work about one incident in one transaction, for webhooks (bot.web.zoom_events).
    in_incident: InIncident | None = None
    # The organisation's severity levels (SEVERITY_FILE), for pages the web layer renders.
    severity: SeverityScale = BUILT_IN
    # The review's layout (REVIEW_TEMPLATE_FILE, read once at start; bot/web/review_template.py).
    review_template: ReviewTemplate = BUILT_IN_TEMPLATE


def create_app(settings: Settings, *, migrate: bool = True) -> web.Application:
    """An aiohttp application; the database opens and workers start when it starts."""
    app = web.Application(middlewares=[request_middleware, error_middleware],
                          client_max_size=MAX_BODY_BYTES)
    metrics = Metrics()
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[REFUSALS] = Throttled(logging.getLogger("bot.web.messages"), interval_s=60.0)
    app.router.add_post("/api/messages", post_messages)
    app.router.add_post("/api/zoom/events", post_zoom_events)
    # Alertmanager and Grafana notifications, one URL per source in ALERT_RULES_FILE.
    app.router.add_post("/api/alerts/{source}", post_alerts)
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/livez", get_livez)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get(r"/incidents/{incident_id}/review.{fmt:html|md}", get_review)
    # The public status page: no login, published external updates only.
    app.router.add_get("/status", get_status)
    app.router.add_get("/status.json", get_status_json)
    app.router.add_get("/status.atom", get_status_atom)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if migrate:
            from bot.store.database import apply_migrations

            await apply_migrations(settings.database_url)
        await open_database(settings.database_url)
        runtime = await _start_runtime(settings, metrics)
        app[RUNTIME] = runtime
        _tune_garbage_collector()
        try:
            yield
        finally:
            await _stop_runtime(runtime)

    app.cleanup_ctx.append(lifecycle)
    return app


async def _stop_runtime(runtime: Runtime) -> None:
    """Stop the workers, then close the session, the journal and the database, in bounded
    time: what a cancelled worker held is claimed again after its lease, and what is in
    the journal is applied by the next process."""
    await asyncio.gather(runtime.dispatcher.stop(grace_s=WORKER_GRACE_S),
                         runtime.jobs.stop(grace_s=WORKER_GRACE_S),
                         runtime.replayer.stop(grace_s=WORKER_GRACE_S))
    await runtime.turns.finish_telling(timeout_s=1.0)
    await runtime.session.close()
    await runtime.journal.aclose()
    try:
        await asyncio.wait_for(close_database(), DATABASE_CLOSE_S)
    except TimeoutError:
        log.warning("database connections did not close within %s s; leaving them",
                    DATABASE_CLOSE_S)


def _graph_token(settings: Settings, session: aiohttp.ClientSession) -> GraphToken | None:
    if not settings.graph_enabled:
        return None
    return GraphToken(session, token_url=settings.graph_token,
                      client_id=settings.graph_client_id,
                      client_secret=settings.graph_client_secret.get_secret_value())


def _app_installer(settings: Settings, session: aiohttp.ClientSession,
                   token: GraphToken | None) -> GraphAppInstaller | None:
    if token is None or not settings.teams_app_catalog_id:
        return None
    return GraphAppInstaller(session, api_url=settings.graph_api_url, token=token,
                             app_catalog_id=settings.teams_app_catalog_id)


def _presence(token: GraphToken | None, settings: Settings, session: aiohttp.ClientSession,
              metrics: Metrics) -> PresenceSource:
    if token is None:
        return NoPresence()
    return GraphPresence(session, api_url=settings.graph_api_url, token=token,
                         on_error=lambda: metrics.provider_error("graph"))


def _tracker(settings: Settings, session: aiohttp.ClientSession) -> IssueTracker | None:
    """Where follow-up actions are filed (FOLLOW_UP_TRACKER, docs/follow-up-trackers.md)."""
    if settings.tracker == "jira":
        return JiraIssues(session, base_url=settings.jira_base_url.strip(),
                          site_url=settings.jira_site_url.strip(),
                          project_key=settings.jira_project_key.strip(),
                          issue_type=settings.jira_issue_type.strip() or "Task",
                          email=settings.jira_email.strip(),
                          api_token=settings.jira_api_token.get_secret_value(),
                          oauth_token=settings.jira_oauth_token.get_secret_value())
    if settings.tracker == "trello":
        return TrelloCards(session, api_key=settings.trello_api_key.get_secret_value(),
                           token=settings.trello_token.get_secret_value(),
                           list_id=settings.trello_list_id.strip(),
                           api_url=settings.trello_api_url)
    if settings.tracker == "github":
        return GitHubIssues(session, repository=settings.github_repository,
                            token=settings.github_token.get_secret_value(),
                            api_url=settings.github_api_url)
    return None


def _docs(settings: Settings) -> GoogleDocsExporter | None:
    if not settings.docs_enabled:
        return None
    return GoogleDocsExporter(service_account_file=settings.google_service_account_file,
                              delegated_user=settings.google_delegated_user,
                              api_endpoint=settings.google_api_endpoint)


def _statuspage(settings: Settings, session: aiohttp.ClientSession) -> Statuspage | None:
    if not settings.statuspage_enabled:
        return None
    return Statuspage(session, page_id=settings.statuspage_page_id,
                      api_key=settings.statuspage_api_key.get_secret_value(),
                      api_url=settings.statuspage_api_url,
                      components=dict(settings.components))


def _tune_garbage_collector() -> None:
    """Every turn allocates thousands of short-lived objects (msrest models, dicts). With
    the default thresholds, `help` under load (bench/) had a p99 of 44 ms; freezing what is
    alive after start-up and collecting the young generation less often gave 18 ms and 9%
    more throughput. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


async def _start_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    # zoomus and google-api-python-client block, so each provider call takes a worker
    # thread; the default pool (cores + 4) made rooms queue behind one another under load.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=32, thread_name_prefix="providers"))
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=15),
    )
    connector = ConnectorClient(session, AppTokenProvider(settings, session))
    journal = LocalJournal(settings.journal_path, max_bytes=settings.journal_max_mb << 20)
    gate = DatabaseGate(backlog=lambda: journal.pending)
    # One budget for every replica on PostgreSQL; SQLite serves one process.
    pace: Pace = (NoPace() if not settings.teams_pacing
                  else SharedPace() if settings.database_url.startswith("postgres")
                  else LocalPace())
    dispatcher = OutboxDispatcher(connector, pace=pace, on_sent=record_delivery,
                                  on_failure=metrics.connector_error, gate=gate)
    jobs = JobRunner(gate=gate)

    def wake() -> None:
        dispatcher.wake()
        if take_due_soon():
            jobs.wake()

    policy = policy_of(settings)
    layout = review_template_of(settings)
    members = MemberDirectory(connector)
    renderer = Renderer(bot_id=f"28:{settings.app_id}" if settings.app_id else "28:incident-bot",
                        components=policy.components, severity=policy.severity)
    graph = _graph_token(settings, session)
    apps = _app_installer(settings, session, graph)
    in_incident = incident_transaction(renderer, policy, wake)
    dispatcher.on_undeliverable = Undelivered(renderer, in_incident, wake=wake,
                                              installs=apps is not None)
    register_timers(jobs, Background(
        policy=policy, in_incident=in_incident,
        bridges=Bridges(settings, graph=Graph(session, graph) if graph else None),
        presence=_presence(graph, settings, session, metrics),
        apps=apps,
        channels=GraphChannels(session, api_url=settings.graph_api_url, token=graph,
                               app_id=settings.graph_client_id) if graph else None,
        chats=GraphChats(session, api_url=settings.graph_api_url, token=graph,
                         app_id=settings.graph_client_id,
                         app_catalog_id=settings.teams_app_catalog_id)
        if graph and settings.teams_app_catalog_id else None,
        members=members, metrics=metrics, tracker=_tracker(settings, session),
        docs=_docs(settings), status_service=_statuspage(settings, session),
        review_html=functools.partial(render_html, layout=layout)))

    async def defer(answer: Deferred) -> None:
        async with UnitOfWork(on_commit=dispatcher.wake) as uow:
            await uow.enqueue(
                operation=OutboxOperation.REPLY if answer.reply else OutboxOperation.SEND,
                service_url=answer.service_url, conversation_id=answer.conversation_id,
                activity_id=answer.activity_id, payload=answer.payload,
                tenant_id=answer.tenant_id)

    auth = None
    if settings.mode is Mode.AUTHENTICATED:
        auth = BotFrameworkAuth(settings, SigningKeys(session, settings.bot_openid_metadata_url))
    adapter = TeamsAdapter(connector)
    bot = TeamsBot(Services(renderer=renderer, policy=policy, wake=wake, members=members,
                            metrics=metrics, gate=gate,
                            database_timeout_s=settings.database_timeout_s, defer=defer,
                            pace=pace),
                   all_routes())
    turns = TurnRunner(adapter, bot, journal=journal, gate=gate, metrics=metrics)
    runtime = Runtime(
        settings=settings,
        session=session,
        connector=connector,
        adapter=adapter,
        bot=bot,
        dispatcher=dispatcher,
        jobs=jobs,
        auth=auth,
        journal=journal,
        gate=gate,
        turns=turns,
        replayer=JournalReplayer(turns, journal, gate, probe=ping, writable=takes_writes,
                                 metrics=metrics),
        in_incident=in_incident,
        in_tenant=tenant_transaction(renderer, policy, wake),
        severity=policy.severity,
        review_template=layout,
    )
    dispatcher.start()
    runtime.jobs.start()
    runtime.replayer.start()
    await _report_backlog(runtime)
    return runtime


async def _report_backlog(runtime: Runtime) -> None:
    """Say at start what waits to be sent; a database away at start is not fatal (the
    journal takes commands meanwhile)."""
    try:
        depth = await answered_within(runtime.settings.database_timeout_s, outbox.depth)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        runtime.gate.failed(exc)
        return
    log.info("outbox holds %d undelivered messages at start; %d commands wait in the local "
             "journal", depth, runtime.journal.pending)
