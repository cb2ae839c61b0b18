"""The operator docs stay true to the code: every setting documented, every link live,
the Google scopes the ones the code asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import environment_names
from integrations.google_docs import DRIVE_FILE_SCOPE
from integrations.google_meet import CALENDAR_SCOPE, MEET_SCOPE

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_setting_is_in_the_configuration_reference():
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(n for n in environment_names() if f"`{n}`" not in reference)
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_the_architecture_names_every_setting():
    design = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(n for n in environment_names() if f"`{n}`" not in design)
    assert not missing, f"docs/architecture.md lacks {missing}"


def test_code_and_docs_cite_only_files_in_the_repository():
    # The shared notes the project started from are not part of what users check out.
    outside = re.compile(r"DESIGN\.md|TEAMS-PROTOCOL\.md|PERFORMANCE\.md|\.\./shared")
    files = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("integrations/**/*.py"), *PAGES,
             ROOT / "Makefile", ROOT / "pyproject.toml"]
    cited = [f"{f.relative_to(ROOT)}: {m}" for f in files
             for m in outside.findall(f.read_text(encoding="utf-8"))]
    assert not cited, cited


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_point_at_files_that_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+://", target):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_readme_starts_with_the_two_set_up_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[2:6] == ["```sh", lines[3], lines[4], "```"]
    assert lines[3].startswith("make run ") and lines[4].startswith("make test ")


def test_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"


def test_google_page_grants_exactly_the_scopes_the_code_asks_for():
    page = (ROOT / "docs" / "google.md").read_text(encoding="utf-8")
    granted = re.search(r"```\n(https://[^\n]+)\n```", page).group(1).split(",")
    assert sorted(granted) == sorted([MEET_SCOPE, CALENDAR_SCOPE, DRIVE_FILE_SCOPE])
