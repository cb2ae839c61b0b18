"""A Bot Framework token issuer and an Entra token endpoint, on loopback, with their own keys.

The bot fetches the OpenID metadata and JWKS from here exactly as from Microsoft, so the
token rules are tested for real: signatures, key ids, endorsements, claims.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import serve

ISSUER = "https://api.botframework.com"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeIdentity:
    """Serves `/openidconfiguration`, `/keys` and `/token`; signs tokens with `token()`."""

    app_id: str = "00000000-0000-0000-0000-0000000a99b0"
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    url: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    metadata_requests: int = 0

    def __post_init__(self) -> None:
        self.key = _new_key()
        self.kid = "test-key-1"
        self._runner: web.AppRunner | None = None

    @property
    def metadata_url(self) -> str:
        return self.url + "openidconfiguration"

    @property
    def token_url(self) -> str:
        return self.url + "token"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/openidconfiguration", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/token", self._token)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def token(self, *, service_url: str, **overrides: Any) -> str:
        """A channel token for `service_url`; pass claim overrides, or `kid=`/`key=`/`alg=`."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": self.app_id, "serviceurl": service_url,
            "nbf": now - 10, "exp": now + 3600, "iat": now - 10,
        }
        kid = overrides.pop("kid", self.kid)
        key = overrides.pop("key", self.key)
        alg = overrides.pop("alg", "RS256")
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        return web.json_response({"issuer": ISSUER, "jwks_uri": self.url + "keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        public = self.key.public_key().public_numbers()
        return web.json_response({"keys": [{
            "kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64(public.n),
            "e": _b64(public.e), "endorsements": self.endorsements,
        }]})

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if form.get("client_secret") != "s3cret-app-password":
            return web.json_response({"error": "invalid_client",
                                      "error_description": "AADSTS7000215: Invalid client secret"},
                                     status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599,
                                  "access_token": f"app-token-{len(self.token_requests)}"})


APP_PASSWORD = "s3cret-app-password"
