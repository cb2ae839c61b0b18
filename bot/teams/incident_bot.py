"""The bot Teams talks to: commands, card buttons and the message action."""

from __future__ import annotations

from bot.teams.card_actions import CardActions
from bot.teams.incident_commands import IncidentCommands
from bot.teams.message_actions import MessageActions


class IncidentBot(IncidentCommands, CardActions, MessageActions):
    """Every command, card action and message action of the incident process."""
