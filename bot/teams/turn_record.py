"""What one turn did, kept in its TurnContext, so that a failure can be answered rightly.

When the database fails in the middle of a turn, what the person is told depends on how
far the turn got: a command that had not committed is put in the local journal and
applied later; one that had committed is safe and only its answer is missing; a command
that only reads (`status`, `list`) cannot be answered from a journal and says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from botbuilder.core import TurnContext

from bot.incidents.local_time import written

_KEY = "incident-bot.turn"


@dataclass(frozen=True)
class Replay:
    """The turn applies a journal entry: when it was received and what it was, and the
    zone of the sender's team, in which the messages about it say when."""

    received_at: dt.datetime
    what: str
    zone: str = "UTC"

    @property
    def _when(self) -> str:
        return written(self.received_at, self.zone)

    def applied(self, answer: str) -> str:
        """`answer` of the applied command, saying it was saved earlier."""
        return (f"Applied now: your {self.what} from {self._when}, saved "
                f"while the incident database was away. {answer}").rstrip()

    def refused(self, reason: str) -> str:
        """Why the saved command could not be applied after all."""
        return (f"Your {self.what} from {self._when}, saved while the "
                f"incident database was away, could not be applied: {reason}")


@dataclass
class TurnRecord:
    """How far a turn got."""

    reading: bool = False  # it only reads: nothing to journal
    writing: bool = False  # it started a unit of work
    committed: bool = False  # that unit of work committed
    duplicate: bool = False  # the activity had changed state before: nothing was done
    # Nobody asked the bot anything (a chat message it records, `bot.teams.conversation`):
    # whatever happens, nothing is said.
    silent: bool = False
    replay: Replay | None = None


def start(turn: TurnContext, *, replay: Replay | None = None) -> TurnRecord:
    """A fresh record for `turn`."""
    record = TurnRecord(replay=replay)
    turn.turn_state[_KEY] = record
    return record


def of(turn: TurnContext) -> TurnRecord:
    """The record of `turn` (a fresh one for turns not started through `start`)."""
    record = turn.turn_state.get(_KEY)
    if not isinstance(record, TurnRecord):
        record = start(turn)
    return record
