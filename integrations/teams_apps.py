"""Installing the bot for one person through Microsoft Graph, so it can message them 1:1.

Teams refuses a bot's 1:1 with anyone who does not have the app (403); the Commander may
commandeer anyone in the company, most of whom never installed it. With the application
permission `TeamsAppInstallation.ReadWriteSelfForUser.All` an app may install itself for
a user: `POST /users/{user-id}/teamwork/installedApps` with
`{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}"}`
answers 201 Created (learn.microsoft.com/graph/api/userteamwork-post-installedapps), and
Teams then lets the bot open the chat. `{id}` is the app's id in the tenant's app catalog
(for an app uploaded by the organisation it is not the manifest id: `GET
/appCatalogs/teamsApps?$filter=externalId eq '<manifest id>'` shows it).
"""

from __future__ import annotations

import aiohttp

from bot.errors import BotError
from integrations.graph_token import GraphToken

_BIND = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{}"
# What a refusal means, in words a Commander can act on.
_REFUSALS = {
    400: "Microsoft Graph rejected the request (check TEAMS_APP_CATALOG_ID)",
    401: "Microsoft Graph did not accept the bot's credentials",
    403: "the Graph app lacks the TeamsAppInstallation.ReadWriteSelfForUser.All permission "
         "(or admin consent)",
    404: "Microsoft Graph does not know that person or the app (check TEAMS_APP_CATALOG_ID)",
}


class AppInstallError(BotError):
    """Installing failed; `retryable` when Graph was busy or unreachable."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class GraphAppInstaller:
    """Installs this bot's app for a user (by Microsoft Entra object id)."""

    def __init__(self, session: aiohttp.ClientSession, *, api_url: str, token: GraphToken,
                 app_catalog_id: str, timeout_s: float = 10.0) -> None:
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._app = app_catalog_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def install_for(self, aad_object_id: str) -> None:
        """Installed (or already installed: 409 is success here); else AppInstallError."""
        url = f"{self._api_url}/users/{aad_object_id}/teamwork/installedApps"
        body = {"teamsApp@odata.bind": _BIND.format(self._app)}
        try:
            headers = {"Authorization": f"Bearer {await self._token.bearer()}"}
            async with self._session.post(url, json=body, headers=headers,
                                          timeout=self._timeout) as resp:
                if resp.status in (200, 201, 204, 409):
                    return
                if resp.status == 401:
                    self._token.forget()
                detail = await _graph_error(resp)
        except aiohttp.ClientResponseError as exc:  # the token endpoint refused
            raise AppInstallError(f"Microsoft Entra refused the Graph app's credentials "
                                  f"({exc.status})", retryable=exc.status >= 500) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise AppInstallError(f"Microsoft Graph could not be reached "
                                  f"({type(exc).__name__})", retryable=True) from exc
        if resp.status == 429 or resp.status >= 500:
            raise AppInstallError(f"Microsoft Graph was busy ({resp.status})", retryable=True)
        words = _REFUSALS.get(resp.status, f"Microsoft Graph answered {resp.status}")
        raise AppInstallError(f"{words}{detail}")


async def _graph_error(resp: aiohttp.ClientResponse) -> str:
    """Graph's own error code, as `: Code` (Graph errors are {"error": {"code", ...}})."""
    try:
        body = await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return f": {code}" if isinstance(code, str) and code else ""
