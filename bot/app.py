"""create_app(settings): wires the adapter, services, database and routes for one process."""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.config import Mode, Settings
from bot.metrics import Metrics
from bot.store import outbox
from bot.store.database import close_database, open_database
from bot.store.jobs import JobRunner, take_due_soon
from bot.store.unit_of_work import UnitOfWork
from bot.teams.adapter import TeamsAdapter
from bot.teams.app_token import AppTokenProvider
from bot.teams.auth import BotFrameworkAuth
from bot.teams.connector import ConnectorClient
from bot.incidents.context import Policy
from bot.teams.deliveries import record_delivery
from bot.teams.incident_bot import IncidentBot
from bot.teams.members import MemberDirectory
from bot.teams.render import Renderer
from bot.teams.timers import register_timers
from bot.teams.outbox import OutboxDispatcher
from bot.teams.signing_keys import SigningKeys
from bot.web import METRICS, RUNTIME, SETTINGS
from bot.web.errors import error_middleware
from bot.web.health import get_healthz
from bot.web.messages import post_messages
from bot.web.metrics import get_metrics
from bot.web.recent import RecentActivities
from bot.web.request_ids import request_middleware
from bot.web.review_pages import get_review
from bot.web.status_pages import get_status, get_status_atom, get_status_json
from integrations.github_issues import GitHubIssues
from integrations.google_docs import GoogleDocsExporter
from integrations.graph_presence import GraphPresence
from integrations.presence import NoPresence, PresenceSource
from integrations.statuspage import Statuspage
from integrations.video_factory import Bridges

log = logging.getLogger(__name__)

# Teams messages are at most ~28 KB; anything far larger is not a real activity.
MAX_BODY_BYTES = 256 * 1024


@dataclass
class Runtime:
    """Everything one running app holds; built at start-up, torn down at clean-up."""

    settings: Settings
    session: aiohttp.ClientSession
    connector: ConnectorClient
    adapter: TeamsAdapter
    bot: IncidentBot
    dispatcher: OutboxDispatcher
    jobs: JobRunner
    auth: BotFrameworkAuth | None
    recent: RecentActivities = field(default_factory=RecentActivities)


def create_app(settings: Settings, *, migrate: bool = True) -> web.Application:
    """An aiohttp application; the database opens and workers start when it starts."""
    app = web.Application(middlewares=[request_middleware, error_middleware],
                          client_max_size=MAX_BODY_BYTES)
    metrics = Metrics()
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app.router.add_post("/api/messages", post_messages)
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get(r"/incidents/{incident_id}/review.{fmt:html|md}", get_review)
    # The public status page: no login, published external updates only.
    app.router.add_get("/status", get_status)
    app.router.add_get("/status.json", get_status_json)
    app.router.add_get("/status.atom", get_status_atom)

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
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
            await runtime.dispatcher.stop()
            await runtime.jobs.stop()
            await runtime.session.close()
            try:
                await asyncio.wait_for(close_database(), 15)
            except asyncio.TimeoutError:
                log.warning("database connections did not close within 15 s; leaving them")

    app.cleanup_ctx.append(lifecycle)
    return app


def _presence(settings: Settings, session: aiohttp.ClientSession,
              metrics: Metrics) -> PresenceSource:
    if not settings.graph_enabled:
        return NoPresence()
    return GraphPresence(session, api_url=settings.graph_api_url, token_url=settings.graph_token,
                         client_id=settings.graph_client_id,
                         client_secret=settings.graph_client_secret.get_secret_value(),
                         on_error=lambda: metrics.provider_error("graph"))


def _tracker(settings: Settings, session: aiohttp.ClientSession) -> GitHubIssues | None:
    if not settings.tracker_enabled:
        return None
    return GitHubIssues(session, repository=settings.github_repository,
                        token=settings.github_token.get_secret_value(),
                        api_url=settings.github_api_url)


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
    dispatcher = OutboxDispatcher(connector, on_sent=record_delivery,
                                  on_failure=metrics.connector_error)
    jobs = JobRunner()

    def wake() -> None:
        dispatcher.wake()
        if take_due_soon():
            jobs.wake()

    policy = Policy(
        handover_timeout_s=settings.handover_timeout_minutes * 60,
        commandeer_timeout_s=settings.commandeer_timeout_minutes * 60,
        checkin_interval_s=settings.checkin_interval_minutes * 60,
        admin_ids=settings.admins,
        video_chain=tuple(settings.video_chain),
        oncall_answer_s=settings.oncall_answer_minutes * 60,
        timezone=settings.timezone,
        holidays_country=settings.holidays_country,
        base_url=settings.base_url,
        review_link_s=settings.review_link_hours * 3600,
        tracker_enabled=settings.tracker_enabled,
        meeting_max_severity=settings.review_meeting_severity,
        docs_enabled=settings.docs_enabled,
        status_tenant_id=settings.status_tenant,
        external_roles=frozenset(settings.external_update_roles.split(",")),
        components=tuple(name for name, _ in settings.components),
        statuspage_enabled=settings.statuspage_enabled,
    )
    members = MemberDirectory(connector)
    renderer = Renderer(bot_id=f"28:{settings.app_id}" if settings.app_id else "28:incident-bot",
                        components=policy.components)
    register_timers(jobs, renderer=renderer, policy=policy, wake=wake,
                    bridges=Bridges(settings), presence=_presence(settings, session, metrics),
                    tracker=_tracker(settings, session), members=members,
                    docs=_docs(settings), status_service=_statuspage(settings, session),
                    metrics=metrics)

    async def defer(**fields) -> None:  # type: ignore[no-untyped-def]
        async with UnitOfWork(on_commit=dispatcher.wake) as uow:
            await uow.enqueue(**fields)

    auth = None
    if settings.mode is Mode.AUTHENTICATED:
        auth = BotFrameworkAuth(settings, SigningKeys(session, settings.bot_openid_metadata_url))
    runtime = Runtime(
        settings=settings,
        session=session,
        connector=connector,
        adapter=TeamsAdapter(connector, defer=defer),
        bot=IncidentBot(renderer=renderer, policy=policy, wake=wake,
                        members=members, metrics=metrics),
        dispatcher=dispatcher,
        jobs=jobs,
        auth=auth,
    )
    dispatcher.start()
    runtime.jobs.start()
    log.info("outbox holds %d undelivered messages at start", await outbox.depth())
    return runtime
