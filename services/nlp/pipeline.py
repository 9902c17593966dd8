"""The processing stages as plain functions over the shared event models.

The faust agents, `claimstream annotate` and the tests call these same
functions, so the stream and the offline mode cannot drift apart.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from schemas import (
    ArticleReceived,
    ClaimDetected,
    ClusterAppearance,
    ClusterUpdated,
    Entity,
    SentenceAnnotated,
    SentenceExtracted,
)
from services.nlp import claims, dedup, entities, split


def sentence_id(article_id: str, version: int, index: int) -> str:
    # Deterministic, so a replayed article yields the same ids and every
    # downstream write is an idempotent upsert.
    digest = hashlib.sha1(f"{article_id}\x00{version}\x00{index}".encode()).hexdigest()[:20]
    return f"s-{digest}"


def claim_id(article_id: str, text: str) -> str:
    # By wording, not position: an unchanged sentence in a new article version
    # is the same claim, so it is neither repeated in the feed nor counted twice.
    digest = hashlib.sha1(f"{article_id}\x00{' '.join(text.split())}".encode()).hexdigest()[:20]
    return f"k-{digest}"


def split_article(article: ArticleReceived) -> list[SentenceExtracted]:
    spans = split.split_sentences(article.body)
    return [
        SentenceExtracted(
            sentence_id=sentence_id(article.article_id, article.version, i),
            article_id=article.article_id, version=article.version, index=i, count=len(spans),
            text=span.text, start=span.start, end=span.end,
            outlet=article.outlet, url=article.url, published_at=article.published_at,
            received_at=article.received_at,
        )
        for i, span in enumerate(spans)
    ]


def annotate_sentences(sentences: list[SentenceExtracted], threshold: float) -> list[SentenceAnnotated]:
    """Score, find entities and assign clusters for a batch (one nlp.pipe call)."""
    texts = [s.text for s in sentences]
    scores = claims.score_claims(texts)
    mentions = entities.extract_entities(texts)
    version = claims.model_version()
    out = []
    for sentence, score, found in zip(sentences, scores, mentions):
        is_claim = score >= threshold
        cluster = dedup.cluster_id_for(dedup.claim_signature(sentence.text, found)) if is_claim else None
        out.append(SentenceAnnotated(
            **sentence.model_dump(exclude={"schema_version"}),
            claim_score=round(float(score), 6), is_claim=is_claim, model_version=version,
            entities=[Entity(text=m.text, label=m.label, canonical=m.canonical, start=m.start, end=m.end)
                      for m in found],
            cluster_id=cluster,
        ))
    return out


def claim_from(annotated: SentenceAnnotated, detected_at: datetime) -> ClaimDetected:
    assert annotated.is_claim and annotated.cluster_id, "only claims have a cluster"
    return ClaimDetected(
        claim_id=claim_id(annotated.article_id, annotated.text), cluster_id=annotated.cluster_id,
        article_id=annotated.article_id, version=annotated.version, sentence_id=annotated.sentence_id,
        text=annotated.text, start=annotated.start, end=annotated.end, outlet=annotated.outlet,
        url=annotated.url, published_at=annotated.published_at, received_at=annotated.received_at,
        detected_at=detected_at, claim_score=annotated.claim_score, model_version=annotated.model_version,
        entities=annotated.entities,
    )


def add_appearance(ledger: ClusterUpdated | None, claim: ClaimDetected, now: datetime,
                   max_appearances: int = 500) -> ClusterUpdated | None:
    """The ledger with this claim added, or None when it is already there (a replay)."""
    seen_at = claim.published_at or claim.received_at
    appearance = ClusterAppearance(claim_id=claim.claim_id, article_id=claim.article_id, outlet=claim.outlet,
                                   url=claim.url, text=claim.text, seen_at=seen_at)
    if ledger is None:
        return ClusterUpdated(cluster_id=claim.cluster_id, first_outlet=claim.outlet, first_seen_at=seen_at,
                              first_claim_id=claim.claim_id, text=claim.text, outlets=[claim.outlet],
                              appearance_count=1, appearances=[appearance], updated_at=now)
    if any(a.claim_id == claim.claim_id for a in ledger.appearances):
        return None
    appearances = sorted([*ledger.appearances, appearance], key=lambda a: (a.seen_at, a.claim_id))
    first = appearances[0]
    return ledger.model_copy(update=dict(
        first_outlet=first.outlet, first_seen_at=first.seen_at, first_claim_id=first.claim_id, text=first.text,
        outlets=sorted({*ledger.outlets, claim.outlet}),
        appearance_count=ledger.appearance_count + 1,
        # Bounded: the earliest appearances are the ledger's point; the count keeps growing.
        appearances=appearances[:max_appearances],
        updated_at=now,
    ))
