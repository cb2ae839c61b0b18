"""Bot Framework signing keys, from the OpenID metadata, fetched without blocking the loop.

botframework-connector 4.17.1 fetches these with blocking `requests` inside the event loop
and answers an unknown `kid` with an IndexError (HTTP 500). Here keys are cached, refreshed
in the background when stale, and re-fetched (at most once a minute) when a token names a
key we have not seen, which is how a key rollover first shows up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import jwt

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPublicKeys

log = logging.getLogger(__name__)

_REFRESH_AFTER_S = 24 * 3600
_MIN_REFETCH_S = 60


@dataclass(frozen=True)
class SigningKey:
    """A public key and the channels it may sign for."""

    key: AllowedPublicKeys
    endorsements: frozenset[str]


class SigningKeys:
    """Cache of the keys published at one OpenID metadata URL."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        metadata_url: str,
        *,
        min_refetch_s: float = _MIN_REFETCH_S,
    ) -> None:
        self._session = session
        self._metadata_url = metadata_url
        self._min_refetch_s = min_refetch_s
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def get(self, kid: str) -> SigningKey | None:
        """The key with this id, fetching the metadata when we have none or the id is new."""
        if self._fetched_at and time.monotonic() - self._fetched_at > _REFRESH_AFTER_S:
            self._refresh_in_background()
        key = self._keys.get(kid)
        if key is None:
            await self._refresh(unknown_kid=kid)
            key = self._keys.get(kid)
        return key

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh())

    async def _refresh(self, *, unknown_kid: str | None = None) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if unknown_kid is not None:
                # Checked under the lock: a burst of made-up key ids costs one fetch a minute
                # at most, and waiters find the key a concurrent fetch just brought.
                if unknown_kid in self._keys or (self._fetched_at and age < self._min_refetch_s):
                    return
            elif age <= _REFRESH_AFTER_S:
                return
            try:
                self._keys = await self._fetch()
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
                # Keep the old keys: a metadata outage must not lock every user out.
                log.warning("could not fetch Bot Framework signing keys: %s", exc)
            finally:
                self._fetched_at = time.monotonic()

    async def _fetch(self) -> dict[str, SigningKey]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with self._session.get(self._metadata_url, timeout=timeout) as resp:
            resp.raise_for_status()
            metadata = await resp.json(content_type=None)
        async with self._session.get(metadata["jwks_uri"], timeout=timeout) as resp:
            resp.raise_for_status()
            jwks = await resp.json(content_type=None)
        keys: dict[str, SigningKey] = {}
        for entry in jwks.get("keys", []):
            try:
                public = jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWTError as exc:
                log.warning("skipping unusable signing key %s: %s", entry.get("kid"), exc)
                continue
            keys[entry["kid"]] = SigningKey(public, frozenset(entry.get("endorsements", ())))
        log.info("loaded %d Bot Framework signing keys", len(keys))
        return keys
