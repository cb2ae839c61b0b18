"""How a message people read writes a moment: in the team's time zone, in one format.

Every plain-text message the bot writes (thread posts, replies, 1:1s, timeline entries)
says a time as `written(moment, zone)`, "Wed 02 Dec 17:00 Europe/Berlin", with the zone of
the team the incident or the command belongs to: `setup timezone <Area/City>`, else the
`TIMEZONE` setting. Cards write times with Adaptive Cards' own date functions instead, so
each reader sees their own local time (`bot.teams.incident_cards`).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.incidents.context import Ctx, Policy
from bot.store.incident_models import Incident, TeamSettings


def written(moment: dt.datetime, zone: str) -> str:
    """"Wed 02 Dec 17:00 Europe/Berlin": `moment` (aware) in `zone`, named."""
    try:
        tz = ZoneInfo(zone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        # A zone set before it was validated: a time in UTC is still a time.
        tz, zone = ZoneInfo("UTC"), "UTC"
    return f"{moment.astimezone(tz):%a %d %b %H:%M} {zone}"


async def team_zone(tenant_id: str, team_id: str | None, policy: Policy) -> str:
    """The zone the team's times are written in: its own, else the `TIMEZONE` setting."""
    team = (await TeamSettings.get_or_none(tenant_id=tenant_id, team_id=team_id)
            if team_id else None)
    return (team.timezone if team and team.timezone else None) or policy.timezone


async def incident_zone(ctx: Ctx, incident: Incident) -> str:
    """The zone of the team the incident belongs to."""
    return await team_zone(incident.tenant_id, incident.team_id, ctx.policy)


async def origin_zone(ctx: Ctx) -> str:
    """The zone of the team the command comes from (the `TIMEZONE` setting outside teams)."""
    return await team_zone(ctx.origin.tenant_id, ctx.origin.team_id, ctx.policy)
