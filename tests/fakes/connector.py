"""A loopback Bot Connector that records every call the bot makes.

It speaks the REST shapes of `/v3/conversations/...` as Teams' service does (ids in the
answers, `;messageid=` thread suffixes in channel conversation ids) and can be told to
answer with errors, throttling or a hang, so retries are tested against real HTTP.

Two refusals Teams makes on its own can be switched on:

- `limits`: Teams' published rate limits (`tests.fakes.rate_limits`), answered as Teams
  answers them: 429 with `Retry-After` and the error code its status table documents.
- `not_installed`: users without the app, for whom a proactive 1:1 `POST /v3/conversations`
  is refused with 403, as Teams refuses it.

Both bodies come from "Status codes from bot conversational APIs",
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#status-codes-from-bot-conversational-apis
(MicrosoftDocs/msteams-docs, msteams-platform/bots/how-to/conversations/conversation-messages.md).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve
from tests.fakes.rate_limits import TeamsRateLimits

# 429 "Throttled", "Too many requests. Also returns when to retry after." in the status
# table (see the module docstring). The code is the documented one; some clients and
# other fakes use Graph's "TooManyRequests", which the Bot Connector does not document.
THROTTLED_CODE = "Throttled"
# 403 "ForbiddenOperationException", "Bot isn't installed in user's personal scope":
# "Proactive message is sent by a bot, which isn't installed in a personal scope." The docs
# edit "is not" to "isn't" (they do so for the roster message too); reports of the wire text
# quote "Bot is not installed in user's personal scope", which is what is sent here. Older
# reports (MicrosoftDocs/bot-docs#1527,
# OfficeDev/microsoft-teams-apps-company-communicator#744) show the same refusal as
# {"code": "BotNotInConversationRoster", "message": "The bot is not part of the
# conversation roster."}, which the same table now lists for a bot removed from a
# conversation; a client should treat both as "not installed", never retry either.
NOT_INSTALLED_BODY = {"error": {"code": "ForbiddenOperationException",
                                "message": "Bot is not installed in user's personal scope"}}
NOT_IN_CHAT_BODY = {"error": {"code": "BotNotInConversationRoster",
                              "message": "The bot is not part of the conversation roster."}}
# Requests that name no tenant (a DELETE, a member look-up before any send) share this one.
DEFAULT_TENANT = "fake-tenant"


@dataclass
class Call:
    """One request the bot made."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]
    conversation_id: str | None = None
    activity_id: str | None = None
    answered: int = 200
    response: Any = None
    # time.monotonic() when the request arrived, so tests can order events across fakes.
    at: float = field(default_factory=time.monotonic)

    @property
    def kind(self) -> str:
        """send, reply, update, delete, create_conversation or get_member."""
        if self.path.endswith("/v3/conversations"):
            return "create_conversation"
        if "/members/" in self.path:
            return "get_member"
        return {"PUT": "update", "DELETE": "delete"}.get(
            self.method, "reply" if self.activity_id else "send"
        )

    @property
    def text(self) -> str:
        """What a person reads: the message text, or the text of every TextBlock of an
        attached card, with Markdown escapes and HTML entities resolved as Teams does."""
        return as_read(self.markup)

    @property
    def markup(self) -> str:
        """The same text exactly as the bot sent it."""
        body = self.body or {}
        if isinstance(body.get("activity"), dict):  # create conversation with a first message
            body = body["activity"]
        parts = [body.get("text") or ""]
        for attachment in body.get("attachments") or []:
            parts.extend(_card_texts(attachment.get("content") or {}))
        return "\n".join(p for p in parts if p)


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_read(markup: str) -> str:
    """Markdown backslash escapes and HTML entities resolved, as Teams shows them."""
    return html.unescape(_ESCAPED.sub(r"\1", markup))


def _card_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        found += [f"{f.get('title')} {f.get('value')}" for f in node.get("facts") or []]
        for value in node.values():
            if isinstance(value, (dict, list)):
                found += _card_texts(value)
        return found
    if isinstance(node, list):
        return [t for item in node for t in _card_texts(item)]
    return []


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    hang_s: float = 0.0
    # Only calls into conversations whose id starts with this (None: any call).
    only_in: str | None = None


@dataclass
class FakeConnector:
    """Start with `await fake.start()`; `fake.url` is the serviceUrl to put in activities."""

    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    members: dict[str, dict] = field(default_factory=dict)
    url: str = ""
    # While set, every call is answered 503, as during a Bot Connector outage.
    down: bool = False
    # When set, every call is checked against Teams' rate limits; past one it is answered
    # 429 (and not counted). Off by default: most tests are not about throttling.
    limits: TeamsRateLimits | None = None
    # User ids (`29:...`, or the AAD object ids a bot may also put in `members[0].id`) who
    # do not have the app: a 1:1 create conversation for them is answered 403.
    not_installed: set[str] = field(default_factory=set)
    # Group chats ("19:...@thread.v2") the bot was installed in; when `chat_installs` is
    # set, a post into any other group chat is refused 403 as Teams refuses a bot that is
    # not in the conversation's roster.
    chat_installs: set[str] | None = None

    def __post_init__(self) -> None:
        # The tenant last seen in a body per thread, for calls without one (DELETE, GET).
        self._tenants: dict[str, str] = {}
        self._ids = itertools.count(1_700_000_000_001)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` calls with `status`."""
        self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def hang_next(self, seconds: float, *, times: int = 1, only_in: str | None = None) -> None:
        """Hold the next calls (into `only_in` conversations) for `seconds` before answering
        normally (a slow service)."""
        self.faults.extend(Fault(0, hang_s=seconds, only_in=only_in) for _ in range(times))

    def of_kind(self, kind: str) -> list[Call]:
        """Successful calls of one kind, in arrival order."""
        return [c for c in self.calls if c.kind == kind and c.answered < 300]

    @property
    def throttled(self) -> int:
        """How many calls were answered 429 (by `limits`, or by an injected fault)."""
        return sum(1 for c in self.calls if c.answered == 429)

    @property
    def delivered(self) -> list[Call]:
        """Every call that was answered with success."""
        return [c for c in self.calls if c.answered < 300]

    async def wait_for(self, count: int, *, kind: str | None = None, timeout: float = 10) -> list[Call]:
        """Wait until `count` successful calls (of `kind`) arrived; fail the test otherwise."""

        def matching() -> list[Call]:
            return self.of_kind(kind) if kind else self.delivered

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(matching()) >= count), timeout
                )
            except TimeoutError:
                seen = [(c.method, c.path, c.answered) for c in self.calls]
                raise AssertionError(f"expected {count} {kind or ''} calls, got {seen}") from None
        return matching()

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.json() if request.can_read_body else None
        conversation_id, activity_id = _ids_from(request.path)
        call = Call(request.method, request.path, body, dict(request.headers),
                    conversation_id, activity_id, at=arrived)
        response = await self._answer(call)
        call.answered = response.status
        if isinstance(response.body, bytes) and response.body:
            call.response = json.loads(response.body)
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _answer(self, call: Call) -> web.Response:
        if self.down:
            return web.json_response(
                {"error": {"code": "ServiceUnavailable", "message": "outage"}}, status=503)
        fault = next((f for f in self.faults if f.only_in is None
                      or (call.conversation_id or "").startswith(f.only_in)), None)
        if fault is not None:
            self.faults.remove(fault)
            if fault.hang_s:
                await asyncio.sleep(fault.hang_s)
            else:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response(
                    {"error": {"code": "Fault", "message": "injected"}},
                    status=fault.status, headers=headers,
                )
        refused = self._over_limit(call)
        if refused is not None:
            return refused
        kind = call.kind
        if kind == "create_conversation" and _one_to_one_user(call) in self.not_installed:
            return web.json_response(NOT_INSTALLED_BODY, status=403)
        chat = call.conversation_id or ""
        if (self.chat_installs is not None and chat.startswith("19:")
                and chat.endswith("@thread.v2") and chat not in self.chat_installs):
            return web.json_response(NOT_IN_CHAT_BODY, status=403)
        new_id = str(next(self._ids))
        if kind == "create_conversation":
            channel = ((call.body or {}).get("channelData") or {}).get("channel") or {}
            if channel.get("id"):
                return web.json_response(
                    {"id": f"{channel['id']};messageid={new_id}", "activityId": new_id}, status=201
                )
            # Teams answers with the one 1:1 chat the person and the bot share: the same
            # id their own messages to the bot come from (tests.fakes.activities).
            user = _one_to_one_user(call)
            # With a first message, the Bot Connector also answers its id (the
            # ConversationResourceResponse's activityId, "ID of the Activity (if sent)").
            first = {"activityId": new_id} if isinstance((call.body or {}).get("activity"),
                                                         dict) else {}
            return web.json_response({"id": f"a:1on1-{user or new_id}", **first}, status=201)
        if kind == "get_member":
            member = self.members.get(call.path.rsplit("/", 1)[1])
            if member is None:
                return web.json_response({"error": {"code": "MemberNotFoundInConversation"}},
                                         status=404)
            return web.json_response(member)
        if kind == "delete":
            return web.Response(status=200)
        if kind == "update":
            return web.json_response({"id": call.activity_id})
        return web.json_response({"id": new_id}, status=201)

    def _over_limit(self, call: Call) -> web.Response | None:
        """None if `limits` accepts the call, else Teams' 429. The 403 for a user without
        the app is decided after this: that request reached Teams, so it is counted."""
        if self.limits is None:
            return None
        thread = thread_of(call)
        tenant = tenant_of(call.body)
        if tenant:
            self._tenants[thread] = tenant
        tenant = tenant or self._tenants.get(thread, DEFAULT_TENANT)
        wait = self.limits.check(thread, tenant, members=call.kind == "get_member")
        if wait is None:
            return None
        refusal = self.limits.last_refusal
        exceeded = f" ({refusal.bucket}: {refusal.window.describe()})" if refusal else ""
        seconds = max(1, math.ceil(wait))
        return web.json_response(
            {"error": {"code": THROTTLED_CODE,
                       "message": f"Too many requests{exceeded}. Retry after {seconds} s."}},
            status=429, headers={"Retry-After": str(seconds)},
        )


def thread_of(call: Call) -> str:
    """The thread a call is limited in: the conversation without its `;messageid=` (a
    channel's reply chains are one thread); for a new conversation the channel it starts
    in, or `user:<id>` for a 1:1."""
    if call.kind == "create_conversation":
        body = call.body if isinstance(call.body, dict) else {}
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        if channel:
            return str(channel).split(";messageid=", 1)[0]
        user = _one_to_one_user(call)
        return f"user:{user}" if user else "user:?"
    return (call.conversation_id or call.path).split(";messageid=", 1)[0]


def tenant_of(body: Any) -> str | None:
    """The tenant a body names: `tenantId`, `channelData.tenant.id` or
    `conversation.tenantId` (of the activity inside a create conversation too)."""
    if not isinstance(body, dict):
        return None
    found = (body.get("tenantId") or ((body.get("channelData") or {}).get("tenant") or {})
             .get("id") or (body.get("conversation") or {}).get("tenantId"))
    if found:
        return str(found)
    return tenant_of(body["activity"]) if isinstance(body.get("activity"), dict) else None


def _one_to_one_user(call: Call) -> str | None:
    """The user a 1:1 create conversation is for (`members[0].id`), None for a channel."""
    body = call.body if isinstance(call.body, dict) else {}
    if ((body.get("channelData") or {}).get("channel") or {}).get("id"):
        return None
    members = body.get("members") or []
    first = members[0] if members and isinstance(members[0], dict) else {}
    return str(first["id"]) if first.get("id") else None


def _ids_from(path: str) -> tuple[str | None, str | None]:
    parts = path.split("/")
    # /v3/conversations/{conversation}/activities/{activity}
    conversation = parts[3] if len(parts) > 3 else None
    activity = parts[5] if len(parts) > 5 and parts[4] == "activities" else None
    return conversation, activity
