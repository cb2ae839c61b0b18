"""The review template: the organisation's layout of the Post Incident Review
(`REVIEW_TEMPLATE_FILE`, Markdown; docs/review-template.md), or the built-in one
(`review_template.md` beside this module, written in the same format).

`## Heading` lines start the organisation's sections; `{{name}}` placeholders stand for
what the bot knows (`review_content.PLACEHOLDERS`): a value inside the template's text,
or, on a line of its own, blocks (a list, a table, people's prose). The rest is the
organisation's own text, shown as written in a small Markdown subset (headings,
paragraphs, `-` and `1.` lists, `---`, `**bold**`, `*italic*`, `[text](https://...)`
links); nothing in it is taken as HTML.

Read once at start (`bot.config` checks `REVIEW_TEMPLATE_FILE`; `bot.app` keeps the
parsed template); each problem is one line naming the file and the line, and the start
stops, so that rendering never meets an unknown placeholder. The HTML page and the
Google Docs export (`bot.web.review_html`) and the Markdown download
(`bot.web.review_markdown`) walk the same parsed template.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from bot.web import review_content as content

SETTING = "REVIEW_TEMPLATE_FILE"
BUILT_IN_PATH = Path(__file__).with_name("review_template.md")
MAX_BYTES = 64 * 1024

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+(.*)$")
_NUMBERED = re.compile(r"^[ \t]*\d{1,3}[.)][ \t]+(.*)$")
_RULE = re.compile(r"^[ \t]*(?:-[ \t]*){3,}$|^[ \t]*(?:\*[ \t]*){3,}$")
_ALONE = re.compile(r"^[ \t]*\{\{[ \t]*([a-z][a-z0-9_]*)[ \t]*\}\}[ \t]*$")
# The inline subset, leftmost first; at one place a placeholder wins, then bold.
_INLINE = re.compile(
    r"\{\{[ \t]*(?P<value>[a-z][a-z0-9_]*)[ \t]*\}\}"
    r"|\[(?P<label>[^\[\]]+)\]\((?P<url>[^()\s]+)\)"
    r"|\*\*(?P<strong>\S(?:.*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^\s*](?:.*?[^\s*])?)\*(?![\w*])"
    r"|(?<![\w])_(?P<em2>[^\s_](?:.*?[^\s_])?)_(?![\w])")


# ---------------------------------------------------------------------------------------
# The parsed template


@dataclass(frozen=True, slots=True)
class Text:
    """The organisation's own words, shown as written (never as HTML)."""

    text: str


@dataclass(frozen=True, slots=True)
class Value:
    """A text placeholder: what the bot knows, placed in the organisation's text."""

    name: str


@dataclass(frozen=True, slots=True)
class Strong:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Emphasis:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Link:
    """`[label](url)`, with an http(s) URL (any other stays text)."""

    children: tuple[Inline, ...]
    url: str


Inline = Text | Value | Strong | Emphasis | Link
Line = tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Heading:
    level: int  # 1: the document's title; 2: a section
    text: Line


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: Line


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[Line, ...]
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    pass


@dataclass(frozen=True, slots=True)
class Blocks:
    """A block placeholder on a line of its own."""

    name: str


Element = Heading | Paragraph | Bullets | Rule | Blocks


@dataclass(frozen=True)
class ReviewTemplate:
    """A checked template: what the review says, in the organisation's order."""

    elements: tuple[Element, ...]
    source: str = "built-in"

    @property
    def title(self) -> Line | None:
        """The first `# ` heading: the document's title (and the HTML page's)."""
        return next((e.text for e in self.elements if isinstance(e, Heading) and e.level == 1),
                    None)

    def placeholders(self) -> list[str]:
        """Every placeholder used, in order, once each."""
        names: list[str] = []

        def visit(line: Line) -> None:
            for node in line:
                if isinstance(node, Value):
                    names.append(node.name)
                elif not isinstance(node, Text):
                    visit(node.children)

        for element in self.elements:
            if isinstance(element, Blocks):
                names.append(element.name)
            elif isinstance(element, Heading | Paragraph):
                visit(element.text)
            elif isinstance(element, Bullets):
                for item in element.items:
                    visit(item)
        return list(dict.fromkeys(names))


class ReviewTemplateError(ValueError):
    """The template cannot be used: one line per problem, each naming the file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------
# Reading and checking


def load(path: str) -> ReviewTemplate:
    """Read and check the template at `path`. Raises `ReviewTemplateError`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReviewTemplateError([f"{SETTING} {path}: cannot be read ({exc})"]) from None
    if len(data) > MAX_BYTES:
        raise ReviewTemplateError([f"{SETTING} {path}: is {len(data)} bytes; a review template "
                                   f"is at most {MAX_BYTES // 1024} KiB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReviewTemplateError([f"{SETTING} {path}: is not UTF-8 text ({exc.reason} at "
                                   f"byte {exc.start})"]) from None
    return parse(text, path)


def parse(text: str, path: str = "<template>") -> ReviewTemplate:
    """`load` without the reading."""
    problems: list[str] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        problems += [f"{SETTING} {path} line {number}: {problem}" for problem in _line_problems(line)]
    template = ReviewTemplate(_elements(lines), source=path)
    if not problems and not template.placeholders():
        problems.append(f"{SETTING} {path}: has no placeholder, so the review would say "
                        "nothing the bot knows; add some, such as {{timeline}} and {{actions}} "
                        "(docs/review-template.md lists them)")
    if problems:
        raise ReviewTemplateError(problems)
    return template


def _line_problems(line: str) -> list[str]:
    problems = []
    for match in _PLACEHOLDER.finditer(line):
        name = match.group(1).strip()
        placeholder = content.PLACEHOLDERS.get(name)
        if placeholder is None:
            problems.append(_unknown(name))
        elif placeholder.block is not None and not _ALONE.match(line):
            problems.append(f"{{{{{name}}}}} stands for {placeholder.says}, which is blocks "
                            "(a list, a table or paragraphs): put it on a line of its own")
    rest = _PLACEHOLDER.sub("", line)
    if "{{" in rest:
        problems.append("'{{' is not closed with '}}' on the same line (a placeholder is "
                        "{{name}})")
    elif "}}" in rest:
        problems.append("'}}' closes no '{{' (a placeholder is {{name}})")
    return problems


def _unknown(name: str) -> str:
    if not name:
        return "empty placeholder {{}}: name what the bot should put here"
    near = difflib.get_close_matches(name.lower(), content.PLACEHOLDERS, n=1, cutoff=0.6)
    hint = f" (did you mean {{{{{near[0]}}}}}?)" if near else ""
    shown = name if len(name) <= 40 else name[:40] + "..."
    rule = "" if _NAME.fullmatch(name) else "; names are lower case letters, digits and _"
    return (f"unknown placeholder {{{{{shown}}}}}{hint}{rule}; docs/review-template.md lists "
            "the placeholders")


def _elements(lines: list[str]) -> tuple[Element, ...]:
    elements: list[Element] = []
    paragraph: list[str] = []
    items: list[str] = []
    numbered = False

    def flush() -> None:
        nonlocal items
        if paragraph:
            elements.append(Paragraph(inline(" ".join(paragraph))))
            paragraph.clear()
        if items:
            elements.append(Bullets(tuple(inline(item) for item in items), numbered))
            items = []

    for raw in lines:
        line = raw.rstrip()
        heading = _HEADING.match(line)
        alone = _ALONE.match(line)
        bullet = _BULLET.match(line)
        ordered = _NUMBERED.match(line)
        if not line.strip():
            flush()
        elif alone and content.PLACEHOLDERS.get(alone.group(1), content.Placeholder("")).block:
            flush()
            elements.append(Blocks(alone.group(1)))
        elif heading:
            flush()
            elements.append(Heading(len(heading.group(1)), inline(heading.group(2))))
        elif _RULE.match(line) and not items:
            flush()
            elements.append(Rule())
        elif bullet or ordered:
            kind_numbered = ordered is not None and bullet is None
            if paragraph or (items and kind_numbered != numbered):
                flush()
            numbered = kind_numbered
            found = bullet or ordered
            assert found is not None
            items.append(found.group(1).strip())
        elif items and raw[:1] in (" ", "\t"):
            items[-1] += " " + line.strip()  # the item goes on
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    flush()
    return tuple(elements)


def inline(text: str) -> Line:
    """The organisation's text as its parts: words, values, bold, italics, links."""
    nodes: list[Inline] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            nodes.append(Text(text[pos : match.start()]))
        pos = match.end()
        if match.group("value") is not None:
            nodes.append(Value(match.group("value")))
        elif match.group("url") is not None:
            url = content.safe_url(match.group("url"))
            nodes.append(Link(inline(match.group("label")), url) if url
                         else Text(match.group()))
        elif match.group("strong") is not None:
            nodes.append(Strong(inline(match.group("strong"))))
        else:
            nodes.append(Emphasis(inline(match.group("em") or match.group("em2"))))
    if pos < len(text):
        nodes.append(Text(text[pos:]))
    return tuple(nodes)


BUILT_IN = parse(BUILT_IN_PATH.read_text(encoding="utf-8"), "built-in")
