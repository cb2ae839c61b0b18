"""The SDK baseline: botbuilder-integration-aiohttp's stock `CloudAdapter` echo bot.

Kept as Microsoft's samples write it, with no credentials (anonymous mode), so the
bench shows what the stock adapter costs next to the bare floor and to our adapter.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)


@dataclass
class NoCredentials:
    """The sample's config object with an empty app id: auth disabled (anonymous)."""

    APP_ID: str = ""
    APP_PASSWORD: str = ""


class EchoBot(ActivityHandler):
    """Answers every message with `echo`."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity("echo")


def create_app() -> web.Application:
    """The stock adapter and echo bot behind `/api/messages`."""
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(NoCredentials()))
    bot = EchoBot()

    async def post_messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    async def get_healthz(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/messages", post_messages)
    app.router.add_get("/healthz", get_healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
