"""Turns the domain's notices into Bot Connector calls in the outbox, inside the same
transaction as the change that caused them.

Everything about one incident shares one ordering key (`Order.incident`), so the thread
is created before anything is posted into it; a message whose thread does not exist yet
names the creating message (`after`, see `bot.teams.outbox_names`) and takes the thread's
id from its answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from botbuilder.schema import Activity

from bot.incidents import notices as say
from bot.incidents import privacy
from bot.incidents.attendance import in_room
from bot.incidents.people import Person
from bot.incidents.queries import picture
from bot.incidents.roles import Role
from bot.incidents.severity import BUILT_IN, SeverityScale
from bot.incidents.team_settings import stakeholder_channel
from bot.store import outbox
from bot.store.alert_models import AlertGroup
from bot.store.clock import now_ms
from bot.store.incident_models import Commandeer, DirectConversation, Handover, Incident
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus, Urgency
from bot.store.status_models import PublicIncident
from bot.store.unit_of_work import UnitOfWork
from bot.teams import incident_cards
from bot.teams.cards import CARD_TYPE, Card
from bot.teams.failure_notes import FailureNote, Loss, place_of
from bot.teams.markdown import literal
from bot.teams.outbox_names import AlertPost, DirectChat, Order, RoleCard, ThreadStart
from bot.teams.pacing import card_lane, routine_lane

log = logging.getLogger(__name__)
# How long an incident's thread waits for its own channel before it opens in the incidents
# channel anyway (the channel job retries well within it).
SPACE_HOLD_MS = 15 * 60_000


def message(text: str | None = None, *, card: Card | None = None,
            mentions: tuple[Person, ...] = ()) -> dict[str, Any]:
    """A message activity body from plain text (shown as typed, never as Markdown) that
    mentions every one of `mentions`: where the text names a person, the name becomes the
    mention; a person it does not name is mentioned in front ("Grace Hopper: ..."), so
    nobody a notice asks for is left unnotified because of how a sentence was worded."""
    body: dict[str, Any] = {"type": "message"}
    people = _distinct(mentions)
    if text is not None:
        body["text"] = mentioning(literal(text), people)
        if people:
            body["entities"] = [{"type": "mention", "text": _at(p),
                                 "mentioned": {"id": p.id, "name": p.name}} for p in people]
    elif people:
        raise ValueError("a message that mentions people needs text to place them in")
    if card is not None:
        body["attachments"] = [{"contentType": CARD_TYPE, "content": card}]
    return body


def _at(person: Person) -> str:
    return f"<at>{person.name}</at>"


def _distinct(people: tuple[Person, ...]) -> list[Person]:
    """Each person once, and only people Teams can notify (an id and a name)."""
    seen: set[str] = set()
    out = []
    for person in people:
        if person.id and person.name and person.id not in seen:
            seen.add(person.id)
            out.append(person)
    return out


def mentioning(text: str, people: list[Person]) -> str:
    """`text` (already literal) with the first naming of each person turned into their
    mention, longest names first so "Ann" is not found inside "Anna"; the people it does
    not name are put in front."""
    placed: list[tuple[int, int, Person]] = []
    missing: list[Person] = []
    for person in sorted(people, key=lambda p: len(p.name), reverse=True):
        # A whole name, not inside a word ("Max" is not in "Maximum") or a placed name.
        found = (m for m in re.finditer(rf"(?<!\w){re.escape(literal(person.name))}(?!\w)",
                                        text)
                 if not any(a < m.end() and m.start() < b for a, b, _ in placed))
        match = next(found, None)
        if match is None:
            missing.append(person)
        else:
            placed.append((match.start(), match.end(), person))
    for a, b, person in sorted(placed, key=lambda item: item[0], reverse=True):
        text = text[:a] + _at(person) + text[b:]
    if missing:
        order = {p.id: i for i, p in enumerate(people)}
        missing.sort(key=lambda p: order[p.id])
        text = ", ".join(_at(p) for p in missing) + ": " + text
    return text


def _answers(notice: say.Notice) -> bool:
    """Whether the notice already answers the person where they typed."""
    return isinstance(notice, say.Reply) or (isinstance(notice, say.PublicForm)
                                             and not notice.closing)


async def _incident_of(notice: say.Notice) -> int | None:
    """The incident whose thread a notice speaks in (None for answers and 1:1s)."""
    if isinstance(notice, (say.ThreadPost, say.CardChanged, say.StakeholderPost)):
        return notice.incident_id
    if isinstance(notice, say.PublicForm) and notice.closing:
        return notice.incident_id
    if isinstance(notice, (say.RoleRequested, say.HandoverAnswered)):
        handover = await Handover.get_or_none(id=notice.handover_id)
        return handover.incident_id if handover else None
    return None


async def _confirmation(notices: list[say.Notice], incident: Incident) -> str:
    """What a command typed away from the thread answers: what the thread was told."""
    ref = incident_cards.reference(incident)
    post = next((n for n in notices if isinstance(n, say.ThreadPost)), None)
    if post is not None:
        return f"{post.text} (Posted in {ref}'s thread.)"
    asked = next((n for n in notices if isinstance(n, say.RoleRequested)), None)
    handover = await Handover.get_or_none(id=asked.handover_id) if asked else None
    if handover is not None:
        return (f"Asked {handover.to_name} to take the {Role(handover.role).title} role on "
                f"{ref}; they answer on the card in its thread.")
    return f"Done: {ref}'s card in its thread shows it."


def _linked(body: dict[str, Any], incident: Incident) -> dict[str, Any]:
    """`body` with a link to the incident's thread after its text."""
    link = incident_cards.thread_link(incident)
    if link and "text" in body:
        body["text"] += f" [Open {incident_cards.reference(incident)}'s thread]({link})"
    return body


def tenant_of(activity: Activity) -> str | None:
    """The tenant an activity came from (whose per-app budget answering it spends)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (data.get("tenant") or {}).get("id")
    return tenant or getattr(activity.conversation, "tenant_id", None)


def _markdown(text: str) -> dict[str, Any]:
    """A message whose text is already Teams Markdown (user parts escaped by the caller)."""
    return {"type": "message", "text": text}


class Renderer:
    """Writes notices as outbox rows; knows the bot's own account for new conversations."""

    def __init__(self, *, bot_id: str, components: tuple[str, ...] = (),
                 severity: SeverityScale = BUILT_IN) -> None:
        self.bot_id = bot_id
        # The components customers know (STATUS_COMPONENTS), offered on external-update forms.
        self.components = components
        # The severity levels cards name and explain (SEVERITY_FILE, else built in).
        self.severity = severity

    async def render(self, uow: UnitOfWork, notices: list[say.Notice], *,
                     incoming: Activity | None, now: dt.datetime) -> None:
        """Enqueue every notice (in order), each at most once; a command typed away from
        its incident's thread is also answered where it was typed (`_elsewhere`)."""
        elsewhere = await self._elsewhere(notices, incoming)
        seen: set[say.Notice] = set()
        for notice in notices:
            if notice in seen:
                continue
            seen.add(notice)
            await self._one(uow, notice, incoming, now, elsewhere)
        if elsewhere is not None and not any(_answers(n) for n in notices):
            text = await _confirmation(notices, elsewhere)
            await self._reply(uow, incoming, _linked(message(text), elsewhere))

    async def _elsewhere(self, notices: list[say.Notice],
                         incoming: Activity | None) -> Incident | None:
        """The incident a typed command changed, when it was typed somewhere other than
        that incident's thread (a 1:1, a group chat, the channel itself): what the thread
        is told, the person who typed must also see where they typed, or the bot looks
        down. None for buttons and dialogs (their invoke response answers), timers, and
        commands about no single existing thread."""
        if (incoming is None or incoming.type != "message" or not (incoming.text or "").strip()
                or any(isinstance(n, say.ThreadOpened) for n in notices)):
            return None
        ids = {i for n in notices if (i := await _incident_of(n)) is not None}
        if len(ids) != 1:
            return None
        incident = await Incident.get(id=ids.pop())
        # Before its thread exists (its creation waits for Teams) the answer has no link.
        return None if incident.thread_id == incoming.conversation.id else incident

    async def _one(self, uow: UnitOfWork, notice: say.Notice, incoming: Activity | None,
                   now: dt.datetime, elsewhere: Incident | None) -> None:
        if isinstance(notice, say.Reply):
            body = message(notice.text)
            await self._reply(uow, incoming, _linked(body, elsewhere) if elsewhere else body,
                              routine=notice.routine)
        elif isinstance(notice, say.ThreadOpened):
            await self._open_thread(uow, await Incident.get(id=notice.incident_id), now)
        elif isinstance(notice, say.ThreadPost):
            incident = await Incident.get(id=notice.incident_id)
            await self.into_thread(uow, incident, message(notice.text, mentions=notice.mentions))
        elif isinstance(notice, say.CardChanged):
            await self._refresh_card(uow, await Incident.get(id=notice.incident_id), now)
        elif isinstance(notice, (say.RoleRequested, say.HandoverAnswered)):
            await self._handover_card(uow, notice)
        elif isinstance(notice, say.CommandeerRequested):
            request = await Commandeer.get(id=notice.commandeer_id).prefetch_related("incident")
            incident = request.incident
            person = Person(request.person_id, request.name, request.aad_object_id)
            body = message(card=incident_cards.commandeer_card(request, incident, self.severity))
            note = FailureNote(Loss.COMMANDEER, incident.id, request.name, request.person_id,
                               commandeer_id=request.id, after_install=notice.after_install,
                               told=place_of(incoming, incident.tenant_id))
            await self._direct(uow, incident.tenant_id, incident.service_url, person, body,
                               note=note)
        elif isinstance(notice, say.CommandeerInThread):
            await self._commandeer_in_thread(uow, notice)
        elif isinstance(notice, say.CheckInRequested):
            incident = await Incident.get(id=notice.incident_id)
            body = message(card=incident_cards.checkin_card(incident))
            note = FailureNote(Loss.PRIVATE, incident.id, notice.person.name, notice.person.id,
                               told=place_of(incoming, incident.tenant_id))
            await self._direct(uow, incident.tenant_id, incident.service_url, notice.person, body,
                               note=note)
        elif isinstance(notice, say.DirectMessage):
            await self._direct_text(uow, notice, incoming)
        elif isinstance(notice, say.StakeholderPost):
            await self._stakeholders(uow, notice)
        elif isinstance(notice, say.PublicForm):
            await self._public_form(uow, notice, incoming)
        elif isinstance(notice, say.SpaceReady):
            await self._space_ready(await Incident.get(id=notice.incident_id))
        elif isinstance(notice, say.ChannelPost):
            await self._channel_post(uow, notice)
        elif isinstance(notice, say.AlertCard):
            await self._alert_card(uow, notice)

    async def _public_form(self, uow: UnitOfWork, notice: say.PublicForm,
                           incoming: Activity | None) -> None:
        incident = await Incident.get(id=notice.incident_id)
        public = await PublicIncident.get_or_none(incident_id=incident.id)
        body = message(card=incident_cards.public_form_card(
            incident, text_value=notice.text, status=notice.status, closing=notice.closing,
            components=self.components, public_title=public.title if public else None))
        if notice.closing or incoming is None:
            await self.into_thread(uow, incident, body)
        else:
            await self._reply(uow, incoming, body)

    async def _reply(self, uow: UnitOfWork, incoming: Activity | None,
                     body: dict[str, Any], *, routine: say.Routine | None = None) -> None:
        if incoming is None:
            return  # a timer has nobody to answer
        conversation = incoming.conversation.id
        merging: dict[str, Any] = {}
        if routine is not None:
            # A routine confirmation waits in a queue of its own (other answers do not
            # queue behind it), leaves at the pace of its lane, and merges with the others
            # waiting there.
            lane = routine_lane(conversation)
            merging = {"ordering_key": lane, "lane": lane, "urgency": Urgency.ROUTINE,
                       "merge_key": f"{routine.topic}|{conversation}",
                       "merge_text": routine.many}
        await uow.enqueue(operation=OutboxOperation.REPLY, service_url=incoming.service_url,
                          conversation_id=conversation, activity_id=incoming.id,
                          payload=body, tenant_id=tenant_of(incoming), **merging)

    async def _open_thread(self, uow: UnitOfWork, incident: Incident, now: dt.datetime) -> None:
        card = incident_cards.incident_card(await picture(incident), now=now,
                                            scale=self.severity)
        # While its own channel is being made (bot.incidents.spaces) the thread waits; if
        # nothing ever releases it, it opens in the incidents channel after the hold.
        held = incident.space_state == "creating"
        # A private incident's card is addressed to the declarer's 1:1 chat until its group
        # chat exists (bot.incidents.privacy): never to a public place, even if never released.
        where: dict[str, Any] = (
            {"isGroup": False, "members": [{"id": incident.declared_by_id}],
             "channelData": {"tenant": {"id": incident.tenant_id}}} if incident.private else
            {"isGroup": True, "channelData": {"channel": {"id": incident.channel_id},
                                              "tenant": {"id": incident.tenant_id}}})
        await uow.enqueue(
            operation=OutboxOperation.CREATE_CONVERSATION, service_url=incident.service_url,
            conversation_id=None, name=str(ThreadStart(incident.id)),
            ordering_key=Order.incident(incident.id).key, tenant_id=incident.tenant_id,
            urgency=Urgency.URGENT,
            payload={**where, "bot": {"id": self.bot_id}, "tenantId": incident.tenant_id,
                     "activity": message(card=card)},
            due_ms=now_ms() + SPACE_HOLD_MS if held else None,
        )

    async def _space_ready(self, incident: Incident) -> None:
        """The held thread start goes now, into `incident.channel_id` (its own channel, or
        the incidents channel after all), and everything queued behind it follows."""
        name = str(ThreadStart(incident.id))
        row = await outbox.named(name)
        payload = dict(row.payload or {}) if row is not None else {}
        into_chat = None
        if payload and incident.private and incident.space_state == privacy.OPEN:
            # Into the private chat: a message in an existing conversation, not a new one.
            into_chat = incident.chat_id
            payload = payload.get("activity") or {}
        elif payload and not incident.private:
            payload["channelData"] = {**payload.get("channelData", {}),
                                      "channel": {"id": incident.channel_id}}
        keys = [Order.incident(incident.id).key, Order.card(incident.id).key]
        if not await outbox.release_held(name, keys=keys, payload=payload or None,
                                         send_to=into_chat):
            log.warning("INC-%s: its thread start was no longer held", incident.number)

    async def _channel_post(self, uow: UnitOfWork, notice: say.ChannelPost) -> None:
        """A new post in a team channel (an incident's announcement, a warning)."""
        incident = await Incident.get(id=notice.incident_id)
        text = literal(notice.text)
        if notice.label and notice.link:
            text += f" [{literal(notice.label)}]({notice.link})"
        await uow.enqueue(
            operation=OutboxOperation.CREATE_CONVERSATION, service_url=incident.service_url,
            conversation_id=None, ordering_key=Order.channel(notice.channel_id).key,
            tenant_id=incident.tenant_id, urgency=Urgency.URGENT,
            payload={"isGroup": True, "bot": {"id": self.bot_id}, "tenantId": incident.tenant_id,
                     "channelData": {"channel": {"id": notice.channel_id},
                                     "tenant": {"id": incident.tenant_id}},
                     "activity": _markdown(text)},
        )

    async def _alert_card(self, uow: UnitOfWork, notice: say.AlertCard) -> None:
        """An alert group's card in the incidents channel: a new post, or its update (the
        newest replaces one still waiting)."""
        group = await AlertGroup.get(id=notice.alert_group_id).prefetch_related("incident")
        body = message(card=incident_cards.alert_card(group, group.incident,
                                                      scale=self.severity))
        name = str(AlertPost(group.id))
        if notice.new:
            await uow.enqueue(
                operation=OutboxOperation.CREATE_CONVERSATION, service_url=group.service_url,
                conversation_id=None, name=name, ordering_key=Order.alert(group.id).key,
                tenant_id=group.tenant_id, urgency=Urgency.URGENT,
                payload={"isGroup": True, "bot": {"id": self.bot_id}, "tenantId": group.tenant_id,
                         "channelData": {"channel": {"id": group.channel_id},
                                         "tenant": {"id": group.tenant_id}},
                         "activity": body})
            return
        await uow.enqueue(
            operation=OutboxOperation.UPDATE, service_url=group.service_url,
            conversation_id=group.card_conversation_id, activity_id=group.card_activity_id,
            after=name, ordering_key=Order.alert(group.id).key, coalesce_key=name,
            payload=body, tenant_id=group.tenant_id, urgency=Urgency.CARD)

    async def into_thread(self, uow: UnitOfWork, incident: Incident, body: dict[str, Any],
                          *, name: str | None = None) -> None:
        """A post in the incident's thread (which the outbox creates first if need be)."""
        await uow.enqueue(
            operation=OutboxOperation.REPLY, service_url=incident.service_url,
            conversation_id=incident.thread_id, activity_id=incident.card_activity_id,
            after=str(ThreadStart(incident.id)), ordering_key=Order.incident(incident.id).key,
            payload=body, name=name, tenant_id=incident.tenant_id, urgency=Urgency.URGENT,
        )

    async def _refresh_card(self, uow: UnitOfWork, incident: Incident, now: dt.datetime) -> None:
        card = incident_cards.incident_card(await picture(incident), now=now,
                                            room=await in_room(incident),
                                            scale=self.severity)
        # Its own queue and lane: a refresh waiting for the lane never holds up posts, and
        # refreshes waiting meanwhile are replaced by the newest (coalesce_key).
        await uow.enqueue(
            operation=OutboxOperation.UPDATE, service_url=incident.service_url,
            conversation_id=incident.thread_id, activity_id=incident.card_activity_id,
            after=str(ThreadStart(incident.id)), ordering_key=Order.card(incident.id).key,
            coalesce_key=f"incident:{incident.id}:card", payload=message(card=card),
            tenant_id=incident.tenant_id, urgency=Urgency.CARD, lane=card_lane(incident.id),
        )

    async def _handover_card(self, uow: UnitOfWork,
                             notice: say.RoleRequested | say.HandoverAnswered) -> None:
        handover = await Handover.get(id=notice.handover_id).prefetch_related("incident")
        incident = handover.incident
        body = message(card=incident_cards.role_request_card(handover, incident,
                                                                    self.severity))
        if isinstance(notice, say.RoleRequested):
            await self.into_thread(uow, incident, body, name=str(RoleCard(handover.id)))
            return
        await uow.enqueue(
            operation=OutboxOperation.UPDATE, service_url=incident.service_url,
            conversation_id=incident.thread_id, activity_id=handover.card_activity_id,
            after=str(RoleCard(handover.id)), ordering_key=Order.incident(incident.id).key,
            coalesce_key=str(RoleCard(handover.id)), payload=body,
            tenant_id=incident.tenant_id, urgency=Urgency.URGENT,
        )

    async def _direct_text(self, uow: UnitOfWork, notice: say.DirectMessage,
                           incoming: Activity | None) -> None:
        incident = await Incident.get(id=notice.incident_id)
        note = FailureNote(Loss.PRIVATE, incident.id, notice.person.name, notice.person.id,
                           told=place_of(incoming, incident.tenant_id))
        await self._direct(uow, incident.tenant_id, incident.service_url, notice.person,
                           message(notice.text), note=note)

    async def _commandeer_in_thread(self, uow: UnitOfWork,
                                    notice: say.CommandeerInThread) -> None:
        """The request the 1:1 could not carry, in the thread: the same card, with the
        person and the Commander mentioned (only the person can answer it)."""
        request = await Commandeer.get(id=notice.commandeer_id).prefetch_related("incident")
        incident = request.incident
        person = Person(request.person_id, request.name, request.aad_object_id)
        commander = Person(request.requested_by_id, request.requested_by_name)
        why = f" ({request.why})" if request.why else ""
        text = (f"{request.name}, {request.requested_by_name} needs you on "
                f"INC-{incident.number}{why}. The bot could not message you privately "
                f"({notice.reason}), so: please answer on this card.")
        body = message(text, mentions=(person, commander),
                       card=incident_cards.commandeer_card(request, incident, self.severity))
        await self.into_thread(uow, incident, body)

    async def _direct(self, uow: UnitOfWork, tenant_id: str, service_url: str, person: Person,
                      body: dict[str, Any], *, note: FailureNote) -> None:
        """A 1:1 message; the chat is created first when the bot has none with them yet.
        `note` says whom to tell if Teams refuses it for good."""
        key = Order.direct(tenant_id, person.id).key
        on_failure = note.to_json()
        known = await DirectConversation.get_or_none(tenant_id=tenant_id, user_id=person.id)
        if known is not None:
            await uow.enqueue(operation=OutboxOperation.SEND, service_url=known.service_url,
                              conversation_id=known.conversation_id, ordering_key=key,
                              payload=body, tenant_id=tenant_id, urgency=Urgency.URGENT,
                              on_failure=on_failure)
            return
        # Reuse a chat creation still under way; else start one. Each creation has its own
        # name, so two transactions racing to message the same person both commit (Teams
        # answers both creations with the same 1:1 chat).
        # Only undelivered ones: a delivered creation already left its DirectConversation
        # (same transaction), and the (status, due_ms) index keeps this off the history.
        creating = await OutboxMessage.filter(
            name__startswith=DirectChat.prefix(tenant_id, person.id),
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
        ).order_by("-id").first()
        name = (creating.name if creating is not None and creating.name
                else str(DirectChat.new(tenant_id, person.id)))
        if creating is None:
            await uow.enqueue(
                operation=OutboxOperation.CREATE_CONVERSATION, service_url=service_url,
                conversation_id=None, name=name, ordering_key=key,
                payload={"isGroup": False, "bot": {"id": self.bot_id},
                         "members": [{"id": person.id}], "tenantId": tenant_id,
                         "channelData": {"tenant": {"id": tenant_id}}},
                tenant_id=tenant_id, urgency=Urgency.URGENT,
            )
        await uow.enqueue(operation=OutboxOperation.SEND, service_url=service_url,
                          conversation_id=None, after=name, ordering_key=key, payload=body,
                          tenant_id=tenant_id, urgency=Urgency.URGENT, on_failure=on_failure)

    async def _stakeholders(self, uow: UnitOfWork, notice: say.StakeholderPost) -> None:
        incident = await Incident.get(id=notice.incident_id)
        channel = await stakeholder_channel(incident.tenant_id, incident.team_id)
        if channel is None:
            return
        text = literal(f"{incident_cards.reference(incident)} ({incident.title}) status update: "
                     f"{notice.text}")
        link = incident_cards.thread_link(incident)
        if incident.private:
            # Its members read the update in its chat; stakeholders learn only that.
            text = literal(f"{privacy.redacted(incident, self.severity)} Its members have a new status "
                           "update in the incident's private chat.")
            link = None
        await uow.enqueue(
            operation=OutboxOperation.CREATE_CONVERSATION, service_url=incident.service_url,
            conversation_id=None, ordering_key=Order.stakeholders(channel).key,
            tenant_id=incident.tenant_id, urgency=Urgency.URGENT,
            on_failure=FailureNote(Loss.STAKEHOLDERS, incident.id).to_json(),
            payload={"isGroup": True, "bot": {"id": self.bot_id}, "tenantId": incident.tenant_id,
                     "channelData": {"channel": {"id": channel},
                                     "tenant": {"id": incident.tenant_id}},
                     "activity": _markdown(text + (f" [Thread]({link})" if link else ""))},
        )
