"""Cards that show their current state when someone opens them: the live incident card and
a role request.

Both carry a Universal Actions `refresh` (`bot.teams.cards.refreshed`). When one of the
people it names sees the card, and when the bot edits it, Teams sends an
`adaptiveCard/action` invoke with the refresh's verb and data (`trigger: "automatic"`;
anyone else can pick "Refresh card" from its menu); the answer is the current card, as
for a button. Nothing is written, so a refresh is answered even while commands wait in
the local journal.
"""

from __future__ import annotations

from typing import Any

from bot.incidents.attendance import in_room
from bot.incidents.context import Ctx
from bot.incidents.queries import picture
from bot.store.incident_models import Handover
from bot.teams import incident_cards
from bot.teams.cards import Card
from bot.teams.commands.card_data import card_id, card_incident, card_row
from bot.teams.router import CardAction, Router

router = Router()


async def _incident_card(ctx: Ctx, data: dict[str, Any]) -> Card:
    incident = await card_incident(ctx, card_id(data, "incidentId"))
    return incident_cards.incident_card(await picture(incident), room=await in_room(incident),
                                        scale=ctx.policy.severity)


async def _role_card(ctx: Ctx, data: dict[str, Any]) -> Card:
    handover, incident = await card_row(ctx, Handover, data, "handoverId",
                                        missing="That role request does not exist.")
    return incident_cards.role_request_card(handover, incident, ctx.policy.severity)


router.card(incident_cards.INCIDENT_REFRESH, CardAction.showing(_incident_card))
router.card(incident_cards.ROLE_REFRESH, CardAction.showing(_role_card))
