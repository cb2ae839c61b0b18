"""External communication: what customers are told, on the bot's status page and, when
configured, on Atlassian Statuspage.

Guide: "Communicate externally to provide visibility to customers on something that may be
affecting them", and afterwards "If a customer was impacted, have we communicated the
impact to them?"

Nothing internal leaves by default: the public incident has its own customer-facing
title (asked for, never copied from the internal one) and every public text is written
for customers in an `update external`. Statuspage gets the updates of one public incident
one at a time, in order: a sync job exists for at most its oldest unsynced update, and
settling that update schedules the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import CommandError, NotFoundError
from bot.incidents import notices as say
from bot.incidents.background import Background, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.incidents.local_time import incident_zone, written
from bot.incidents.people import Person
from bot.incidents.roles import require_external_publisher
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident, IncidentStatus
from bot.store.models import Job
from bot.store.status_models import PublicIncident, PublicStatus, PublicUpdate, SyncState
from integrations.statuspage import PublicPost, StatuspageError


@dataclass(frozen=True)
class SyncUpdate(jobs.JobPayload):
    """Post public update `update_id` to Statuspage."""

    KIND = "external.sync"
    update_id: int


MAX_PUBLIC_TITLE = 120
MAX_PUBLIC_TEXT = 2000
MAX_COMPONENTS = 20
USAGE = "update external [investigating|identified|monitoring|resolved] <text for customers>"


def enabled_for(ctx: Ctx, tenant_id: str) -> bool:
    """External updates exist only for the one tenant the status page belongs to."""
    return bool(ctx.policy.status_tenant_id) and tenant_id == ctx.policy.status_tenant_id


def _require_enabled(ctx: Ctx, incident: Incident) -> None:
    if not enabled_for(ctx, incident.tenant_id):
        raise CommandError("External updates are not set up for this organisation: the "
                           "bot's operator names it in STATUS_PAGE_TENANT_ID.")


async def public_of(incident: Incident, *, lock: bool = False) -> PublicIncident | None:
    """The incident's public face, if it has one."""
    query = PublicIncident.filter(incident_id=incident.id)
    return await (query.select_for_update() if lock else query).first()


async def request(ctx: Ctx, incident: Incident, text: str,
                  status: PublicStatus | None = None) -> None:
    """`update external [status] <text>`: publish, or first ask for the public title on a
    card; without a status the public incident's current one (investigating at first)."""
    _require_enabled(ctx, incident)
    await require_external_publisher(ctx, incident)
    body = clip(text, MAX_PUBLIC_TEXT)
    if not body:
        raise CommandError(f"Usage: `@incident {USAGE}`")
    public = await public_of(incident, lock=True)
    if public is None:
        chosen = status or PublicStatus.INVESTIGATING
        ctx.tell(say.PublicForm(incident.id, body, chosen.value))
        return
    await _publish(ctx, incident, public, body, status or public.status)


async def submit(ctx: Ctx, incident_id: int, *, title: str, components: str,
                 status: PublicStatus | None, text: str) -> PublicUpdate:
    """The card's Publish: open the public incident (first update) or add to it."""
    incident = await Incident.filter(id=incident_id, tenant_id=ctx.origin.tenant_id
                                     ).select_for_update().first()
    if incident is None:
        raise NotFoundError("That incident does not exist.")
    _require_enabled(ctx, incident)
    await require_external_publisher(ctx, incident)
    chosen = status or PublicStatus.INVESTIGATING
    body = clip(text, MAX_PUBLIC_TEXT)
    if not body:
        raise CommandError("Write the update customers will read.")
    public = await public_of(incident, lock=True)
    if public is None:
        public = await _open(ctx, incident, title, components, chosen)
    else:
        last = await PublicUpdate.filter(public_incident=public).order_by("-id").first()
        if last is not None and (last.text, last.status) == (body, chosen):
            # A second press of the same card, not a new message for customers.
            raise CommandError("That update is already published.")
    return await _publish(ctx, incident, public, body, chosen)


async def _open(ctx: Ctx, incident: Incident, title: str, components: str,
                status: PublicStatus) -> PublicIncident:
    public_title = clip(" ".join(title.split()), MAX_PUBLIC_TITLE)
    if not public_title:
        raise CommandError("Give the incident a title customers will read (not the internal "
                           "one unless it is fit for them).")
    return await PublicIncident.create(
        tenant_id=incident.tenant_id, incident=incident, title=public_title,
        components=_components(ctx, components), status=status, published_at=ctx.now,
        updated_at=ctx.now)


def _components(ctx: Ctx, chosen: str) -> list[str]:
    """Comma-separated names; with STATUS_COMPONENTS configured, only those names."""
    names: list[str] = []
    known = {c.lower(): c for c in ctx.policy.components}
    for item in chosen.split(","):
        name = clip(" ".join(item.split()), 80)
        if not name:
            continue
        if known and name.lower() not in known:
            raise CommandError(f"'{name}' is not one of the components customers know: "
                               f"{', '.join(ctx.policy.components)}.")
        name = known.get(name.lower(), name)
        if name not in names:
            names.append(name)
    return names[:MAX_COMPONENTS]


async def _publish(ctx: Ctx, incident: Incident, public: PublicIncident, body: str,
                   status: PublicStatus) -> PublicUpdate:
    syncing = ctx.policy.statuspage_enabled
    update = await PublicUpdate.create(
        public_incident=public, status=status, text=body, published_at=ctx.now,
        sync_state=SyncState.PENDING if syncing else SyncState.NONE)
    public.status, public.updated_at = status, ctx.now
    public.resolved_at = ctx.now if status is PublicStatus.RESOLVED else None
    await public.save()
    await record(ctx, incident, EventKind.EXTERNAL_UPDATE,
                 f"External update ({status.value}): {body}",
                 {"public_update": update.id, "status": status.value})
    where = "the status page and Statuspage" if syncing else "the status page"
    ctx.tell(say.ThreadPost(incident.id, f"Published to customers on {where} by "
                            f"{ctx.actor.name} ({status.value}): {body}"),
             say.CardChanged(incident.id))
    if syncing and not await PublicUpdate.filter(
            public_incident=public, sync_state=SyncState.PENDING, id__lt=update.id).exists():
        await _schedule_sync(ctx, update)
    return update


async def _schedule_sync(ctx: Ctx, update: PublicUpdate) -> None:
    await jobs.schedule(SyncUpdate(update.id), due_ms=ctx.now_ms, max_attempts=12)


async def _settle(ctx: Ctx, update_id: int, state: SyncState, *, statuspage_id: str = "",
                  error: str = "") -> tuple[PublicIncident, PublicUpdate]:
    update = await PublicUpdate.get(id=update_id)
    public = await PublicIncident.filter(id=update.public_incident_id).select_for_update().get()
    update.sync_state, update.sync_error = state, (error[:500] or None)
    update.synced_at = ctx.now if state is SyncState.SYNCED else None
    await update.save()
    if statuspage_id and not public.statuspage_id:
        public.statuspage_id = statuspage_id
        await public.save()
    following = await PublicUpdate.filter(public_incident=public, sync_state=SyncState.PENDING
                                          ).order_by("id").first()
    if following is not None:
        await _schedule_sync(ctx, following)
    return public, update


async def synced(ctx: Ctx, update_id: int, statuspage_id: str) -> None:
    """Statuspage has the update: remember its incident id, sync the next one."""
    await _settle(ctx, update_id, SyncState.SYNCED, statuspage_id=statuspage_id)


async def sync_failed(ctx: Ctx, update_id: int, error: str) -> None:
    """Statuspage refused for good: say so in the thread; the bot's page has the update."""
    public, update = await _settle(ctx, update_id, SyncState.FAILED, error=error)
    zone = await incident_zone(ctx, await Incident.get(id=public.incident_id))
    ctx.tell(say.ThreadPost(public.incident_id, (
        f"Could not post the external update of {written(update.published_at, zone)} to "
        f"Statuspage ({error[:300]}). It is on the bot's status page "
        f"({ctx.policy.base_url}/status); post it on Statuspage by hand if customers "
        "read it there.")))


async def at_mitigation(ctx: Ctx, incident: Incident) -> None:
    """Mitigated or resolved: offer the update customers should read next, or remind that
    they were not told. Mitigated offers "monitoring" (the cause may still be there: an
    update published as offered must not tell customers it is over), resolved "resolved"."""
    if not enabled_for(ctx, incident.tenant_id):
        return
    public = await public_of(incident)
    if public is not None:
        offer = (PublicStatus.RESOLVED if incident.status is IncidentStatus.RESOLVED
                 else PublicStatus.MONITORING)
        if public.status not in (offer, PublicStatus.RESOLVED):
            ctx.tell(say.PublicForm(incident.id, "", offer.value, closing=True))
        return
    if incident.impact:
        ctx.tell(_untold_reminder(incident))


def _untold_reminder(incident: Incident) -> say.ThreadPost:
    text = (f"Customer impact is recorded for INC-{incident.number} but customers have not "
            f"been told. Publish an update with `@incident {USAGE}`.")
    if not incident.commander_id:
        return say.ThreadPost(incident.id, text)
    commander = Person(incident.commander_id, incident.commander_name or "")
    return say.ThreadPost(incident.id, f"{commander.name}: {text}", (commander,))


async def customers_untold(ctx: Ctx, incident: Incident) -> bool:
    """Customer impact recorded, external updates possible, and none published."""
    return (bool(incident.impact) and enabled_for(ctx, incident.tenant_id)
            and await public_of(incident) is None)


async def sync_job(bg: Background, job: Job, payload: SyncUpdate) -> None:
    """One update of one public incident at a time; the call runs outside any transaction,
    a retryable failure raises for the job table's backoff."""
    update = await PublicUpdate.get(id=payload.update_id).prefetch_related("public_incident")
    public, service = update.public_incident, bg.status_service
    if service is None or update.sync_state is not SyncState.PENDING:
        return
    post = PublicPost(title=public.title, status=update.status.value, body=update.text,
                      components=tuple(public.components or ()))
    await bg.call_provider(
        job, public.incident_id, lambda: service.post(post, incident_id=public.statuspage_id),
        errors=StatuspageError, metric=None,
        failed=lambda ctx, reason: sync_failed(ctx, update.id, reason),
        done=lambda ctx, found: synced(ctx, update.id, found))


JOBS = (JobHandler(SyncUpdate, sync_job),)
