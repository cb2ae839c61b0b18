"""The bot's small error tree.

    BotError
    ├── CommandError        text is safe to show the user as is
    │   ├── NotAllowedError the actor may not do this
    │   └── NotFoundError   the thing named does not exist
    ├── BadActivityError    the request body is not a usable activity (HTTP 400)
    ├── AuthError           the request is not authenticated (HTTP 401)
    │   └── TenantNotAllowedError  authenticated, but from a tenant we do not serve (403)
    ├── ConnectorError      the Bot Connector refused or failed a call
    ├── BridgeError         a video provider failed
    └── ProviderError       another outside service refused or failed (GitHub, Jira, Statuspage)

Anything else is a bug: logged with its stack trace and an error id the user also sees.
"""

from __future__ import annotations

import uuid


def new_error_id() -> str:
    """A short id a user can quote and an operator can grep the logs for."""
    return uuid.uuid4().hex[:10]


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class CommandError(BotError):
    """A user's command cannot be carried out; the message is shown to them."""


class NotAllowedError(CommandError):
    """The actor may not do this."""


class NotFoundError(CommandError):
    """The thing named does not exist."""


class BadActivityError(BotError):
    """The request body is not a usable Bot Framework activity."""


class AuthError(BotError):
    """The request is not authenticated as the Bot Framework requires."""


class TenantNotAllowedError(AuthError):
    """The activity comes from a tenant this deployment does not serve."""


class ConnectorError(BotError):
    """A Bot Connector call failed; `status` is the HTTP status, 0 for network errors."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Throttling, server errors, network failures and "too early" are worth another try."""
        return self.status in (0, 408, 412, 425, 429) or self.status >= 500


class BridgeError(BotError):
    """A video provider could not create a room; `retryable` for timeouts, 429 and 5xx.

    The message must never contain a credential: it is shown in the incident thread.
    """

    def __init__(self, message: str, *, provider: str, retryable: bool = True):
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable


class ProviderError(BotError):
    """An outside service did not do what was asked; `status` is the HTTP status, 0
    without one, and `retry_after` what it asked for. Durable jobs retry it when
    `retryable`.

    The message must never contain a credential: it is shown in the incident thread.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
