"""The buttons of an alert's card (bot/incidents/alerts.py): Declare and Dismiss.

The card carries the alert group's id only; the group is looked up in the tenant the
press comes from, and the actor is the person who pressed.
"""

from __future__ import annotations

from typing import Any

from bot.incidents import alerts
from bot.incidents.context import Ctx
from bot.teams import incident_cards
from bot.teams.cards import Card
from bot.teams.commands.card_data import card_id
from bot.teams.router import CardAction, Router

router = Router()


async def _declare(ctx: Ctx, data: dict[str, Any]) -> None:
    await alerts.declare_from(ctx, card_id(data, "alertGroupId"))


async def _dismiss(ctx: Ctx, data: dict[str, Any]) -> None:
    await alerts.dismiss(ctx, card_id(data, "alertGroupId"))


async def _view(ctx: Ctx, data: dict[str, Any]) -> Card:
    group = await alerts.alert_group(ctx, card_id(data, "alertGroupId"))
    await group.fetch_related("incident")
    return incident_cards.alert_card(group, group.incident, scale=ctx.policy.severity)


router.card(incident_cards.ALERT_DECLARE, CardAction(_declare, _view))
router.card(incident_cards.ALERT_DISMISS, CardAction(_dismiss, _view))
