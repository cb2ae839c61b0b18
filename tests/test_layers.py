"""The layers of docs/architecture.md hold: imports go downward only, botbuilder stays in
bot/teams, presentation stays out of the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(("packages", "forbidden"), [
    (("bot/incidents",), ("bot.teams", "bot.web", "bot.app", "botbuilder", "botframework",
                          "aiohttp")),
    (("bot/store",), ("bot.teams", "bot.web", "bot.app", "bot.incidents", "botbuilder",
                      "botframework", "aiohttp")),
    (("integrations",), ("bot.teams", "bot.web", "bot.app", "bot.incidents", "bot.store",
                         "botbuilder", "botframework")),
    (("bot/web",), ("botbuilder", "botframework")),
], ids=["domain", "store", "integrations", "web"])
def test_a_layer_imports_nothing_above_it(packages: tuple[str, ...],
                                          forbidden: tuple[str, ...]) -> None:
    wrong = [f"{path.relative_to(ROOT)} imports {name}"
             for path in _modules(*packages) for name in sorted(_imports(path))
             if name.split(".")[0] in forbidden or name.startswith(forbidden)]
    assert not wrong, wrong


def test_the_adapter_and_the_protocol_modules_never_import_the_routing_above_them() -> None:
    routing = ("bot.teams.bot", "bot.teams.router", "bot.teams.commands", "bot.teams.call")
    below = ["adapter", "connector", "activity_json", "addressing", "auth", "mentions"]
    wrong = [f"{name}.py imports {imported}" for name in below
             for imported in sorted(_imports(ROOT / "bot" / "teams" / f"{name}.py"))
             if imported.startswith(routing)]
    assert not wrong, wrong
