"""Authenticates an incoming request as the Bot Framework requires.

Rules (Bot Framework "Authentication" for channel -> bot): an RS256 bearer token signed by a
key from the OpenID metadata, issued by the Bot Framework, for our app id, not expired
(5 minutes of clock skew allowed), from a key endorsed for the activity's channel, and whose
`serviceurl` claim equals the activity's serviceUrl (so a token cannot redirect our replies).
Every failure is an `AuthError` (HTTP 401), never an unhandled exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from botframework.connector.auth import EndorsementsValidator

from bot.config import Settings
from bot.errors import AuthError, TenantNotAllowedError
from bot.teams.signing_keys import SigningKeys

CLOCK_SKEW_S = 300


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

    async def authenticate(
        self, authorization: str | None, *, channel_id: str, service_url: str
    ) -> Caller:
        """Check the `Authorization` header against the activity it came with."""
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
        if not channel_id or not EndorsementsValidator.validate(channel_id, list(key.endorsements)):
            raise AuthError(f"signing key is not endorsed for channel {channel_id!r}")
        claims = self._decode(token, key.key)
        if str(claims.get("serviceurl", "")).rstrip("/") != service_url.rstrip("/"):
            raise AuthError("token serviceurl does not match the activity")
        return Caller(app_id=str(claims.get("aud")), service_url=service_url)

    def _decode(self, token: str, key: object) -> dict:
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


def check_tenant(settings: Settings, tenant_id: str | None) -> None:
    """Refuse activities from tenants this deployment does not serve."""
    allowed = settings.allowed_tenants
    if allowed and tenant_id not in allowed:
        raise TenantNotAllowedError(f"tenant {tenant_id!r} is not allowed")
