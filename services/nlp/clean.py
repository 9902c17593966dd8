"""Turn scraped HTML / text into a clean article body.

Scraped pages carry web furniture around the article: share buttons, comment
notices, "Credits: X" lines and "You May Also Like" teaser blocks whose
headlines are other stories. Left in, those teasers become false claims about
unrelated events, so everything after a teaser marker is cut.
"""

from __future__ import annotations

import html as _html
import logging
import re

from services.nlp.types import CleanedText

log = logging.getLogger(__name__)

# Whole-line markers that open a block of teasers for OTHER stories: the line
# and everything after it is dropped.
_TEASER_MARKER = re.compile(
    r"(?:you may also like|you might also like|read more|read next|related(?: articles?| stories| posts| news| content| reading)?"
    r"|more stories|more from [\w .'-]{1,40}|more on this story|recommended(?: for you| stories| articles)?|most read|most popular"
    r"|trending(?: now| stories)?|popular (?:posts|stories)|latest (?:news|stories)|also read|see also|don'?t miss|what to read next)"
    r"\s*[:»>›.]*",
    re.IGNORECASE,
)
# Single boilerplate lines, matched against the whole (short) line.
_BOILERPLATE = re.compile(
    r"(?:comments are closed|leave a (?:comment|reply)|add (?:a |your )?comments?|post a comment|\d+ comments?|no comments(?: yet)?"
    r"|view (?:all )?comments|show comments|join the (?:conversation|discussion)|be the first to comment"
    r"|share(?: this)?(?: article| story| post| page)?(?: on [\w ]{1,30}| via [\w ]{1,30})?|tweet|print|email|advertisement"
    r"|subscribe to (?:our )?newsletter.*|subscribe(?: now)?|sign up (?:for|to) .*|follow us(?: on .*)?|like us on .*"
    r"|click here(?: to .*)?|read more: .*|read more at .*|also read: .*|related: .*)"
    r"\s*[.!:»]*",
    re.IGNORECASE,
)
_CREDIT = re.compile(r"(?:credits?|sources?)\s*:\s*(\S.{0,79})", re.IGNORECASE)
_MAX_BOILERPLATE_WORDS = 20  # a real paragraph is longer; keeps false hits rare


def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


def _normalise_lines(text: str) -> list[str]:
    """Unify newlines, squeeze spaces inside lines, keep blank lines as ''."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\u200b", "")
    return [" ".join(line.split()) for line in text.split("\n")]


def _join(lines: list[str]) -> str:
    """Rebuild the body with exactly one blank line between paragraphs."""
    body = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", body).strip()


def clean_text(text: str, title: str | None = None) -> CleanedText:
    lines = _normalise_lines(text)
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is not None:
        head = lines[first]
        if title is not None and _norm(head) == _norm(title):
            lines[first] = ""
        elif (
            title is None
            and len(head.split()) <= 15
            and not head.endswith((".", "!", "?"))
            and first + 1 < len(lines)
            and not lines[first + 1]
        ):
            # A short line without a full stop, set apart by a blank line: a headline.
            title = head
            lines[first] = ""

    kept: list[str] = []
    removed: list[str] = []
    credit: str | None = None
    for i, line in enumerate(lines):
        if not line:
            kept.append(line)
            continue
        short = len(line.split()) <= _MAX_BOILERPLATE_WORDS
        if short and _TEASER_MARKER.fullmatch(line):
            removed.extend(x for x in lines[i:] if x)
            break
        m = _CREDIT.fullmatch(line) if short else None
        if m and len(m.group(1).split()) <= 8:
            credit = credit or m.group(1).strip().rstrip(".")
            removed.append(line)
        elif short and _BOILERPLATE.fullmatch(line):
            removed.append(line)
        else:
            kept.append(line)
    return CleanedText(body=_join(kept), title=title, credit=credit, removed=removed)


_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|div|br|h[1-6]|li|ul|ol|tr|table|section|article|blockquote|header|footer)\b[^>]*>", re.I)
_DROP = re.compile(r"<(script|style|noscript|template|svg|nav|footer|header|aside)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def _strip_tags(html: str) -> str:
    """Crude fallback: drop non-content elements and tags, blocks become paragraphs."""
    text = _DROP.sub(" ", re.sub(r"<!--.*?-->", " ", html, flags=re.S))
    text = _TAG.sub(" ", _BLOCK_TAG.sub("\n\n", text))
    return _html.unescape(text)


def html_to_text(html: str) -> str:
    """Main article text of a page; paragraphs separated by blank lines."""
    text = None
    try:
        import trafilatura  # imported lazily: heavy, and only the HTML path needs it

        text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    except ImportError as exc:  # e.g. lxml without lxml_html_clean
        log.warning("trafilatura unavailable (%s); using tag stripping", exc)
    if text is None:
        text = _strip_tags(html)
    # trafilatura puts one element per line; make every line its own paragraph.
    lines = [line for line in _normalise_lines(text) if line]
    return "\n\n".join(lines)
