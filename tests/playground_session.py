"""One session in the M365 Agents Playground, run INSIDE a network namespace of its own.

`python -m tests.playground_session WORKDIR` refuses to run unless the only network
interface is loopback (the Playground listens on every interface and has no host option),
then starts the bot (local mode, SQLite in WORKDIR) and the Playground, and drives the
Playground's web UI in headless Chromium: Ada declares an incident naming Grace as
Investigator, the incident card and the role card appear, Ada's own Accept is refused,
Grace's Accept changes the role card and the incident card. Screenshots and logs go to
WORKDIR; the last line printed is a JSON report. tests/test_playground.py runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.browser import CHROMIUM_ARGS, JS_DIR, NODE_MODULES, chromium_path

BOT_PORT = 3978
PLAYGROUND_PORT = 56150
PLAYGROUND_URL = f"http://127.0.0.1:{PLAYGROUND_PORT}/"
CONFIG = JS_DIR / "playground" / ".m365agentsplayground.yml"
REPO = Path(__file__).parent.parent
ADA, GRACE = "29:1ada-lovelace", "29:1grace-hopper"
TIMEOUT_MS = 30_000


def only_loopback() -> bool:
    """True inside a namespace whose one interface is `lo` (nothing else can reach us)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after 60 s: {log.read_text()[-2000:]}")


@contextmanager
def _running(name: str, command: list[str], *, workdir: Path, port: int,
             env: dict[str, str]) -> Iterator[None]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bot_and_playground(workdir: Path) -> Any:
    """The bot in local mode (no credentials: the Playground sends no tokens) and the
    Playground pointed at it; both on loopback ports of this namespace."""
    shutil.copy(CONFIG, workdir / CONFIG.name)
    base = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "TZ", "SYSTEMROOT", "TMPDIR")}
    bot_env = {**base, "DATABASE_URL": f"sqlite://{workdir}/bot.sqlite3",
               "PORT": str(BOT_PORT), "PYTHONPATH": str(REPO)}
    playground_env = {**base, "TEAMSAPPTESTER_BROWSER": "none",
                      "TEAMSAPPTESTER_PORT": str(PLAYGROUND_PORT)}
    playground = [str(NODE_MODULES / ".bin" / "agentsplayground"), "start",
                  "-e", f"http://127.0.0.1:{BOT_PORT}/api/messages", "-c", "msteams",
                  "-p", str(PLAYGROUND_PORT), "--disable-telemetry"]

    @contextmanager
    def both() -> Iterator[None]:
        with _running("bot", [sys.executable, "-m", "bot", "run"], workdir=workdir,
                      port=BOT_PORT, env=bot_env), \
             _running("playground", playground, workdir=workdir, port=PLAYGROUND_PORT,
                      env=playground_env):
            yield

    return both()


def _local_only(route: Any) -> None:
    # The UI asks a CDN for Segoe UI; nothing leaves the namespace anyway, but refusing
    # at once keeps the test fast and shows no request goes elsewhere.
    if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
        route.continue_()
    else:
        route.abort()


def _as_sender(user_id: str) -> Callable[[Any], None]:
    """Route handler: the card action is sent as `user_id`, who pressed it."""
    def handle(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["from"] = {"id": user_id}
        route.continue_(post_data=json.dumps(body))
    return handle


def _post(page: Any, *parts: tuple[str, str]) -> None:
    """Write a new channel post; ("@", name) parts are picked from the mention menu."""
    page.get_by_role("textbox").first.click()
    for kind, value in parts:
        if kind == "@":
            page.keyboard.type("@" + value[:4])
            page.locator("#typeahead-menu").get_by_text(value, exact=True).first.click()
        else:
            page.keyboard.type(value)
    page.get_by_role("button", name="Post", exact=True).click()


def drive(workdir: Path) -> dict[str, Any]:
    """The story, in the Playground's UI; returns what was seen."""
    from playwright.sync_api import expect, sync_playwright

    seen: dict[str, Any] = {}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            # Tall enough to show the whole declaration thread in one screenshot.
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page.route("**/*", _local_only)
            page.goto(PLAYGROUND_URL)
            expect(page.get_by_text("Ada Lovelace").first).to_be_visible()
            page.get_by_role("treeitem", name="Payments - Incidents").click()
            expect(page.get_by_text("Thanks for adding me").first).to_be_visible()
            # Teams-style rendering drops "<text>" as an HTML tag; the help card must not.
            expect(page.get_by_text("@incident note ‹text›").first).to_be_visible()

            _post(page, ("@", "incident"), ("text", " setup"))
            expect(page.get_by_text("is now the team's incidents channel").first).to_be_visible()
            _post(page, ("@", "incident"), ("text", " declare Checkout returns 500 sev2 "),
                  ("@", "Grace Hopper"))
            incident_card = page.locator(".ac-adaptiveCard", has_text="INC-1 · SEV2")
            expect(incident_card.first).to_contain_text("asked: Grace Hopper")
            role_card = page.locator(".ac-adaptiveCard", has_text="please take the")
            expect(role_card).to_contain_text("Investigator")
            # The declaration thread: the live card, the role cards (Grace's, and anyone's
            # for the Commander: no squad was named), and the room's link once it exists.
            commander = page.locator(".ac-adaptiveCard", has_text="Nobody is the")
            expect(commander).to_contain_text("I'll be the Incident Commander")
            expect(incident_card.first).to_contain_text("Join the Incident Command Room")
            expect(page.get_by_text("Incident Command Room on Jitsi:").first).to_be_visible()
            page.screenshot(path=str(workdir / "1-declared.png"), full_page=True)

            role_card.get_by_role("button", name="Accept").click()
            expect(page.get_by_text("Only Grace Hopper can answer this request.")).to_be_visible()
            seen["refused_for_ada"] = True
            page.screenshot(path=str(workdir / "2-ada-refused.png"), full_page=True)

            # The Playground has one signed-in user per page, and a second page does not
            # share the first one's history; so Grace's press is this button with her as
            # the invoke's sender, which is what her Teams client would send.
            page.route("**/_conversation/v1/invoke", _as_sender(GRACE))
            role_card.get_by_role("button", name="Accept").click()
            accepted = page.locator(".ac-adaptiveCard", has_text="Accepted by Grace Hopper")
            expect(accepted.first).to_be_visible()
            expect(accepted.first.get_by_role("button", name="Accept")).to_have_count(0)
            expect(incident_card.first).not_to_contain_text("not yet accepted")
            expect(incident_card.first).to_contain_text("Grace Hopper")
            seen["role_card"] = accepted.first.inner_text()
            seen["incident_card"] = incident_card.first.inner_text()
            page.screenshot(path=str(workdir / "3-accepted.png"), full_page=True)
        finally:
            browser.close()
    return seen


def main(argv: list[str]) -> int:
    workdir = Path(argv[1]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not only_loopback():
        print(json.dumps({"error": "refusing to start the Playground: interfaces other "
                          f"than lo exist: {socket.if_nameindex()}"}))
        return 2
    with bot_and_playground(workdir):
        seen = drive(workdir)
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
