"""botbuilder's TurnContext, without a deep copy of every outgoing activity.

The SDK deep-copies each activity before addressing it (to protect the caller's object);
addressing only replaces top-level attributes, so a shallow copy protects just as well,
and the deep copy was the largest single cost of a `help` turn after the network itself.
"""

from __future__ import annotations

import copy

from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    DeliveryModes,
    ResourceResponse,
)


def addressed(activity: Activity, reference: ConversationReference) -> Activity:
    """A copy of `activity` addressed as an answer in `reference`'s conversation (what the
    SDK does to every outgoing activity; doing it twice changes nothing)."""
    out = TurnContext.apply_conversation_reference(copy.copy(activity), reference)
    out.type = out.type or ActivityTypes.message
    out.input_hint = out.input_hint or "acceptingInput"
    out.id = None
    return out


class ShallowCopyTurnContext(TurnContext):  # type: ignore[misc]  # botbuilder is untyped
    """Same contract as TurnContext.send_activities; copies shallowly."""

    async def send_activities(self, activities: list[Activity]) -> list[ResourceResponse]:
        if self.activity.delivery_mode == DeliveryModes.expect_replies:
            # rare: keep the SDK's path
            sent: list[ResourceResponse] = await super().send_activities(activities)
            return sent
        reference = TurnContext.get_conversation_reference(self.activity)
        output = [addressed(activity, reference) for activity in activities]
        sent_non_trace = any(a.type != ActivityTypes.trace for a in output)

        async def logic() -> list[ResourceResponse]:
            responses: list[ResourceResponse] = await self.adapter.send_activities(self, output)
            if sent_non_trace:
                self.responded = True
            return responses

        emitted: list[ResourceResponse] = await self._emit(self._on_send_activities, output,
                                                           logic())
        return emitted
