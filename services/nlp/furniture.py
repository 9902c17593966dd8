"""Page furniture: a learned line-level decision, with a per-outlet repetition memory.

A scraped body is a column of lines. Most are story paragraphs; the rest is page furniture
(bylines, reporting and editing credits, captions, video teasers, copyright and standards
lines, sign-up prompts, comment counts, "Related"/"Most read" blocks with their teaser
headlines, ...). Which phrases an outlet uses cannot be listed, so each line is scored by a
small logistic regression over features that carry across outlets:

- shape: length in words, terminal punctuation, share of capitalised words, digits, running
  times like "(1:42)", "©", "|", "·", a "Label: text" opening, a parenthesised tail;
- position: relative index in the body, first and last lines, whether a full story paragraph
  comes before or after it, whether it is a paragraph of its own;
- the neighbour lines' shape;
- hashed word uni/bigrams (digits masked) and the first word;
- repetition: the line (normalised, digits masked), its shape with the names masked, or its
  opening words were seen in other articles of the same outlet (`OutletMemory`).

The weights are trained by `scripts/train_furniture.py` (scikit-learn) and shipped as JSON in
`services/nlp/models/furniture.json`; scoring here is pure Python.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# CLAIMSTREAM_FURNITURE_MODEL: another weights file (e.g. one trained without the set being measured).
MODEL_PATH = Path(os.environ.get("CLAIMSTREAM_FURNITURE_MODEL") or Path(__file__).parent / "models" / "furniture.json")
HASH_DIM = 1 << 14

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|[©|·•@:&+#/()]", re.UNICODE)
_TERMINAL = re.compile(r"[.!?][\"'”’)\]]*\Z")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)[\"'”’)\]]*\Z")
_RUNNING_TIME = re.compile(r"\(?\b\d{1,2}:\d\d(?::\d\d)?\)?")
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d\d\s*(?:[ap]\.?m\.?|gmt|bst|cet|et|utc)?\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_LABEL = re.compile(r"\A[^\W\d_][\w ]{0,30}:\s")  # "Image: ...", "Watch: ...", "Image caption: ..."
_PAREN_TAIL = re.compile(r"\([^()]{2,60}\)\s*\Z")
_URLISH = re.compile(r"https?://|www\.|\.(?:com|co\.uk|org|net)\b|\S+@\S+\.\w+", re.I)
_QUOTES = re.compile(r"[\"“”]")
_SENT_INSIDE = re.compile(r"[.!?][\"'”’)]*\s+[\"'“‘(]?[A-Z]")
_DIGIT = re.compile(r"\d+")
# Closed-class words, not outlet phrases: furniture addresses the reader and points at the page
# ("you", "us", "this article", "below"); a story speaks about the world, and its "we" is quoted.
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|you're|you've)\b", re.I)
_FIRST_PLURAL = re.compile(r"\b(?:we|us|our|we're|we've)\b", re.I)
_PAGE_DEIXIS = re.compile(r"\b(?:this|the|our) (?:story|article|post|page|newsletter|video|piece|site|app|website)\b"
                          r"|\bbelow\b|\bclick\b", re.I)
_NONWORD = re.compile(r"[^\w ]+")


def words_of(line: str) -> list[str]:
    return line.split()


def is_terminal(line: str) -> bool:
    return bool(_TERMINAL.search(line)) and not _ELLIPSIS.search(line)


def is_story_paragraph(line: str) -> bool:
    """A full paragraph of prose: long enough and ending like a sentence."""
    return len(line.split()) >= 15 and is_terminal(line)


# --------------------------------------------------------------------------- repetition memory


def exact_key(line: str) -> str:
    text = _DIGIT.sub("0", line.casefold())
    return " ".join(_NONWORD.sub(" ", text).split())


def shape_key(line: str) -> str:
    """The line with capitalised words (names) and digits masked: "reporting by N N for N N"."""
    out = []
    for i, w in enumerate(line.split()):
        core = w.strip("\"'“”‘’()[],;:.!?")
        if i > 0 and core[:1].isupper():
            out.append("N")
        else:
            out.append(_DIGIT.sub("0", core.casefold()))
    return " ".join(x for x in out if x)


def prefix_key(line: str) -> str:
    """The label of a "Label: text" line ("image caption"), else "" (no key). Two story sentences that
    open with the same two words ("The company ...") are no sign of furniture, so plain lines have none."""
    m = _LABEL.match(line)
    return exact_key(m.group(0)) if m else ""


class OutletMemory:
    """Bounded per-outlet memory of the lines seen in earlier articles.

    For each outlet (at most `max_outlets`, least recently used dropped) it keeps up to
    `max_keys` line keys (LRU), each with the last few article keys it was seen in, so that a
    new version of the same article does not count as repetition. Thread-safe; pure Python.
    """

    KINDS = ("exact", "shape", "prefix")

    def __init__(self, max_outlets: int = 500, max_keys: int = 5000, articles_per_key: int = 4):
        self.max_outlets = max_outlets
        self.max_keys = max_keys
        self.articles_per_key = articles_per_key
        self._outlets: OrderedDict[str, OrderedDict[str, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(line: str) -> list[str]:
        prefix = prefix_key(line)
        return [f"e|{exact_key(line)}", f"s|{shape_key(line)}", f"p|{prefix}" if prefix else ""]

    def counts(self, outlet: str | None, article: str | None, lines: list[str]) -> list[tuple[int, int, int]]:
        """For each line: in how many other articles of the outlet its exact / shape / prefix key was seen."""
        if not outlet:
            return [(0, 0, 0)] * len(lines)
        with self._lock:
            table = self._outlets.get(outlet.casefold())
            if table is None:
                return [(0, 0, 0)] * len(lines)
            out = []
            for line in lines:
                row = []
                for key in self._keys(line):
                    seen = table.get(key) if key else None
                    row.append(0 if not seen else sum(1 for a in seen if a != article))
                exact, shape, prefix = row  # _keys gives these three
                out.append((exact, shape, prefix))
            return out

    def remember(self, outlet: str | None, article: str | None, lines: list[str]) -> None:
        if not outlet:
            return
        article = article or ""
        with self._lock:
            name = outlet.casefold()
            table = self._outlets.pop(name, None)
            if table is None:
                table = OrderedDict()
            self._outlets[name] = table
            while len(self._outlets) > self.max_outlets:
                self._outlets.popitem(last=False)
            for line in lines:
                for key in set(self._keys(line)) - {""}:
                    seen = table.pop(key, None) or []
                    if article not in seen:
                        seen = [*seen, article][-self.articles_per_key:]
                    table[key] = seen
            while len(table) > self.max_keys:
                table.popitem(last=False)

    def __len__(self) -> int:
        return sum(len(t) for t in self._outlets.values())


# --------------------------------------------------------------------------- features


@dataclass(slots=True)
class Line:
    """One non-empty line of a body with the layout facts the features need."""

    text: str
    own_paragraph: bool = True  # blank line (or the body's edge) before and after it
    attached_prev: bool = False  # the previous line is directly above it (no blank line between)


def _shape(text: str) -> dict[str, float]:
    ws = text.split()
    n = len(ws)
    caps = sum(1 for w in ws if w[:1].isupper())
    upper = sum(1 for w in ws if len(w) > 1 and w.isupper())
    f = {
        "log_words": math.log1p(n),
        "w<=3": float(n <= 3),
        "w<=8": float(n <= 8),
        "w<=15": float(n <= 15),
        "w>30": float(n > 30),
        "terminal": float(is_terminal(text)),
        "ellipsis_end": float(bool(_ELLIPSIS.search(text))),
        "colon_end": float(text.endswith(":")),
        "paren_end": float(text.endswith(")")),
        "paren_tail": float(bool(_PAREN_TAIL.search(text))),
        "cap_share": caps / n if n else 0.0,
        "upper_share": upper / n if n else 0.0,
        "digits": float(any(c.isdigit() for c in text)),
        "running_time": float(bool(_RUNNING_TIME.search(text))),
        "clock": float(bool(_CLOCK.search(text))),
        "year": float(bool(_YEAR.search(text))),
        "copyright": float("©" in text or "(c)" in text.casefold()),
        "pipe": float("|" in text),
        "middot": float("·" in text or "•" in text),
        "label_open": float(bool(_LABEL.match(text))),
        "label_open_long": float(bool(_LABEL.match(text)) and n > 25),
        "url_or_email": float(bool(_URLISH.search(text))),
        "quotes": float(bool(_QUOTES.search(text))),
        "multi_sentence": float(bool(_SENT_INSIDE.search(text))),
        "semicolon": float(";" in text),
        "second_person": float(bool(_SECOND_PERSON.search(text)) and not _QUOTES.search(text)),
        "first_plural": float(bool(_FIRST_PLURAL.search(text)) and not _QUOTES.search(text)),
        "page_deixis": float(bool(_PAGE_DEIXIS.search(text))),
        "question": float(text.rstrip("\"'”’").endswith("?")),
        "exclaim": float(text.rstrip("\"'”’").endswith("!")),
    }
    return f


_NEIGHBOUR_KEYS = ("log_words", "terminal", "w<=8", "label_open", "cap_share")


def _hashed(text: str) -> list[str]:
    toks = [_DIGIT.sub("0", t.casefold()) for t in _WORD.findall(text)]
    feats = [f"w:{t}" for t in toks]
    feats += [f"b:{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]
    if toks:
        feats.append(f"first:{toks[0]}")
        feats.append(f"last:{toks[-1]}")
        if len(toks) > 1:
            feats.append(f"first2:{toks[0]} {toks[1]}")
    return feats


@lru_cache(maxsize=65536)
def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % HASH_DIM


def line_features(lines: list[Line], repeats: list[tuple[int, int, int]] | None = None,
                  context: bool = True, hashed: float = 1.0) -> list[dict[str, float]]:
    """Named features of every line (hashed ones as "h:<bucket>", each worth `hashed`: a value
    under 1 regularises the memorised words more strongly than the shape features; 0 drops them)."""
    n = len(lines)
    shapes = [_shape(x.text) for x in lines]
    story = [is_story_paragraph(x.text) for x in lines]
    story_before = [False] * n
    story_after = [False] * n
    for i in range(1, n):
        story_before[i] = story_before[i - 1] or story[i - 1]
    for i in range(n - 2, -1, -1):
        story_after[i] = story_after[i + 1] or story[i + 1]
    # Without a single full story paragraph the layout says nothing (a one-line post, a test
    # snippet): such lines are scored as isolated lines, like the labelled lines without a page.
    context = context and any(story)
    out = []
    for i, (line, shape) in enumerate(zip(lines, shapes, strict=True)):
        if context:
            f = {"bias": 1.0, **shape}
        else:
            # A line out of its page has its own shape weights: isolated story sentences are short
            # single sentences while story lines on a page are paragraphs, so sharing the shape
            # weights would teach page lines an artefact. Only the word features are shared.
            f = {"bias": 1.0, **{f"nc:{k}": v for k, v in shape.items()}}
        if context:
            f["rel_pos"] = i / (n - 1) if n > 1 else 0.5
            f["first"] = float(i == 0)
            f["last"] = float(i == n - 1)
            f["top2"] = float(i < 2)
            f["bottom2"] = float(n - 1 - i < 2)
            f["own_paragraph"] = float(line.own_paragraph)
            f["attached_prev"] = float(line.attached_prev)
            f["attached_next"] = float(i + 1 < n and lines[i + 1].attached_prev)
            f["no_story_before"] = float(not story_before[i])
            f["no_story_after"] = float(not story_after[i])
            inside = story_before[i] and story_after[i]
            f["inside_story"] = float(inside)  # a story paragraph somewhere above and below
            f["inside_story_terminal"] = float(inside and shape["terminal"] > 0)
            f["prev_story"] = float(i > 0 and story[i - 1])
            f["next_story"] = float(i + 1 < n and story[i + 1])
            for side, j in (("prev", i - 1), ("next", i + 1)):
                if 0 <= j < n:
                    for k in _NEIGHBOUR_KEYS:
                        f[f"{side}_{k}"] = shapes[j][k]
                else:
                    f[f"{side}_none"] = 1.0
        else:
            f["no_context"] = 1.0
        if repeats is not None:
            ex, sh, pr = repeats[i]
            short = shape["w<=15"]
            f["rep_exact"] = float(ex > 0)
            f["rep_exact_log"] = math.log1p(ex)
            f["rep_exact_long"] = float(ex > 0) * (1 - short)
            f["rep_shape"] = float(sh > 0) * short
            f["rep_prefix"] = float(pr > 0)
            f["rep_prefix_short"] = float(pr > 0) * short
            f["rep_prefix_nonterminal"] = float(pr > 0) * (1 - shape["terminal"])
        # Out of a page the words are all there is to go on: they count in full.
        value = hashed if context else (1.0 if hashed else 0.0)
        if value:
            for h in _hashed(line.text):
                key = f"h:{_bucket(h)}"
                f[key] = f.get(key, 0.0) + value
        out.append(f)
    return out


# --------------------------------------------------------------------------- model


class FurnitureModel:
    def __init__(self, spec: dict):
        self.spec = spec
        self.bias = float(spec.get("intercept", 0.0))
        self.weights: dict[str, float] = {k: float(v) for k, v in spec["weights"].items()}
        self.threshold = float(spec.get("threshold", 0.5))
        self.hashed = float(spec.get("hashed", 1.0))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> FurnitureModel:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def score(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in feats.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


_MODEL: FurnitureModel | None = None
_MODEL_LOCK = threading.Lock()


def model() -> FurnitureModel | None:
    """The shipped model, or None when no weights file is installed."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None and MODEL_PATH.exists():
                _MODEL = FurnitureModel.load()
    return _MODEL


def furniture_scores(lines: list[Line], repeats: list[tuple[int, int, int]] | None,
                     fm: FurnitureModel | None = None) -> list[float]:
    fm = fm or model()
    if fm is None or not lines:
        return [0.0] * len(lines)
    feats = line_features(lines, repeats, hashed=fm.hashed)
    return [fm.score(f) for f in feats]


LONG_PARAGRAPH_WORDS = 40  # furniture lines are short: a longer paragraph of prose is story


def decide(lines: list[Line], scores: list[float], threshold: float) -> list[bool]:
    """Furniture or not for each line: the model's score, never for a long prose paragraph, and
    teaser markers extended over their block of headlines."""
    flags = [s >= threshold and not (len(x.text.split()) >= LONG_PARAGRAPH_WORDS and is_terminal(x.text))
             for x, s in zip(lines, scores, strict=True)]
    return teaser_block_ends(lines, flags)


def teaser_block_ends(lines: list[Line], is_furniture: list[bool]) -> list[bool]:
    """Extend each teaser marker over its block, and only its block.

    A marker is a short furniture line without terminal punctuation ("Related", "More on this
    story:", "MOST READ"). The block is the marker and the headline-like lines that follow it: in
    the marker's own paragraph, any line of at most 30 words that does not end with a full stop
    (a teaser may be a question); after a blank line, lines without terminal punctuation or cut
    off with an ellipsis. It ends at the first full story paragraph; everything after it stays.
    """
    out = list(is_furniture)
    i, n = 0, len(lines)
    while i < n:
        text = lines[i].text
        if out[i] and len(text.split()) <= 6 and not is_terminal(text):
            j = i + 1
            attached = True
            while j < n:
                nxt = lines[j].text
                attached = attached and lines[j].attached_prev
                short = len(nxt.split()) <= 30
                if attached:
                    cut_off = bool(_ELLIPSIS.search(nxt))
                    headline_like = short and (not nxt.rstrip("\"'”’)]").endswith(".") or cut_off)
                else:
                    headline_like = short and (not is_terminal(nxt) or bool(_ELLIPSIS.search(nxt)))
                if not headline_like:
                    break
                out[j] = True
                j += 1
            i = max(j, i + 1)
        else:
            i += 1
    return out
