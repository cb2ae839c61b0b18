"""The bot Teams talks to: commands plus card buttons."""

from __future__ import annotations

from bot.teams.card_actions import CardActions
from bot.teams.incident_commands import IncidentCommands


class IncidentBot(IncidentCommands, CardActions):
    """Every command and every card action of the incident process."""
