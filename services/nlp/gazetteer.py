"""Gazetteer: a mention's text and NER label -> a stable entity id and canonical name.

The data (countries, capitals, seats of power, organisations, outlets, office-
holders) is written by scripts/build_gazetteer.py into data/gazetteer.json and
read once per process. This module only answers "which entry does this name
denote?"; whether a capital stands for its state in a given sentence
(metonymy) is decided in entities.link_entities, which sees the sentence.

Matching rules, and why:
- Keys ignore case, accents, dots, a leading "the" and a trailing "'s", so
  "the U.S.'s" and "US" meet. Short all-capital aliases ("US", "AP", "WHO")
  match only in capitals, so the pronoun "us" or "who" never links.
- The NER label has to fit the entry type (PERSON never links to a country:
  "Jordan scored" stays unlinked). A multi-word alias is specific enough to
  override a wrong label ("Vladimir Putin" tagged ORG still links).
- An alias shared by two entries ("Georgia": the country and the US state) is
  settled by context words stored with the entries; without any, nothing is
  linked rather than guessing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_PATH = Path(__file__).parent / "data" / "gazetteer.json"

# Amounts, dates and times are never linked.
VALUE_LABELS = frozenset("CARDINAL ORDINAL QUANTITY MONEY PERCENT DATE TIME".split())
_ALL_TYPES = frozenset("country city region seat government organisation outlet person".split())
# Entry types each spaCy label may denote. spaCy tags the EU or a country as ORG
# often enough that ORG admits countries; PERSON admits only people.
_LABEL_TYPES = {
    "GPE": frozenset({"country", "city", "region", "government", "organisation", "seat"}),
    "LOC": frozenset({"country", "city", "region", "seat"}),
    "FAC": frozenset({"seat", "city"}),
    "ORG": frozenset({"organisation", "outlet", "government", "seat", "country"}),
    "NORP": frozenset({"organisation", "government"}),
    "PERSON": frozenset({"person"}),
    "PRODUCT": frozenset({"outlet"}),
    "WORK_OF_ART": frozenset({"outlet"}),
    # Only a multi-word alias links these ("Treaty of ..." is not a country).
    "EVENT": frozenset(), "LAW": frozenset(), "LANGUAGE": frozenset(),
}
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)\Z")
_ARTICLE = re.compile(r"\Athe\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    id: str  # stable slug: "country:russia", "org:nato", "person:vladimir-putin"
    name: str  # canonical name
    type: str  # country, city, region, seat, government, organisation, outlet, person
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...]
    metonym_of: str | None = None  # capitals and seats: the id they stand for as agents
    country: str | None = None
    office: str | None = None  # people: as of the build's offices_as_of
    cues: tuple[str, ...] = ()  # context words that pick this entry among same-named ones
    source: str | None = None  # "geonames" for entries taken in bulk from a public list
    iso2: str | None = None  # countries: ISO 3166-1 alpha-2 (from pycountry)


def clean_name(text: str) -> str:
    """The mention as a name: whitespace squeezed, no leading "the", no trailing "'s"."""
    name = " ".join(text.split())
    name = _POSSESSIVE.sub("", name).strip()
    return _ARTICLE.sub("", name)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def name_key(text: str) -> str:
    """Case-, accent- and dot-insensitive key of a name."""
    return _fold(clean_name(text).replace("’", "'").replace(".", "")).casefold()


def _acronym(alias: str) -> str | None:
    bare = clean_name(alias).replace(".", "")
    return bare if len(bare) <= 5 and bare.isupper() else None


class Gazetteer:
    def __init__(self, data: dict):
        self.built_at: str = data.get("built_at", "")
        self.offices_as_of: str = data.get("offices_as_of", "")
        self.entries: dict[str, GazetteerEntry] = {}
        self._names: dict[str, list[str]] = {}  # name_key -> ids
        self._acronyms: dict[str, list[str]] = {}  # exact capitals -> ids
        self._demonyms: dict[str, list[str]] = {}
        self._multiword: set[tuple[str, str]] = set()  # (key, id) whose alias has 2+ words
        self._cues: dict[str, re.Pattern] = {}
        for raw in data["entries"]:
            e = GazetteerEntry(
                id=raw["id"], name=raw["name"], type=raw["type"], aliases=tuple(raw.get("aliases", ())),
                demonyms=tuple(raw.get("demonyms", ())), metonym_of=raw.get("metonym_of"),
                country=raw.get("country"), office=raw.get("office"), cues=tuple(raw.get("cues", ())),
                source=raw.get("source"), iso2=raw.get("iso2"),
            )
            self.entries[e.id] = e
            for alias in (e.name, *e.aliases):
                acr = _acronym(alias)
                table, key = (self._acronyms, acr) if acr else (self._names, name_key(alias))
                if e.id not in table.setdefault(key, []):
                    table[key].append(e.id)
                if len(key.split()) > 1:
                    self._multiword.add((key, e.id))
            for dem in e.demonyms:
                ids = self._demonyms.setdefault(name_key(dem), [])
                if e.id not in ids:
                    ids.append(e.id)
            if e.cues:
                self._cues[e.id] = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in e.cues) + r")\b", re.I)

    @classmethod
    def load(cls, path: str | Path = DATA_PATH) -> Gazetteer:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def get(self, entity_id: str | None) -> GazetteerEntry | None:
        return self.entries.get(entity_id) if entity_id else None

    def exact_alias(self, text: str) -> list[str]:
        """Ids whose name or alias is `text` as written (or in capitals); used to find missed mentions."""
        acr = _acronym(text)
        if acr:
            return list(self._acronyms.get(acr, ()))
        ids = self._names.get(name_key(text), [])
        out = []
        for i in ids:
            e = self.entries[i]
            if any(clean_name(a) == text or (text.isupper() and clean_name(a).upper() == text)
                   for a in (e.name, *e.aliases)):
                out.append(i)
        return out

    def candidates(self, text: str, label: str | None) -> tuple[list[GazetteerEntry], bool]:
        """Entries the mention may denote given its label, and whether it matched as a demonym."""
        if label in VALUE_LABELS:
            return [], False
        key = name_key(text)
        if not key:
            return [], False
        allowed = _LABEL_TYPES.get(label or "", _ALL_TYPES)
        if label == "NORP" or not label:
            dem = [self.entries[i] for i in self._demonyms.get(key, ())]
            if dem:
                return dem, True
        acr = _acronym(text)
        ids = self._acronyms.get(acr, []) if acr else self._names.get(key, [])
        found = [self.entries[i] for i in ids
                 if self.entries[i].type in allowed or (key, i) in self._multiword]
        if not found and label in ("GPE", "LOC", "ORG"):
            # "Russian" tagged GPE/ORG: a demonym still names its country ("Russian" the LANGUAGE does not).
            found_dem = [self.entries[i] for i in self._demonyms.get(key, ())]
            if found_dem:
                return found_dem, True
        return found, False

    def resolve(self, text: str, label: str | None, context: str = "") -> tuple[GazetteerEntry | None, bool]:
        """The one entry the mention denotes (None when unknown or undecidable), and the demonym flag."""
        found, demonym = self.candidates(text, label)
        if len(found) <= 1:
            return (found[0] if found else None), demonym
        scores = [len(self._cues[e.id].findall(context)) if e.id in self._cues and context else 0 for e in found]
        best = max(scores)
        if best == 0 or scores.count(best) > 1:
            return None, demonym
        return found[scores.index(best)], demonym


@lru_cache(maxsize=1)
def get_gazetteer() -> Gazetteer:
    """The shipped gazetteer, read once per process."""
    if not DATA_PATH.exists():
        raise RuntimeError(f"gazetteer missing at {DATA_PATH}; run scripts/build_gazetteer.py")
    return Gazetteer.load(DATA_PATH)


def link(text: str, label: str | None, context: str = "") -> tuple[str | None, str]:
    """(entity id or None, canonical name) for a mention, without metonymy.

    `context` (the sentence) only settles shared aliases such as "Georgia".
    Unlinked names come back cleaned ("the Kharkiv's" -> "Kharkiv"); values as written.
    """
    if label in VALUE_LABELS:
        return None, " ".join(text.split())
    entry, _ = get_gazetteer().resolve(text, label, context)
    if entry is None:
        return None, clean_name(text)
    return entry.id, entry.name
