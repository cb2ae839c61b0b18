"""Every card renders with the official `adaptivecards` renderer in headless Chromium,
without parse or validation problems and not empty; screenshots go to docs/cards/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM_ARGS, JS_DIR, chromium_path, missing
from tests.card_gallery import GalleryCard, gallery

REASON = missing("adaptivecards", "markdown-it")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
SHOTS = Path(__file__).parent.parent / "docs" / "cards"
PAGE = (JS_DIR / "render" / "index.html").as_uri()
CARDS = gallery()


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 640, "height": 400},
                                   device_scale_factor=1)
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            # The page must work offline: anything not from the file system is refused.
            tab.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith("file://") else route.abort())
            tab.goto(PAGE)
            tab.wait_for_function("typeof window.renderCard === 'function'")
            tab.page_errors = errors
            yield tab
        finally:
            browser.close()


def _render(page: Any, shown: GalleryCard) -> dict[str, Any]:
    page.page_errors.clear()
    result = page.evaluate("card => window.renderCard(card)", json.loads(json.dumps(shown.card)))
    result["page_errors"] = list(page.page_errors)
    return result


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_card_renders_without_problems(page: Any, shown: GalleryCard) -> None:
    result = _render(page, shown)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#frame").screenshot(path=str(SHOTS / f"{shown.name}.png"))
    assert result["problems"] == []
    assert result["page_errors"] == []
    assert result["rendered"] and result["height"] > 20
    assert result["text"].strip()


def test_role_request_shows_accept_and_decline(page: Any) -> None:
    shown = next(c for c in CARDS if c.name == "role-request")
    assert _render(page, shown)["buttons"] == ["Accept", "Decline"]


def test_declare_form_shows_its_inputs(page: Any) -> None:
    shown = next(c for c in CARDS if c.name == "declare-form")
    assert _render(page, shown)["inputs"] == 4


def test_hostile_text_stays_text(page: Any) -> None:
    shown = next(c for c in CARDS if c.name == "incident-hostile")
    _render(page, shown)
    assert page.locator("#card script").count() == 0
    assert page.locator("#card a[href^='javascript']").count() == 0
    # What people typed reads as typed: no bold, no link, no mention markup taking effect.
    shown_text = page.locator("#card").inner_text()
    assert "**Checkout** _down_ [click](javascript:alert(1))" in shown_text
    assert "<at>Grace Hopper</at>" in shown_text
    assert page.locator("#card strong, #card b").filter(has_text="Checkout").count() == 0


def test_renderer_reports_what_teams_would_not_show(page: Any) -> None:
    broken = {"type": "AdaptiveCard", "version": "1.5",
              "body": [{"type": "TextBlok", "text": "typo"}]}
    assert _render(page, GalleryCard("broken", "", broken))["problems"]  # type: ignore[arg-type]


@pytest.mark.parametrize("shown", CARDS, ids=lambda c: c.name)
def test_times_are_written_for_the_reader(page: Any, shown: GalleryCard) -> None:
    # The official renderer expands {{DATE()}}/{{TIME()}} in the reader's zone as Teams
    # does, and only in the exact form the Adaptive Cards text features page gives: a
    # function left raw means a time Teams would show raw too.
    shown_text = _render(page, shown)["text"]
    assert "{{" not in shown_text
    if "{{DATE(2026-11-27T" in json.dumps(shown.card):
        assert "Nov" in shown_text and "2026" in shown_text
