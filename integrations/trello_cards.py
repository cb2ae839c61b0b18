"""Follow-up actions as Trello cards, through the REST API over aiohttp.

`POST https://api.trello.com/1/cards` ("Create a new Card",
https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-post) with
`idList`, `name` and `desc` (Markdown); Trello answers 200 with the card, whose `idShort`
is its number on the board and `shortUrl` the page people open. The API key and the
member's token go in the `Authorization: OAuth oauth_consumer_key="…", oauth_token="…"`
header Trello accepts in place of the `key` and `token` query parameters
("Authorizing with Trello's REST API",
https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/), so they are
never part of a URL a proxy logs.

Refusals are plain text ("invalid key", "invalid token", "invalid value for idList"),
401, 400 or 404, none retryable. Rate limits ("Rate Limits",
https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/): 300 requests
per 10 s per API key and 100 per 10 s per token, past which Trello answers 429 with
`{"error": "API_TOKEN_LIMIT_EXCEEDED" | "API_KEY_LIMIT_EXCEEDED", ...}` and no documented
Retry-After; so a 429 is retried after `RATE_LIMIT_WAIT_S` (the window), unless a
Retry-After does come. 5xx and timeouts are retryable.

Creating a card is not idempotent: after a timeout the card may exist all the same, so a
retry can make a second one.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from integrations.github_issues import (
    IssueRef,
    TrackerError,
    refusal,
    response_json,
    retry_after_s,
    unreachable,
)

log = logging.getLogger(__name__)

USER_AGENT = "incident-bot"
# Trello's rate-limit window; a 429 says which limit but not when it lifts.
RATE_LIMIT_WAIT_S = 10.0
# Trello's limit for a card's name and its description.
TEXT_MAX_CHARS = 16384
_MESSAGE_MAX_CHARS = 200
_TRELLO_ID = re.compile(r"[0-9a-fA-F]{24}")


class TrelloCards:
    """Creates cards in one list with one API key and token."""

    name = "Trello"
    ticket = "a Trello card"

    def __init__(self, session: aiohttp.ClientSession, *, api_key: str, token: str,
                 list_id: str, api_url: str = "https://api.trello.com/1",
                 timeout_s: float = 10, clock: Callable[[], float] = time.time) -> None:
        if not _TRELLO_ID.fullmatch(list_id):
            raise ValueError(f"Trello list id must be 24 hexadecimal characters, got {list_id!r}")
        if not (api_key and token):
            raise ValueError("Trello needs an API key and a token")
        self._session = session
        self._list = list_id
        self._secrets = [api_key, token]
        self._authorization = f'OAuth oauth_consumer_key="{api_key}", oauth_token="{token}"'
        self._url = f"{api_url.rstrip('/')}/cards"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock

    def __repr__(self) -> str:
        return f"TrelloCards(list={self._list!r}, url={self._url!r})"

    async def create_issue(self, *, title: str, body: str,
                           labels: list[str] | None = None) -> IssueRef:
        """Add a card at the bottom of the list and return its number and page (Trello's
        labels are the board's own, by id: `labels` are not sent)."""
        payload = {"idList": self._list, "name": _clip(" ".join(title.split())),
                   "desc": _clip(body), "pos": "bottom"}
        headers = {"Authorization": self._authorization, "Accept": "application/json",
                   "User-Agent": USER_AGENT}
        try:
            async with self._session.post(self._url, json=payload, headers=headers,
                                          timeout=self._timeout) as resp:
                if resp.status >= 300:
                    text = await resp.text(errors="replace")
                    raise self._refusal(resp.status, resp.headers, text)
                answer, status = await response_json(resp), resp.status
        except TimeoutError:
            raise self._failure("Trello did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise self._failure(f"Trello could not be reached ({type(exc).__name__})") from None
        return self._card(answer, status)

    def _refusal(self, status: int, headers: Mapping[str, str], text: str) -> TrackerError:
        said = self._scrub(_trello_message(text))
        return refusal(tracker="Trello", action=f"create a card in list {self._list}",
                       status=status, rate_limited=status == 429,
                       wait_s=retry_after_s(headers.get("retry-after"), now=self._clock()),
                       default_wait_s=RATE_LIMIT_WAIT_S, logger=log,
                       details="; ".join(part for part in (said, _meaning(status, said))
                                         if part))

    def _failure(self, message: str) -> TrackerError:
        return unreachable(message, f"creating a card in list {self._list}", logger=log)

    def _card(self, answer: Any, status: int) -> IssueRef:
        try:
            return IssueRef(number=int(answer["idShort"]), url=str(answer["shortUrl"]))
        except (TypeError, KeyError, ValueError):
            # The card may well exist: retrying could file it twice.
            raise TrackerError(
                f"Trello's answer ({status}) to creating a card in list {self._list} has no "
                "card number or link", retryable=False, status=status) from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[token]")
        return text


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX_CHARS else text[: TEXT_MAX_CHARS - 1] + "…"


def _trello_message(text: str) -> str:
    """Trello's own words: its plain text, or a JSON error's `message` and `error`."""
    said = " ".join(text.split())
    if said.startswith("{"):
        try:
            answer = json.loads(said)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            said = " ".join(str(answer[k]) for k in ("message", "error") if answer.get(k))
    return said if len(said) <= _MESSAGE_MAX_CHARS else said[: _MESSAGE_MAX_CHARS - 1] + "…"


def _meaning(status: int, said: str) -> str:
    """What a refusal means, in the words of whoever fixes it."""
    if status == 401:
        if "key" in said.lower():
            return "the API key was not accepted"
        return "the token was not accepted (wrong, expired or revoked) or may not use this board"
    if status == 404 or (status == 400 and "idlist" in said.lower()):
        return "no such list, or not one this token may see (TRELLO_LIST_ID)"
    return ""
