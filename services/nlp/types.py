"""Plain value types returned by the NLP functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence: its text and its character offsets in the cleaned body."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class EntityMention:
    text: str
    label: str  # spaCy label: PERSON, ORG, GPE, NORP, LOC, ...
    canonical: str  # canonical name ("United States" for US / U.S. / USA)
    start: int  # offsets within the sentence
    end: int
    entity_id: str | None = None  # gazetteer id once linked ("country:north-korea"); what matching reads first


@dataclass(slots=True)
class CleanedText:
    """A scraped body after boilerplate removal."""

    body: str
    title: str | None = None
    credit: str | None = None  # outlet named on a "Credits: X" / "Source: X" line
    removed: list[str] = field(default_factory=list)  # lines dropped as boilerplate
    captions: list[str] = field(default_factory=list)  # photo / image / video captions among them
    credits: list[str] = field(default_factory=list)  # byline, reporting, editing and source lines among them


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence to annotate, with what the NLP reads of its article."""

    key: str  # the caller's id for it (a sentence id)
    article: tuple[str, int]  # (article id, version): short names are resolved within one article version
    index: int  # position in the article
    text: str
    language: str  # only English is scored
    outlet: str | None = None  # an outlet's own name is not an entity of the claim
    published_at: datetime | None = None  # what relative dates resolve against


@dataclass(frozen=True, slots=True)
class Revision:
    """One claim of an article version against the previous version: edited, withdrawn or added."""

    old_claim_id: str | None = None
    new_claim_id: str | None = None
    old_text: str | None = None
    new_text: str | None = None
