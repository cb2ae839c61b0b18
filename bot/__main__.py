"""`incident-bot`: run the bot, or migrate its database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from bot import __version__
from bot.config import Mode, Settings
from bot.logs import configure_logging
from bot.store.database import apply_migrations, describe


def banner(settings: Settings) -> str:
    """What a person starting the bot needs to see first."""
    lines = [
        f"incident-bot {__version__}",
        f"  endpoint : http://{settings.listen_host}:{settings.port}/api/messages",
        f"  mode     : {settings.mode.value}",
        f"  database : {describe(settings.database_url)}",
        f"  journal  : {settings.journal_path} (commands wait here while the database is away)",
        f"  video    : {settings.effective_video_provider}",
    ]
    if settings.mode is Mode.LOCAL:
        lines.append(
            "  WARNING  : no MicrosoftAppId/MicrosoftAppPassword set: requests are NOT "
            "authenticated, so the bot listens on 127.0.0.1 only. Set the credentials "
            "before exposing it."
        )
    return "\n".join(lines)


def configuration_error(exc: ValidationError) -> str:
    """What is wrong with the environment, one line per problem, without a stack trace."""
    lines = ["incident-bot cannot start: the configuration is not usable"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]).upper()
        # A check across settings may find several problems: one line each.
        for problem in str(error["msg"]).removeprefix("Value error, ").splitlines():
            named = where and where not in problem
            lines.append(f"  {where}: {problem}" if named else f"  {problem}")
    lines.append("See docs/configuration.md.")
    return "\n".join(lines)


def _run(settings: Settings, *, migrate: bool) -> int:
    from bot.app import create_app
    from bot.serve import run

    print(banner(settings), flush=True)
    return run(settings, create_app(settings, migrate=migrate),
               announce=lambda line: print(line, flush=True))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(
        prog="incident-bot",
        description="Incident response in Microsoft Teams. Configuration comes from the "
        "environment and .env (see docs/configuration.md).",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve /api/messages (applies migrations first)")
    run.add_argument("--no-migrate", action="store_true",
                     help="skip migrations (when a separate step runs `migrate`)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    package = sub.add_parser("package", help="write the Teams app package (zip) to upload")
    package.add_argument("--out", default="dist/incident-bot.zip", help="where to write it")
    imports = sub.add_parser("import-oncall",
                             help="load a squad's on-call schedule from an iCalendar file")
    imports.add_argument("--tenant", required=True, help="Entra tenant id of the team")
    imports.add_argument("--squad", required=True, help="squad name (created from Teams)")
    imports.add_argument("file", help="the .ics file")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        print(configuration_error(exc), file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command == "migrate":
        asyncio.run(apply_migrations(settings.database_url))
        print(f"database {describe(settings.database_url)} is up to date")
        return 0
    if args.command == "package":
        from bot.app_package import build_package

        try:
            print(f"wrote {build_package(settings, args.out)}")
        except ValueError as exc:
            print(f"cannot package: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "import-oncall":
        return asyncio.run(_import_oncall(settings, args.tenant, args.squad, args.file))
    return _run(settings, migrate=not args.no_migrate)


async def _import_oncall(settings: Settings, tenant: str, squad: str, path: str) -> int:
    from bot.errors import CommandError
    from bot.incidents.oncall_import import import_ical
    from bot.store.database import close_database, open_database

    await apply_migrations(settings.database_url)
    await open_database(settings.database_url)
    try:
        data = await asyncio.to_thread(Path(path).read_bytes)
        result = await import_ical(tenant, squad, data)
    except (CommandError, OSError) as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await close_database()
    print(f"imported {result.imported} on-call periods into {squad}")
    for problem in result.skipped:
        print(f"skipped: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
