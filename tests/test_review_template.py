"""The review template (REVIEW_TEMPLATE_FILE): an organisation's headings, prompts and
placeholders lay out the review page, its Markdown download and the Google Docs export;
its own text is never HTML; a broken template stops the start naming the line; the
built-in template is a file in the same format and lays out what the review always said."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.incidents.pir import ExportReview
from bot.store.incident_models import Incident
from bot.store.pir_models import Review
from bot.web import review_template
from bot.web.review_content import PLACEHOLDERS
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown
from bot.web.review_template import BUILT_IN, BUILT_IN_PATH, ReviewTemplateError, parse
from tests.bot_process import SCRIPT, bot_env
from tests.conftest import make_settings
from tests.fakes.activities import ADA, GRACE
from tests.scenario import Team, eventually
from tests.test_review import _commanded_incident, _get, _link, _serving
from tests.test_review_documents import HOSTILE, incident

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "What would have caught this sooner? Think about alerts and dashboards."
HOSTILE_TEMPLATE = ('<script>alert("template")</script> <img src=x onerror=alert(1)> '
                    "[click](javascript:alert(1)) <b>raw</b>")
# Acme's layout: its own headings, a prompt, a subset of the placeholders in its own order.
ACME = f"""\
# Acme review of INC-{{{{number}}}}: {{{{ title }}}}

Severity **{{{{severity}}}}**, declared by {{{{declared_by}}}}; Commander {{{{commander}}}}.

## Detection

_{PROMPT}_

{HOSTILE_TEMPLATE}

## Actions we owe

{{{{actions}}}}

## Suspects

{{{{hypotheses}}}}

## Story so far

{{{{timeline_chart}}}}

{{{{timeline}}}}
"""


@pytest.fixture
def acme_file(tmp_path: Path) -> Path:
    path = tmp_path / "review-template.md"
    path.write_text(ACME, encoding="utf-8")
    return path


@pytest.fixture
async def acme(start_bot, sqlite_url, connector, acme_file) -> Team:
    bot = await start_bot(make_settings(sqlite_url, review_template_file=str(acme_file)))
    _serving(bot)
    return Team(bot, connector)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def _headings(text: str, pattern: str) -> list[str]:
    return re.findall(pattern, text, flags=re.MULTILINE)


async def _reviewed(team: Team, connector) -> tuple[Incident, str, str]:
    """An incident with a hypothesis, a note and an action, mitigated; its page and
    download fetched through the signed links the bot posts."""
    incident = await _commanded_incident(team)
    await team.say("hypothesis replica lag", sender=ADA, thread=incident)
    await team.say(f"note {HOSTILE}", sender=ADA, thread=incident)
    await team.say("action add replica lag alert", sender=GRACE, thread=incident)
    await team.say("mitigated", sender=GRACE, thread=incident)
    page = await eventually(lambda: _link(connector, incident))
    status, html, headers = await _get(page)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    await team.say("pir", sender=GRACE, thread=incident)
    download = await eventually(lambda: _link(connector, incident, "md"))
    status, markdown, headers = await _get(download)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    return incident, html, markdown


async def test_the_organisations_template_lays_out_the_page_and_the_download(acme, connector):
    incident, html, markdown = await _reviewed(acme, connector)

    assert _headings(html, r"<h2>([^<]*)</h2>") == [
        "Detection", "Actions we owe", "Suspects", "Story so far"]
    assert _headings(markdown, r"^## (.*)$") == [
        "Detection", "Actions we owe", "Suspects", "Story so far"]
    assert "<title>Acme review of INC-1: Checkout latency</title>" in html
    assert "<h1>Acme review of INC-1: Checkout latency</h1>" in html
    assert markdown.startswith("# Acme review of INC-1: Checkout latency\n")
    # The values in the organisation's sentence, its bold kept; the prompt as written.
    assert ("<p>Severity <strong>SEV2</strong>, declared by Ada Lovelace; Commander "
            "Grace Hopper.</p>") in html
    assert "Severity **SEV2**, declared by Ada Lovelace; Commander Grace Hopper." in markdown
    assert f"<p><em>{PROMPT}</em></p>" in html and f"_{PROMPT}_" in markdown
    # What the placeholders stand for, in the template's order.
    for document in (html, markdown):
        order = [document.index(text) for text in (
            "Detection", "add replica lag alert", "replica lag —", "Story so far",
            "declared INC-1 SEV2")]
        assert order == sorted(order), document
        assert "H1" in document and "A1" in document
    # Only what the template asks for: no built-in section it left out.
    for left_out in ("Customer impact", "Roles and handovers", "Notes and evidence",
                     "Root cause", "People commandeered", "Attendance"):
        assert left_out not in html and left_out not in markdown
    # The chart is the page's; the download has the table only.
    assert html.count("<svg") == 1 and "<svg" not in markdown
    assert '<table class="events">' in html and "| UTC | UTC | Kind | Who | What |" in markdown


async def test_template_text_and_incident_text_are_inert_in_the_page(acme, connector):
    _, html, markdown = await _reviewed(acme, connector)
    parsed = Tags()
    parsed.feed(html)

    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert not {"script", "img", "b", "iframe"} & set(parsed.tags)
    assert "onerror" not in parsed.attributes
    assert "&lt;script&gt;alert(&quot;template&quot;)&lt;/script&gt;" in html
    assert "[click](javascript:alert(1))" in html  # shown as text, never a link
    assert all(href.startswith("https://") for href in parsed.hrefs)
    # The incident's own hostile note (in the timeline) is escaped as before.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The download says the same characters, none of them Markdown or HTML.
    assert r'\<script\>alert("template")\</script\> \<img src=x onerror=alert(1)\>' in markdown
    assert r"\[click\](javascript:alert(1)) \<b\>raw\</b\>" in markdown
    assert [m.group() for m in re.finditer(r"(?<!\\)<(?!https://)[a-z]+", markdown)] == []


async def test_the_google_docs_export_follows_the_template(start_bot, sqlite_url, connector,
                                                          drive, tmp_path, acme_file):
    from tests.fakes.google import write_service_account

    account = write_service_account(tmp_path, drive.token_uri)
    drive.public_key = account.public_key
    settings = make_settings(sqlite_url, google_service_account_file=str(account.path),
                             google_delegated_user="ic@example.com",
                             google_api_endpoint=drive.url,
                             review_template_file=str(acme_file))
    team = Team(await start_bot(settings), connector)
    incident = await _commanded_incident(team)
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))

    await team.say("pir ready", sender=GRACE, thread=incident)
    await team.fire_timers(ExportReview.KIND)

    await eventually(lambda: _exported(incident))
    [document] = drive.files.values()
    assert "<h2>Actions we owe</h2>" in document.content
    assert PROMPT in document.content
    assert "Roles and handovers" not in document.content


async def _exported(incident: Incident):
    review = await Review.get_or_none(incident_id=incident.id)
    return review if review and review.doc_url else None


# --- a broken template stops the start ----------------------------------------------------


def _start(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    path = tmp_path / "review-template.md"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run([SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                                         REVIEW_TEMPLATE_FILE=str(path)),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return result, path


def test_a_broken_template_stops_the_start_one_line_per_problem(tmp_path: Path) -> None:
    result, path = _start(tmp_path, "# INC-{{number}}\n\n## Story\n\n{{timline}}\n\n"
                                    "Owner: {{commander\n\nSee {{actions}} below.\n")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "incident-bot cannot start: the configuration is not usable",
        f"  REVIEW_TEMPLATE_FILE {path} line 5: unknown placeholder {{{{timline}}}} (did you "
        "mean {{timeline}}?); docs/review-template.md lists the placeholders",
        f"  REVIEW_TEMPLATE_FILE {path} line 7: '{{{{' is not closed with '}}}}' on the same "
        "line (a placeholder is {{name}})",
        f"  REVIEW_TEMPLATE_FILE {path} line 9: {{{{actions}}}} stands for the follow-up "
        "actions, with their owners and tracker links, which is blocks (a list, a table or "
        "paragraphs): put it on a line of its own",
        "See docs/configuration.md.",
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_template_without_placeholders_or_that_cannot_be_read_stops_the_start(
        tmp_path: Path) -> None:
    result, path = _start(tmp_path, "# Our review\n\n## What happened\n\nWrite it here.\n")

    assert result.returncode == 2
    assert f"  REVIEW_TEMPLATE_FILE {path}: has no placeholder" in result.stderr

    missing = tmp_path / "nowhere.md"
    result = subprocess.run([SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                                         REVIEW_TEMPLATE_FILE=str(missing)),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"  REVIEW_TEMPLATE_FILE {missing}: cannot be read" in result.stderr


@pytest.mark.parametrize(("text", "says"), [
    ("{{Timeline}}", "unknown placeholder {{Timeline}} (did you mean {{timeline}}?)"),
    ("{{}}", "empty placeholder {{}}"),
    ("{{time-line}}", "unknown placeholder {{time-line}} (did you mean {{timeline}}?); "
                      "names are lower case letters, digits and _"),
    ("## Story {{timeline}}", "{{timeline}} stands for"),
    ("Done }} here {{title}}", "'}}' closes no '{{'"),
])
def test_each_kind_of_mistake_is_named_with_its_line(text: str, says: str) -> None:
    with pytest.raises(ReviewTemplateError) as refused:
        parse(f"# Review\n\n{{{{actions}}}}\n\n{text}\n", "t.md")

    [problem] = refused.value.problems
    assert problem.startswith("REVIEW_TEMPLATE_FILE t.md line 5: "), problem
    assert says in problem, problem


def test_the_template_is_read_at_start_not_when_a_review_is_shown(acme_file: Path) -> None:
    settings = make_settings("sqlite://:memory:", review_template_file=str(acme_file))
    from bot.config import review_template_of

    layout = review_template_of(settings)
    acme_file.write_text("{{nonsense}}", encoding="utf-8")  # broken after the start

    assert "<h2>Actions we owe</h2>" in render_html(incident(), layout)
    assert layout.placeholders() == ["number", "title", "severity", "declared_by",
                                     "commander", "actions", "hypotheses", "timeline_chart",
                                     "timeline"]


# --- the built-in template ------------------------------------------------------------------


BUILT_IN_SECTIONS = [
    "Summary", "Customer impact and systems affected", "Metrics", "Roles and handovers",
    "Timeline", "Conversation", "Hypotheses", "Notes and evidence", "Status updates",
    "External communication", "People commandeered", "Attendance", "Follow-up actions",
    "Root cause", "Contributing factors", "What went well", "What did not go well"]


def test_the_built_in_template_is_a_file_in_the_same_format() -> None:
    assert BUILT_IN == parse(BUILT_IN_PATH.read_text(encoding="utf-8"), "built-in")
    assert BUILT_IN.placeholders() == [
        "number", "title", "severity", "severity_history", "status", "declared_at",
        "declared_by", "mitigated_at", "resolved_at", "closed_at", "due_at", "room",
        "timezone", "summary", "impact", "affected", "durations", "roles", "timeline_chart",
        "timeline", "conversation", "hypotheses", "notes", "status_updates",
        "external_updates", "commandeered", "attendance", "actions", "root_cause",
        "contributing_factors", "went_well", "went_badly"]
    # Shipped with the package, so an installed bot finds it.
    assert '"*.md"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_built_in_template_renders_the_reviews_sections() -> None:
    record = incident()
    markdown, html = render_markdown(record), render_html(record)

    assert _headings(markdown, r"^## (.*)$") == BUILT_IN_SECTIONS
    assert _headings(html, r"<h2>([^<]*)</h2>") == BUILT_IN_SECTIONS
    assert markdown.startswith("# PIR: INC-7 Checkout errors\n\n- **Severity:** SEV1; ")
    assert "<title>PIR: INC-7 Checkout errors</title>" in html
    assert render_markdown(record, BUILT_IN) == markdown  # the default


# --- the docs -------------------------------------------------------------------------------


def _docs() -> str:
    return (ROOT / "docs" / "review-template.md").read_text(encoding="utf-8")


def test_the_documented_example_template_is_usable() -> None:
    example = _docs().split("```markdown\n", 1)[1].split("\n```", 1)[0]

    layout = parse(example, "example.md")
    markdown = render_markdown(incident(), layout)

    assert _headings(markdown, r"^## (.*)$") == [
        "What happened", "Who was hurt, and how badly", "How it unfolded",
        "What we suspected", "Why it happened", "Detection", "Who was in the room",
        "What we will change"]
    assert "_What would have caught this sooner?_ Discuss" in markdown
    assert "[our tracking guide](https://wiki.example.com/pir-actions)" in markdown
    assert '<a href="https://wiki.example.com/pir-actions"' in render_html(incident(), layout)


def test_the_docs_list_every_placeholder_and_only_those() -> None:
    listed = re.findall(r"^\| `\{\{([a-z_]+)\}\}` \|", _docs(), flags=re.MULTILINE)

    assert listed == list(PLACEHOLDERS)
    assert review_template.SETTING in (ROOT / "docs" / "configuration.md").read_text(
        encoding="utf-8")
