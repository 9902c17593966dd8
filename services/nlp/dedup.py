"""First-pass claim deduplication: an exact-match signature of normalised words.

Two outlets reporting the same claim mostly differ in word order, articles,
entity spellings ("U.S." / "United States") and number formats ("136bn" /
"136 billion"). The signature removes exactly those differences and keeps
what changes the meaning of a claim: numbers, negations, named entities.
Figures are not parsed here: the caller passes the quantities the annotate
stage normalised (normalise.py), each replaced by one token.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from services.nlp.types import EntityMention

_STOP = frozenset(
    """a an the and or but if then so of to in on at by for from with as into onto about over under than
    this that these those there here it its is are was were be been being am has have had having do does did
    will would shall should can could may might must he she they we you i me him her them us our your his their
    my which who whom whose what when where while also just very too only even still that's it's said says say
    saying told reportedly reported according per via s""".split()
)
_NEGATIONS = {"n't": " not", "cannot": "can not", "won't": "will not", "shan't": "shall not"}
# A decimal stays one token: "3.5" is not the same figure as "5.3".
_TOKEN = re.compile(r"q\d[\w.+-]*|\d+\.\d+|[a-z0-9_]*[a-z0-9][a-z0-9_]*")
# Only names are replaced by their canonical form; numeric entities (MONEY,
# CARDINAL, DATE...) are the figures the caller passes.
_NAME_LABELS = frozenset("PERSON ORG GPE NORP LOC FAC EVENT PRODUCT WORK_OF_ART LAW LANGUAGE".split())
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    if word.isdigit() or "_" in word or word[:1] == "q" and word[1:2].isdigit():  # figures and names stay exact
        return word
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            return word[: -len(suf)]
    return word


# A wire dateline ("ATHENS - ", "LONDON (Reuters) - ") names where the story was filed, not the claim.
_DATELINE = re.compile(r"^[A-Z][A-Z .']{1,30}(?:\s*\([^)]{1,40}\))?\s*[-\u2013\u2014]+\s+")
# Attribution says who asserts the claim; outlets attribute the same claim differently,
# so it is masked out of the signature ("..., the fire service said." / "According to X, ...").
_ATTRIBUTION_TAIL = re.compile(
    r",\s*(?:according to [^,.;\"]{2,80}"
    r"|[^,.;\"]{2,60}?\s(?:said|says|told [^,.;\"]{2,60}|reported|announced|confirmed)"
    r"(?:\s+(?:on\s+\w+|last\s+\w+|yesterday|today|this\s+\w+))?)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_HEAD = re.compile(
    r"^(?:[Aa]ccording to [^,]{2,80},\s*"
    r"|[A-Z][^,;\"]{1,50}?\s(?:said|says|told\s[^,;\"]{2,40}?)(?:\s+on\s+\w+)?(?:\s+that)?\s+)"
)


def claim_core(text: str) -> str:
    """The text with dateline and attribution blanked out; same length, so entity offsets still hold."""
    for pattern in (_DATELINE, _ATTRIBUTION_HEAD, _ATTRIBUTION_TAIL):
        m = pattern.search(text)
        if m:
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end():]
    return text


def claim_signature(text: str, entities: list[EntityMention],
                    figures: Sequence[tuple[int, int, str]] = ()) -> str:
    """The claim's words, normalised. `figures` are (start, end, token) of its quantities as the annotate
    stage normalised them (normalise.token: "€2.4bn" and "2.4 billion euros" are one token; "" drops a
    bracketed restatement); numbers are not parsed again here."""
    original, text = text, claim_core(text)
    # Entities become one token each, e.g. "U.S." -> "united_states". One that is
    # even partly blanked ("ATHENS - Firefighters") is not replaced: its kept words stay plain.
    names = [(e.start, e.end, "_" + re.sub(r"\W+", "_", e.canonical.casefold()).strip("_") + "_")
             for e in entities if e.label in _NAME_LABELS and text[e.start:e.end] == original[e.start:e.end]]
    spans = names + [f for f in figures if text[f[0]:f[1]] == original[f[0]:f[1]]]
    taken: list[tuple[int, int]] = []
    for start, end, _token in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not any(a < end and start < b for a, b in taken):
            taken.append((start, end))
    tokens = {}
    for start, end, token in spans:
        if (start, end) in taken:
            tokens[(start, end)] = token
    for start, end in sorted(taken, reverse=True):
        text = f"{text[:start]} {tokens[(start, end)]} {text[end:]}"
    text = text.casefold().replace("’", "'")
    for src, dst in _NEGATIONS.items():
        text = text.replace(src, dst)
    words = set()
    for tok in _TOKEN.findall(text):
        if tok not in _STOP:
            words.add(_stem(tok))
    return " ".join(sorted(words))


def cluster_id_for(signature: str) -> str:
    return "c_" + hashlib.sha1(signature.encode("utf-8")).hexdigest()[:16]
