"""Split and annotate stages: ArticleReceived -> SentenceExtracted -> SentenceAnnotated -> ClaimScored."""

from __future__ import annotations

from schemas import (
    ArticleReceived,
    ClaimEnrichment,
    ClaimScored,
    DateMention,
    Entity,
    Quantity,
    SentenceAnnotated,
    SentenceExtracted,
)
from schemas.ids import claim_id, sentence_id
from services.nlp import claims, enrich, matching, split
from services.nlp.annotate import ArticleMemory, annotate
from services.nlp.types import Sentence

__all__ = ["ArticleMemory", "annotate_sentences", "scored_claims", "scored_from", "split_article"]


def split_article(article: ArticleReceived) -> list[SentenceExtracted]:
    spans = split.split_sentences(article.body)
    return [
        SentenceExtracted(
            sentence_id=sentence_id(article.article_id, article.version, i),
            article_id=article.article_id, version=article.version, index=i, count=len(spans),
            text=span.text, start=span.start, end=span.end,
            outlet=article.outlet, url=article.url, published_at=article.published_at,
            received_at=article.received_at, language=article.language,
        )
        for i, span in enumerate(spans)
    ]


def _sentence(s: SentenceExtracted) -> Sentence:
    return Sentence(key=s.sentence_id, article=(s.article_id, s.version), index=s.index, text=s.text,
                    language=s.language, outlet=s.outlet, published_at=s.published_at)


def annotate_sentences(sentences: list[SentenceExtracted], threshold: float,
                       checkworthy_threshold: float | None = None,
                       memory: ArticleMemory | None = None) -> list[SentenceAnnotated]:
    """The batch annotated (services.nlp.annotate.annotate), one SentenceAnnotated per sentence.

    Sentences of articles that are not in English keep their language and are not scored.
    Clusters come later, in `match_claims`.
    """
    found = annotate([_sentence(s) for s in sentences], threshold, checkworthy_threshold, memory)
    version = claims.model_version()
    return [
        SentenceAnnotated(
            **sentence.model_dump(exclude={"schema_version"}),
            claim_score=a.claim_score, is_claim=a.is_claim,
            checkworthy_score=a.checkworthy_score, is_checkworthy=a.is_checkworthy, model_version=version,
            entities=[Entity(text=m.text, label=m.label, canonical=m.canonical, start=m.start, end=m.end,
                             entity_id=m.entity_id, metonymy=m.metonymy) for m in a.entities],
            enrichment=_enrichment(a.enrichment) if a.enrichment is not None else None,
        )
        for sentence, a in zip(sentences, found, strict=True)
    ]


def _enrichment(e: enrich.Enrichment) -> ClaimEnrichment:
    return ClaimEnrichment(
        claim_type=e.claim_type, source=e.attribution.source, via=e.attribution.via, hedged=e.attribution.hedged,
        quantities=[Quantity(text=q.text, value=q.value, unit=q.unit, scale=q.scale, start=q.start, end=q.end,
                             approximate=q.approximate, base_value=q.base_value, base_unit=q.base_unit,
                             precision=q.precision, conversion=q.conversion) for q in e.quantities],
        dates=[DateMention(text=d.text, start=d.start, end=d.end, resolved=d.resolved, granularity=d.granularity)
               for d in e.dates],
    )


def scored_from(annotated: SentenceAnnotated, vector=None) -> ClaimScored:
    """A claim on its way to matching, with its sentence vector and the key that routes it."""
    assert annotated.is_claim, "only claims are matched"
    cid = claim_id(annotated.article_id, annotated.text)
    encoded = matching.encode_vector(vector) if vector is not None else None
    return ClaimScored(
        claim_id=cid, block=matching.route_key(), vector=encoded,
        article_id=annotated.article_id, version=annotated.version,
        sentence_id=annotated.sentence_id, text=annotated.text, start=annotated.start, end=annotated.end,
        outlet=annotated.outlet, url=annotated.url, published_at=annotated.published_at,
        received_at=annotated.received_at, claim_score=annotated.claim_score,
        checkworthy_score=annotated.checkworthy_score, is_checkworthy=annotated.is_checkworthy,
        model_version=annotated.model_version, entities=annotated.entities, enrichment=annotated.enrichment,
    )


def scored_claims(annotated: list[SentenceAnnotated], embed=None) -> list[ClaimScored]:
    """The claims of a batch, with MiniLM sentence vectors computed in one call (claims only: CPU is tight).

    Each sentence is encoded on its own inside that call (embeddings.DEFAULT_BATCH_SIZE), so a
    vector does not depend on its batch-mates and a replay or `claimstream annotate` gets the same one.
    """
    found = [a for a in annotated if a.is_claim]
    if not found:
        return []
    if embed is None:
        from services.nlp.embeddings import embed
    vectors = embed([a.text for a in found])
    return [scored_from(a, v) for a, v in zip(found, vectors, strict=True)]
