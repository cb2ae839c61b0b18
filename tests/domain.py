"""The domain without Teams: a migrated SQLite database, people, and one transaction per
call, with the notices the domain queued returned instead of sent. For rules that need
no HTTP (the end-to-end tests keep the stories)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.notices import Notice
from bot.incidents.people import Person
from bot.store.unit_of_work import UnitOfWork

T = TypeVar("T")
TENANT = "tenant-1"
TEAM = "19:team@thread.tacv2"
CHANNEL = "19:incidents@thread.tacv2"
ALICE = Person("29:alice", "Alice", "aad-alice")
BOB = Person("29:bob", "Bob", "aad-bob")
CAROL = Person("29:carol", "Carol", "aad-carol")


@dataclass
class Domain:
    """Calls domain functions as a person in the incidents channel."""

    policy: Policy = field(default_factory=Policy)
    said: list[Notice] = field(default_factory=list)

    def ctx(self, who: Person, *, conversation: str = CHANNEL) -> Ctx:
        """`who` acting in `conversation` of the team."""
        return Ctx(actor=who, policy=self.policy, origin=Origin(
            tenant_id=TENANT, service_url="https://smba.example/amer/",
            conversation_id=conversation, conversation_type="channel", team_id=TEAM,
            channel_id=CHANNEL))

    async def run(self, who: Person, work: Callable[[Ctx], Awaitable[T]]) -> T:
        """`work` in one committed transaction; what it said is in `said` (only this call's)."""
        ctx = self.ctx(who)
        async with UnitOfWork():
            result = await work(ctx)
        self.said = list(ctx.notices)
        return result
