"""Completing people with their Entra object id, which Teams mentions leave out.

Graph presence is keyed by Entra object id; a mention only carries the Teams id and name,
so the bot asks the Bot Connector for the member (`GET .../members/{id}`), as
`TeamsInfo.get_member` does.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from botbuilder.schema import Activity

from bot.errors import ConnectorError
from bot.incidents.people import Person
from bot.teams.connector import ConnectorClient

log = logging.getLogger(__name__)


class MemberDirectory:
    """Looks people up in the conversation (or team) they were mentioned in."""

    def __init__(self, connector: ConnectorClient) -> None:
        self._connector = connector

    async def complete(self, activity: Activity, people: list[Person]) -> list[Person]:
        """The same people, with `aad_object_id` filled in where Teams knows it."""
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        scope = (data.get("team") or {}).get("id") or activity.conversation.id
        completed = []
        for person in people:
            if not person.aad_object_id:
                try:
                    member = await self._connector.get_member(activity.service_url, scope,
                                                              person.id)
                    aad = member.get("aadObjectId") or member.get("objectId")
                    person = replace(person, aad_object_id=aad) if aad else person
                except ConnectorError as exc:
                    log.info("no member details for %s: %s", person.id, exc)
            completed.append(person)
        return completed

    async def emails(self, *, service_url: str, scope: str, people: list[Person]) -> list[str]:
        """Email addresses (or UPNs) Teams knows for these people, for calendar invitations."""
        found = []
        for person in people:
            try:
                member = await self._connector.get_member(service_url, scope, person.id)
            except ConnectorError as exc:
                log.info("no email for %s: %s", person.id, exc)
                continue
            address = member.get("email") or member.get("userPrincipalName")
            if address:
                found.append(str(address))
        return found
