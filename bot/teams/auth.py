"""Authenticates an incoming request as the Bot Framework requires.

Rules (Bot Framework "Authentication" for channel -> bot): an RS256 bearer token signed by a
key from the OpenID metadata, issued by the Bot Framework, for our app id, not expired
(5 minutes of clock skew allowed), from a key endorsed for the activity's channel, and whose
`serviceurl` claim equals the activity's serviceUrl (so a token cannot redirect our replies).
Every failure is an `AuthError` (HTTP 401), never an unhandled exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from botframework.connector.auth import EndorsementsValidator

from bot.config import Settings
from bot.errors import AuthError, TenantNotAllowedError
from bot.teams.signing_keys import SigningKeys

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPublicKeys

CLOCK_SKEW_S = 300
# The Bot Framework channel id of Microsoft Teams; no other channel is served (issue 14:
# on Direct Line, the client chooses `from` and `channelData`).
TEAMS_CHANNEL = "msteams"


@dataclass(frozen=True)
class Caller:
    """Who sent the request, as far as the token says."""

    app_id: str
    service_url: str


class BotFrameworkAuth:
    """Validates bearer tokens on `/api/messages`."""

    def __init__(self, settings: Settings, keys: SigningKeys) -> None:
        self._settings = settings
        self._keys = keys

    async def verify(self, authorization: str | None) -> Caller:
        """Check the `Authorization` header alone, before the body is read: signature,
        issuer, audience, expiry, and a key endorsed for Teams (the only channel served).
        The caller's `serviceurl` claim is matched with the activity by `check_activity`."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise AuthError("token must be signed with RS256")
        key = await self._keys.get(str(header.get("kid", "")))
        if key is None:
            raise AuthError("token signed by an unknown key")
        # botframework-connector's own check, minus its "no channel means pass" loophole.
        if not EndorsementsValidator.validate(TEAMS_CHANNEL, list(key.endorsements)):
            raise AuthError(f"signing key is not endorsed for channel {TEAMS_CHANNEL!r}")
        claims = self._decode(token, key.key)
        return Caller(app_id=str(claims.get("aud")),
                      service_url=str(claims.get("serviceurl", "")).rstrip("/"))

    def _decode(self, token: str, key: AllowedPublicKeys) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self._settings.app_id,
                issuer=self._settings.bot_token_issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token is for another app") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token from an unknown issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from exc


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be a bearer token")
    return token.strip()


def check_activity(caller: Caller, *, service_url: str) -> None:
    """The token must be for this activity's service (so it cannot redirect our replies)."""
    if caller.service_url != service_url.rstrip("/"):
        raise AuthError("token serviceurl does not match the activity")


def check_tenant(settings: Settings, tenant_id: str | None) -> None:
    """Refuse activities from tenants this deployment does not serve."""
    allowed = settings.allowed_tenants
    if allowed and tenant_id not in allowed:
        raise TenantNotAllowedError(f"tenant {tenant_id!r} is not allowed")
