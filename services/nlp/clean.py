"""Turn scraped HTML / text into a clean article body.

Scraped pages carry page furniture around the story: bylines, reporting and editing credits,
captions, video teasers, copyright and standards lines, share and sign-up prompts, comment
counts, "Related" / "Most read" teaser blocks whose headlines are other stories. Each line
of the body is scored by the learned furniture model (`services/nlp/furniture.py`: the
line's shape, its position and neighbours, its words, and whether the same outlet printed it
in other articles, kept in an `OutletMemory`). Furniture lines are removed one by one; a
teaser marker removes its block of headlines only, never the story after it. Captions and
credit lines are kept as the article's metadata.
"""

from __future__ import annotations

import hashlib
import html as _html
import logging
import re

from services.nlp import furniture as fur
from services.nlp.types import CleanedText

log = logging.getLogger(__name__)

# Metadata routing of lines already judged furniture (not the furniture decision itself).
_CREDIT = re.compile(r"(?:credits?|sources?)\s*:\s*(\S.{0,79})", re.IGNORECASE)
_CAPTION = re.compile(
    r"(?:(?:image|photo|picture|video|main image|top image|caption|image caption|photograph|pictured|above|"
    r"pictures?|photos?)\b\s*(?:caption)?\s*[:|—–-]"
    r"|.*\((?:[\w .&'/-]{0,40}(?:images?|photos?|photography|pictures?|pa|ap|afp|epa|reuters|getty|shutterstock"
    r"|alamy)[\w .&'/-]{0,20})\)\s*$)",
    re.IGNORECASE,
)
_CREDIT_LINE = re.compile(
    r"(?:by\s+[A-Z]|(?:additional |with )?reporting\b|edit(?:ed|ing) by|written by|words by|compiled by"
    r"|(?:credits?|sources?)\s*:|(?:photo(?:graph)?s?|pictures?|images?) by)",
    re.IGNORECASE,
)


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


def body_lines(text: str, title: str | None = None) -> tuple[list[str], str | None]:
    """The normalised lines of a body ('' for blank lines) with the title line blanked, and the title."""
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
    return lines, title


def layout(lines: list[str]) -> tuple[list[int], list[fur.Line]]:
    """Indexes of the non-empty lines and their `furniture.Line` records."""
    idx = [i for i, line in enumerate(lines) if line]
    recs = []
    for i in idx:
        before = i == 0 or not lines[i - 1]
        after = i == len(lines) - 1 or not lines[i + 1]
        recs.append(fur.Line(lines[i], own_paragraph=before and after, attached_prev=not before))
    return idx, recs


SHORT_BODY_LINES = 4
SHORT_BODY_THRESHOLD = 0.9


def _sentence_shaped(line: str) -> bool:
    return len(line.split()) >= 8 and fur.is_terminal(line) and line[:1].isupper()


def article_key(text: str) -> str:
    return "t-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def clean_text(text: str, title: str | None = None, outlet: str | None = None,
               memory: fur.OutletMemory | None = None, article: str | None = None) -> CleanedText:
    """Clean a plain-text body. With `outlet` and `memory`, lines the outlet printed in other
    articles count as furniture evidence, and this article's lines are remembered afterwards;
    `article` (an id or URL) keeps a new version of the same article from counting as repetition."""
    lines, title = body_lines(text, title)
    idx, recs = layout(lines)
    texts = [r.text for r in recs]
    article = article or article_key(text)
    repeats = memory.counts(outlet, article, texts) if memory is not None else None
    if repeats and sum(1 for ex, _, _ in repeats if ex) >= 0.8 * len(repeats):
        # Nearly all of the article printed before under another id: a republished or re-posted story, not
        # an outlet's page furniture around a new one (its repeats would otherwise empty it).
        repeats = None
    fm = fur.model()
    scores = fur.furniture_scores(recs, repeats, fm)
    threshold = fm.threshold if fm is not None else 0.5
    drop = fur.decide(recs, scores, threshold)
    if len(recs) <= SHORT_BODY_LINES:
        # The model learned that furniture sits at the top and the bottom of a page; a body of a few
        # lines is nearly all top and bottom (a two-paragraph brief lost its lead at 0.73), so there a
        # line shaped like a story sentence goes only when the model is sure of it.
        drop = [d and (s >= SHORT_BODY_THRESHOLD or not _sentence_shaped(r.text))
                for d, s, r in zip(drop, scores, recs, strict=True)]
    if memory is not None:
        memory.remember(outlet, article, texts)

    removed: list[str] = []
    captions: list[str] = []
    credits: list[str] = []
    credit: str | None = None
    for i, line, is_furniture in zip(idx, texts, drop, strict=True):
        if not is_furniture:
            continue
        lines[i] = ""
        removed.append(line)
        m = _CREDIT.fullmatch(line)
        if m and len(m.group(1).split()) <= 8:
            credit = credit or m.group(1).strip().rstrip(".")
            credits.append(line)
        elif _CAPTION.match(line):
            captions.append(line)
        elif _CREDIT_LINE.match(line):
            credits.append(line)
    return CleanedText(body=_join(lines), title=title, credit=credit, removed=removed,
                       captions=captions, credits=credits)


_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|div|br|h[1-6]|li|ul|ol|tr|table|section|article|blockquote|header|footer)\b[^>]*>", re.I)
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
