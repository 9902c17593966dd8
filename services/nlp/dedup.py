"""First-pass claim deduplication: an exact-match signature of normalised words.

Two outlets reporting the same claim mostly differ in word order, articles,
entity spellings ("U.S." / "United States") and number formats ("136bn" /
"136 billion"). The signature removes exactly those differences and keeps
what changes the meaning of a claim: numbers, negations, named entities.
"""

from __future__ import annotations

import hashlib
import re

from services.nlp.numwords import TENS, UNITS
from services.nlp.types import EntityMention

_STOP = frozenset(
    """a an the and or but if then so of to in on at by for from with as into onto about over under than
    this that these those there here it its is are was were be been being am has have had having do does did
    will would shall should can could may might must he she they we you i me him her them us our your his their
    my which who whom whose what when where while also just very too only even still that's it's said says say
    saying told reportedly reported according per via s""".split()
)
_NEGATIONS = {"n't": " not", "cannot": "can not", "won't": "will not", "shan't": "shall not"}
_CURRENCY = {"£": " gbp ", "$": " usd ", "€": " eur ", "¥": " jpy ", "%": " percent "}
_SCALE = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9, "tn": 1e12, "trillion": 1e12,
}
# Single number words are read token by token ("six" -> "6"); tens with their unit as one figure below.
_WORD_NUM = {**{w: str(v) for w, v in UNITS.items()}, "twenty": "20"}
_UNIT_WORDS = {w: v for w, v in UNITS.items() if 1 <= v <= 9}
# "forty-six", "forty six", "ninety": one figure, as "46" and "90" are.
_SPELLED_TENS = re.compile(rf"\b({'|'.join(TENS)})(?:[-\s]({'|'.join(_UNIT_WORDS)}))?\b")
# "nine thousand", "twelve million": the spelled figure becomes digits so that its scale applies.
_SPELLED_SCALED = re.compile(r"\b(" + "|".join(sorted(UNITS, key=len, reverse=True))
                             + r")(?=\s+(?:hundred|thousand|million|billion|trillion)\b)")
_NUMBER = re.compile(
    # single-letter scales only when glued ("5m"), so "5 m tall" is not read as millions
    r"(\d+(?:,\d{3})*(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion|mln|mn|bn|tn)|(k|m|b))?(?![a-z])"
)
# A decimal stays one token: "3.5" is not the same figure as "5.3".
_TOKEN = re.compile(r"\d+\.\d+|[a-z0-9_]*[a-z0-9][a-z0-9_]*")
# Only names are replaced by their canonical form; numeric entities (MONEY,
# CARDINAL, DATE...) go through the number normaliser instead.
_NAME_LABELS = frozenset("PERSON ORG GPE NORP LOC FAC EVENT PRODUCT WORK_OF_ART LAW LANGUAGE".split())
_SUFFIXES = ("ing", "ed", "es", "s")


def _number(m: re.Match) -> str:
    value = float(m.group(1).replace(",", ""))
    scale = m.group(2) or m.group(3)
    if scale:
        value *= _SCALE[scale]
    # One spelling per value: "136bn", "136 billion", "136,000,000,000" -> "136000000000".
    text = str(int(value)) if value == int(value) else f"{value:.6g}"
    return f" {text} "


def _spelled_tens(m: re.Match) -> str:
    return str(TENS[m.group(1)] + (_UNIT_WORDS[m.group(2)] if m.group(2) else 0))


def number_matches(text: str):
    """The figures in `text` as the signature reads them (match objects for number_value / is_bare_number)."""
    return _NUMBER.finditer(text.casefold())


def number_value(m: re.Match) -> str:
    """The signature's token for one figure: "1,900" -> "1900", "136bn" -> "136000000000"."""
    return _number(m).strip()


def is_bare_number(m: re.Match) -> bool:
    """Digits only as written: no thousands comma, decimal point or scale ("1990", not "1,990" or "1990m")."""
    return not (m.group(2) or m.group(3)) and m.group(1).isdigit()


def _stem(word: str) -> str:
    if word.isdigit() or "_" in word:  # numbers and entity tokens stay exact
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


def claim_signature(text: str, entities: list[EntityMention]) -> str:
    original, text = text, claim_core(text)
    # Entities become one token each, e.g. "U.S." -> "united_states". One that is
    # even partly blanked ("ATHENS - Firefighters") is not replaced: its kept words stay plain.
    names = [e for e in entities if e.label in _NAME_LABELS and text[e.start:e.end] == original[e.start:e.end]]
    for e in sorted(names, key=lambda e: e.start, reverse=True):
        token = "_" + re.sub(r"\W+", "_", e.canonical.casefold()).strip("_") + "_"
        text = f"{text[: e.start]} {token} {text[e.end :]}"
    text = text.casefold().replace("’", "'")
    for src, dst in (*_NEGATIONS.items(), *_CURRENCY.items()):
        text = text.replace(src, dst)
    text = _SPELLED_SCALED.sub(lambda m: _WORD_NUM[m.group(1)], _SPELLED_TENS.sub(_spelled_tens, text))
    text = _NUMBER.sub(_number, text)
    words = set()
    for tok in _TOKEN.findall(text):
        tok = _WORD_NUM.get(tok, tok)
        if tok not in _STOP:
            words.add(_stem(tok))
    return " ".join(sorted(words))


def cluster_id_for(signature: str) -> str:
    return "c_" + hashlib.sha1(signature.encode("utf-8")).hexdigest()[:16]
