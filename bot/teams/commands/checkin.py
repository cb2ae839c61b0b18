"""The Investigator's answer to a private check-in card."""

from __future__ import annotations

from typing import Any

from bot.incidents import checkins
from bot.incidents.context import Ctx
from bot.teams import incident_cards
from bot.teams.cards import Card
from bot.teams.commands.card_data import card_id, card_incident
from bot.teams.router import CardAction, Router

router = Router()


def _answer(ok: bool, shown: str) -> CardAction:
    async def work(ctx: Ctx, data: dict[str, Any]) -> None:
        await checkins.answer(ctx, card_id(data, "incidentId"), ok=ok)

    async def view(ctx: Ctx, data: dict[str, Any]) -> Card:
        incident = await card_incident(ctx, card_id(data, "incidentId"))
        return incident_cards.checkin_card(incident, answered=shown)

    return CardAction(work, view)


router.card("checkin.ok", _answer(True, "Thanks. Keep going."))
router.card("checkin.help", _answer(False, "The Incident Commander has been told."))
