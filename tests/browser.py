"""Headless Chromium for the render and Playground tests, and why a test must skip.

Debian's `chromium` is used (Playwright's own browser download is not needed); the npm
packages come from tests/js (`npm ci`), which `.ci/run` installs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

JS_DIR = Path(__file__).parent / "js"
NODE_MODULES = JS_DIR / "node_modules"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The Chromium binary: $CHROMIUM, else Debian's `chromium` on PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing(*packages: str) -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium, or set CHROMIUM)"
    for package in packages:
        if not (NODE_MODULES / package / "package.json").exists():
            return f"npm package {package} is missing: run `npm ci` in {JS_DIR}"
    return None
