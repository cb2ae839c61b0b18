"""Per-team settings made from Teams: where incidents go, where stakeholders hear."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.errors import CommandError, NotAllowedError
from bot.incidents import notices as say
from bot.incidents.context import Ctx
from bot.incidents.people import Person
from bot.incidents.roles import is_admin
from bot.store.incident_models import TeamSettings


def require_setup_rights(ctx: Ctx) -> None:
    """Setup and on-call changes redirect who hears and who is paged: admins only, once named."""
    if ctx.policy.admin_ids and not is_admin(ctx, ctx.actor):
        raise NotAllowedError("Only the bot's admins (ADMIN_USER_IDS) can change the setup "
                              "or the on-call rotation.")


async def team_of(ctx: Ctx) -> TeamSettings:
    """The settings of the team the command was typed in (made if need be)."""
    origin = ctx.origin
    if not origin.team_id:
        raise CommandError("Run `setup` in a channel of the team it is for.")
    settings, _ = await TeamSettings.get_or_create(
        tenant_id=origin.tenant_id, team_id=origin.team_id,
        defaults={"service_url": origin.service_url},
    )
    return settings


async def set_cse(ctx: Ctx, person: Person | None) -> TeamSettings:
    """The team's Customer Support Engineer, told when a review is ready."""
    require_setup_rights(ctx)
    settings = await team_of(ctx)
    if person is None:
        raise CommandError("Mention the Customer Support Engineer: `@incident setup cse @x`.")
    settings.cse_id, settings.cse_name = person.id, person.name
    return await _saved(ctx, settings, f"{person.name} is told when a review is ready.")


async def set_timezone(ctx: Ctx, zone: str) -> TeamSettings:
    """The team's time zone: what the bot's messages write times in, review due times."""
    require_setup_rights(ctx)
    settings = await team_of(ctx)
    try:
        ZoneInfo(zone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise CommandError("Give a time zone like Europe/Berlin.") from None
    settings.timezone = zone
    return await _saved(ctx, settings, f"Times I write and review due times follow {zone}.")


async def set_holidays(ctx: Ctx, country: str) -> TeamSettings:
    """The public holidays (a country, or country and region) review due times skip."""
    require_setup_rights(ctx)
    settings = await team_of(ctx)
    code = country.upper()
    nation, _, region = code.partition("-")
    regions = holidays.list_supported_countries().get(nation)
    if regions is None or (region and region not in regions):
        raise CommandError("Give a country code the holidays calendar knows, like DE, or "
                           "a country and region, like GB-ENG or DE-BY.")
    settings.holidays_country = code
    return await _saved(ctx, settings, f"Review due times skip {code} public holidays.")


async def _saved(ctx: Ctx, settings: TeamSettings, reply: str) -> TeamSettings:
    await settings.save()
    ctx.tell(say.Reply(reply))
    return settings


async def setup(ctx: Ctx, *, stakeholders: bool) -> TeamSettings:
    """Make the current channel the team's incidents (or stakeholder) channel."""
    origin = ctx.origin
    require_setup_rights(ctx)
    if not origin.channel_id or not origin.team_id:
        raise CommandError("Run `setup` in a team channel: that channel becomes the one "
                           "incidents are announced in.")
    settings, _ = await TeamSettings.get_or_create(
        tenant_id=origin.tenant_id, team_id=origin.team_id,
        defaults={"service_url": origin.service_url},
    )
    settings.service_url = origin.service_url
    if stakeholders:
        settings.stakeholder_channel_id = origin.channel_id
        ctx.tell(say.Reply("This channel now receives every incident's status updates."))
    else:
        settings.incidents_channel_id = origin.channel_id
        ctx.tell(say.Reply("This channel is now the team's incidents channel: each declared "
                           "incident gets its own thread here."))
    await settings.save()
    return settings


async def incidents_channel(ctx: Ctx) -> tuple[str, str | None]:
    """Where a new incident's thread goes: the team's incidents channel, else this channel."""
    origin = ctx.origin
    if origin.team_id:
        settings = await TeamSettings.get_or_none(tenant_id=origin.tenant_id,
                                                  team_id=origin.team_id)
        if settings and settings.incidents_channel_id:
            return settings.incidents_channel_id, origin.team_id
        if origin.channel_id:
            return origin.channel_id, origin.team_id
    configured = await TeamSettings.filter(tenant_id=origin.tenant_id,
                                           incidents_channel_id__isnull=False).all()
    if len(configured) == 1:
        return configured[0].incidents_channel_id or "", configured[0].team_id
    raise CommandError("I don't know which channel this incident belongs in: declare it in "
                       "a team channel, or run `@incident setup` in your incidents channel.")


async def stakeholder_channel(tenant_id: str, team_id: str | None) -> str | None:
    """The channel that hears status updates, if the team set one."""
    if not team_id:
        return None
    settings = await TeamSettings.get_or_none(tenant_id=tenant_id, team_id=team_id)
    return settings.stakeholder_channel_id if settings else None
