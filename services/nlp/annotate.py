"""One batch of sentences annotated: claim and check-worthy scores, linked entities, enrichment.

Plain types in and out (types.Sentence -> Annotation); services/stages turns them into events.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from services.nlp import claims, coref, enrich, entities
from services.nlp.entities import LinkedEntity
from services.nlp.types import EntityMention, Sentence


@dataclass(frozen=True, slots=True)
class Annotation:
    """What the NLP says about one sentence (scores rounded to 6 places, as the events carry them)."""

    claim_score: float
    checkworthy_score: float
    is_claim: bool
    is_checkworthy: bool  # only a claim can be check-worthy
    entities: list[LinkedEntity]  # linked and resolved within the article
    enrichment: enrich.Enrichment | None  # claims only


class ArticleMemory:
    """What each recent article introduced (coref.ArticleNames), for articles split over batches.

    Bounded (least recently used out) and in memory only: after a restart, or for an article
    whose earlier sentences went to another worker, a batch resolves names within itself.
    """

    def __init__(self, size: int = 2000):
        self.size = size
        self._names: OrderedDict[tuple[str, int], coref.ArticleNames] = OrderedDict()

    def get(self, key: tuple[str, int]) -> coref.ArticleNames:
        names = self._names.pop(key, None) or coref.ArticleNames()
        self._names[key] = names
        while len(self._names) > self.size:
            self._names.popitem(last=False)
        return names


def _linked_by_article(english: list[Sentence], mentions: dict[str, list[EntityMention]],
                       memory: ArticleMemory | None) -> dict[str, list[LinkedEntity]]:
    """Link each sentence's mentions, then resolve short names within each article (coref)."""
    articles: dict[tuple[str, int], list[Sentence]] = {}
    for s in english:
        articles.setdefault(s.article, []).append(s)
    out = {}
    for key, group in articles.items():
        group.sort(key=lambda s: s.index)
        linked = [(s.text, entities.link_entities(s.text, mentions.get(s.key, []))) for s in group]
        names = memory.get(key) if memory is not None else None
        for s, ents in zip(group, coref.resolve_article(linked, names, outlet=group[0].outlet), strict=True):
            out[s.key] = ents
    return out


def annotate(sentences: list[Sentence], threshold: float, checkworthy_threshold: float | None = None,
             memory: ArticleMemory | None = None) -> list[Annotation]:
    """Score, find and link entities, and enrich the claims of a batch (one nlp.pipe call).

    Two scores per sentence: claim_score (is_claim at `threshold`) and checkworthy_score
    (is_checkworthy at `checkworthy_threshold`, default the model's). Sentences that are not in
    English are not scored: an English model would only guess. Names are resolved within each
    article of the batch ("Valadares" -> "Tomas Valadares", "MAI" -> "Ministry of Internal
    Administration"); `memory` carries them across batches.
    """
    if checkworthy_threshold is None:
        checkworthy_threshold = claims.DEFAULT_CHECKWORTHY_THRESHOLD
    english = [s for s in sentences if s.language == "en"]
    texts = [s.text for s in english]
    scores = dict(zip((s.key for s in english), claims.score_sentences(texts), strict=True)) if texts else {}
    mentions = dict(zip((s.key for s in english), entities.extract_entities(texts), strict=True)) if texts else {}
    resolved = _linked_by_article(english, mentions, memory) if texts else {}
    out = []
    for s in sentences:
        score, cw_score = scores.get(s.key, (0.0, 0.0))
        is_claim = s.language == "en" and score >= threshold
        out.append(Annotation(
            claim_score=round(float(score), 6), checkworthy_score=round(float(cw_score), 6),
            is_claim=is_claim, is_checkworthy=is_claim and cw_score >= checkworthy_threshold,
            entities=resolved.get(s.key, []),
            # The enrichment reads the model's own mentions, before linking.
            enrichment=enrich.enrich_claim(s.text, mentions.get(s.key, []), s.published_at) if is_claim else None,
        ))
    return out
