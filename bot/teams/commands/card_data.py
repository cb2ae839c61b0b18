"""Reading what a card button sends back: ids that must match what is stored, in the
tenant the press comes from. The actor is always the activity's sender, never anything
in the card's data."""

from __future__ import annotations

from typing import Any

from bot.errors import NotFoundError
from bot.incidents.context import Ctx
from bot.store.incident_models import Incident


def card_id(data: dict[str, Any], key: str) -> int:
    """The id the card carries under `key`."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise NotFoundError("This card is missing what it refers to; it may be out of date.")
    return int(value)


async def card_incident(ctx: Ctx, incident_id: int) -> Incident:
    """The incident the card names, if it is in the tenant the press comes from."""
    incident = await Incident.get_or_none(id=incident_id, tenant_id=ctx.origin.tenant_id)
    if incident is None:
        raise NotFoundError("This card refers to an incident that does not exist.")
    return incident
