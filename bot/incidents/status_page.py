"""What the public status page shows: published external updates, read from the public
tables only (`bot.store.status_models`), column by column.

Nothing here follows a relation into internal tables: the page cannot show what it never
reads. Which tenant's incidents it shows is configuration (STATUS_PAGE_TENANT_ID).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.expressions import Q

from bot.store.status_models import PublicIncident, PublicUpdate

MAX_INCIDENTS = 50
MAX_UPDATES_PER_INCIDENT = 50
_UTC = dt.UTC


@dataclass(frozen=True)
class UpdateView:
    """One published update."""

    id: int
    status: str
    text: str
    published_at: dt.datetime


@dataclass(frozen=True)
class IncidentView:
    """One public incident, its updates newest first."""

    id: int
    title: str
    status: str
    components: tuple[str, ...]
    published_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    updates: tuple[UpdateView, ...]


@dataclass(frozen=True)
class StatusView:
    """The whole page: its title and links, the known components, current and recent incidents."""

    title: str
    base_url: str
    components: tuple[str, ...]
    incidents: tuple[IncidentView, ...]
    generated_at: dt.datetime

    @property
    def current(self) -> tuple[IncidentView, ...]:
        """Incidents not resolved yet."""
        return tuple(i for i in self.incidents if i.resolved_at is None)

    @property
    def recent(self) -> tuple[IncidentView, ...]:
        """Incidents resolved within the window."""
        return tuple(i for i in self.incidents if i.resolved_at is not None)

    @property
    def updated_at(self) -> dt.datetime:
        """The newest publication, for feeds and caches."""
        return max((i.updated_at for i in self.incidents), default=self.generated_at)

    def affected(self) -> set[str]:
        """Components named by a current incident."""
        return {c for i in self.current for c in i.components}


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


def _plain(status: object) -> str:
    # `values()` gives the enum member on some backends and its text on others.
    return str(getattr(status, "value", status))


async def published(tenant_id: str, *, now: dt.datetime, days: int, title: str,
                    base_url: str, components: tuple[str, ...]) -> StatusView:
    """Current public incidents and those resolved in the last `days`, newest first."""
    since = now - dt.timedelta(days=days)
    rows = await PublicIncident.filter(
        Q(tenant_id=tenant_id) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
    ).order_by("-updated_at", "-id").limit(MAX_INCIDENTS).values(
        "id", "title", "status", "components", "published_at", "updated_at", "resolved_at")
    ids = [row["id"] for row in rows]
    updates: dict[int, list[UpdateView]] = {i: [] for i in ids}
    if ids:
        for u in await PublicUpdate.filter(public_incident_id__in=ids).order_by(
                "-published_at", "-id").values("id", "public_incident_id", "status", "text",
                                               "published_at"):
            listed = updates[u["public_incident_id"]]
            if len(listed) < MAX_UPDATES_PER_INCIDENT:
                listed.append(UpdateView(u["id"], _plain(u["status"]), u["text"],
                                         _utc(u["published_at"]) or now))
    incidents = tuple(
        IncidentView(
            id=row["id"], title=row["title"],
            status=_plain(row["status"]),
            components=tuple(str(c) for c in row["components"] or ()),
            published_at=_utc(row["published_at"]) or now,
            updated_at=_utc(row["updated_at"]) or now,
            resolved_at=_utc(row["resolved_at"]), updates=tuple(updates[row["id"]]))
        for row in rows)
    return StatusView(title=title, base_url=base_url.rstrip("/"), components=components,
                      incidents=incidents, generated_at=now)
