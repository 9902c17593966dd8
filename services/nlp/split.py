"""Rule-based English sentence splitter with exact character offsets.

Approach: copy the text into a same-length "masked" string in which dots that
can never end a sentence (URLs, e-mails, "[...]") are replaced, so that every
offset in the mask is an offset in the original. Candidate boundaries are then
found with regexes and each candidate is accepted or rejected by looking only
at the word before it and the word after it.

A newline always ends a sentence (the annotation guideline's rule): scraped pages put
bylines, captions, list items and headings on lines of their own, and a sentence that runs
over a line break is far rarer in news bodies than a line that must not be glued to the next.
Python only loops over candidate punctuation, never over characters.
"""

from __future__ import annotations

import re

from services.nlp.types import Span

_MASK = "\x00"

# Dots inside these never end a sentence.
_URL = re.compile(r"(?:https?://|www\.)\S*[^\s.,!?;:\"'”’)\]]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BRACKET_ELLIPSIS = re.compile(r"[\[(](?:\.{3}|…)[\])]")

# A run of terminal punctuation (". . . ." counts as one run), then closing
# quotes/brackets, followed by whitespace or the end of the text.
_RUN = re.compile(r"(?P<run>[.!?…]+(?: \.(?=[\s.\"'”’)\]]|$))*)[\"'”’)\]]*(?=\s|$)")
# "world.Today": a dot glued to the next sentence.
_GLUED = re.compile(r"(?<=[a-z0-9])\.(?=[A-Z][a-z])")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_NEWLINE = re.compile(r"\n")
_BULLET = re.compile(r"[•⁃▪◦]")
# List markers: "1.", "2.)", "3)", "a.", optionally behind a bullet.
# Found in two steps for speed: the closing "." / ")" / ".)" first, then the label before it.
_MARKER_END = re.compile(r"\.\)(?=\s)|[.)](?=\s)")
_MARKER_LABEL = re.compile(r"(?:(?<=\s)|^)((?:[•⁃▪◦]\s*)?)(\d{1,2}|[a-z])\Z")
# "At 5 a.m. Mr. Smith ..." the time opens the sentence, so it cannot end it.
_TIME_OPENER = re.compile(r"(?:[.!?][\"'”’)]*\s|\n)\s*(?:\S+\s+){0,3}\d{1,2}(?:[:.]\d\d)?\s*\Z")
_NEXT_WORD = re.compile(r"\s*(\S*)")  # matches anywhere, maybe empty
_MULTI_DOT = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]\Z")

# Prepositive titles: followed by a name, never end a sentence.
_TITLES = frozenset(
    "mr mrs ms dr prof st mt ft gen sen rep gov capt lt col sgt maj cmdr adm rev hon pres supt insp fr messrs".split()
)
# Abbreviations that end a sentence only when a typical sentence opener follows.
_ABBREV = frozenset(
    "co corp inc ltd plc llc jr sr bros dept est approx etc vs al cf ave blvd rd "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun".split()
)
# Abbreviations that precede a number ("No. 10", "p. 55", "Jan. 5").
_NUM_ABBREV = frozenset("no nos nr p pp vol vols fig figs ch sec art para op ed".split()) | _ABBREV
# Capitalised words that usually open a sentence; they decide "U.S. How" (split)
# versus "U.S. Government" (no split).
_STARTERS = frozenset(
    """The A An It Its He She They We I You This That These Those There Here But And Or So Yet
    However In On At For If When While After Before As Our My His Her Their How What Why Where
    Who Which Is Are Was Were Do Does Did Can Will Would Should Could Meanwhile Also Then Now
    Still Some Many Most All Both Each Not Since Although Though Despite According Last Next
    One Two Three Let Please Thus Therefore Instead Yes Ok Okay Later Earlier Today Yesterday""".split()
)


def _hide(m: re.Match) -> str:
    return m.group(0).replace(".", _MASK).replace("…", _MASK)


def _mask(text: str) -> str:
    # Each pass runs only when its cheap substring test says it can match.
    if "://" in text or "www." in text:
        text = _URL.sub(_hide, text)
    if "@" in text:
        text = _EMAIL.sub(_hide, text)
    if "..." in text or "…" in text:
        text = _BRACKET_ELLIPSIS.sub(_hide, text)
    return text


def _prev_word(masked: str, end: int) -> tuple[str, int]:
    """The whitespace-delimited word before `end` (at most 60 chars back) and its start."""
    lo = max(0, end - 60)
    seg = masked[lo:end].rstrip()
    if not seg:
        return "", lo
    word = seg.rsplit(None, 1)[-1]
    return word, lo + len(seg) - len(word)


def _next_word(masked: str, pos: int) -> str:
    m = _NEXT_WORD.match(masked, pos)
    assert m is not None  # every part of the pattern is optional
    return m.group(1)


def _is_boundary(masked: str, start: int, end: int, run: str) -> bool:
    """Decide whether punctuation `run` at masked[start:end] ends a sentence."""
    nxt = _next_word(masked, end)
    if not nxt:
        return True
    if nxt[0].islower():  # "Yahoo! in", "great.' she said", "co. at noon"
        return False
    dots = run.count(".") + 3 * run.count("…")
    if dots >= 2 and not set(run) & set("!?"):
        return dots >= 4  # "that.... She" ends; a 3-dot ellipsis does not
    if run != ".":
        return True  # ! ? !! ?!
    raw, word_start = _prev_word(masked, start)
    word = raw.lstrip("\"'“‘([")
    low = word.lower()
    if low in _TITLES or low.rsplit(".", 1)[-1] in _TITLES:  # also "Tuesday.Mr. Smith"
        return False
    if nxt[0].isdigit():  # "item. 2. Next" ends; "No. 10", "p. 55", "N°. 1026" do not
        if low in _NUM_ABBREV or _MULTI_DOT.search(word):  # "(H.R. 1)", "U.S. 1"
            return False
        return not (len(word) <= 2 and not word.isdigit())
    if low in ("e.g", "i.e", "viz", "cf"):  # "e.g. The Times" introduces an example, never ends
        return False
    if low in ("a.m", "p.m"):
        if nxt.strip("\"'“‘(") in _STARTERS:
            return True
        if nxt.rstrip(".").lower() not in _TITLES:  # "6 p.m. Eastern", "5 a.m. Tuesday"
            return False
        ws = max(0, word_start - 60)
        window = (". " if ws == 0 else "") + masked[ws:word_start]
        return not _TIME_OPENER.search(window)  # "left at 6 P.M. Mr. Smith then" ends
    if low in _ABBREV or _MULTI_DOT.search(word):
        return nxt.strip("\"'“‘(") in _STARTERS
    if len(word) == 1 and word.isalpha():
        before = _prev_word(masked, word_start)[0]
        if word.islower() or not before or not before[0].islower():
            return False  # initials: "J. K. Rowling", "Albert I. Jones"
        return word == "I" or nxt in _STARTERS  # "you and I. Did"
    return True


def _list_cuts(masked: str) -> tuple[set[int], set[int]]:
    """Starts of numbered/lettered list items, and the marker dots to ignore."""
    markers = []
    for m in _MARKER_END.finditer(masked):
        e = m.start()
        label = _MARKER_LABEL.search(masked, max(0, e - 8), e)
        if label:
            markers.append((label.start(), label.start(2), label.group(2)))
    cuts: set[int] = set()
    dots: set[int] = set()

    def ordinal(label: str) -> int:
        return int(label) if label.isdigit() else ord(label) - ord("a") + 1

    for (s1, d1, l1), (s2, d2, l2) in zip(markers, markers[1:], strict=False):
        if l1.isdigit() == l2.isdigit() and ordinal(l2) == ordinal(l1) + 1:
            cuts.update((s1, s2))
            dots.update((d1 + len(l1), d2 + len(l2)))
    return cuts, dots


def split_sentences(text: str) -> list[Span]:
    """Split `text` into sentences; span.text == text[span.start:span.end]."""
    if not text or not text.strip():
        return []
    masked = _mask(text)
    cuts, marker_dots = _list_cuts(masked)
    cuts.update(m.end() for m in _PARAGRAPH.finditer(masked))
    cuts.update(m.start() for m in _BULLET.finditer(masked))
    if "\n" in masked:
        cuts.update(m.end() for m in _NEWLINE.finditer(masked))  # a newline always ends a sentence
    for m in _RUN.finditer(masked):
        if m.start() in marker_dots:
            continue
        run = m.group("run")
        # "compounds. . . . The": the period ends the sentence, the ellipsis opens the next.
        if run.startswith(". .") and m.start() > 0 and not masked[m.start() - 1].isspace():
            if _next_word(masked, m.end()) and _is_boundary(masked, m.start(), m.end(), run):
                cuts.add(m.start() + 1)
            continue
        if _is_boundary(masked, m.start(), m.end(), run):
            cuts.add(m.end())
    for m in _GLUED.finditer(masked):
        if _is_boundary(masked, m.start(), m.end(), "."):
            cuts.add(m.end())

    spans: list[Span] = []
    bounds = sorted(c for c in cuts if 0 < c < len(text))
    for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True):
        seg = text[a:b]
        lead = len(seg) - len(seg.lstrip())
        body = seg.strip()
        if body:
            spans.append(Span(body, a + lead, a + lead + len(body)))
    return spans
