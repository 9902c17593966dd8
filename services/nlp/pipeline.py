"""The processing stages as plain functions over the shared event models.

The faust agents, `claimstream annotate` and the tests call these same
functions, so the stream and the offline mode cannot drift apart.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Protocol

from schemas import (
    ArticleReceived,
    ClaimDetected,
    ClaimEnrichment,
    ClaimScored,
    ClusterAppearance,
    ClusterMerged,
    ClusterUpdated,
    DateMention,
    Entity,
    Quantity,
    SentenceAnnotated,
    SentenceExtracted,
)
from schemas.ids import claim_id, sentence_id
from services.nlp import claims, coref, enrich, entities, matching, split
from services.nlp.types import EntityMention


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


def _linked_by_article(english: list[SentenceExtracted], mentions: dict,
                       memory: ArticleMemory | None) -> dict[str, list]:
    """Link each sentence's mentions, then resolve short names within each article (coref)."""
    articles: dict[tuple[str, int], list[SentenceExtracted]] = {}
    for s in english:
        articles.setdefault((s.article_id, s.version), []).append(s)
    out = {}
    for key, group in articles.items():
        group.sort(key=lambda s: s.index)
        linked = [(s.text, entities.link_entities(s.text, mentions.get(s.sentence_id, []))) for s in group]
        names = memory.get(key) if memory is not None else None
        for s, ents in zip(group, coref.resolve_article(linked, names, outlet=group[0].outlet), strict=True):
            out[s.sentence_id] = ents
    return out


def annotate_sentences(sentences: list[SentenceExtracted], threshold: float,
                       checkworthy_threshold: float | None = None,
                       memory: ArticleMemory | None = None) -> list[SentenceAnnotated]:
    """Score, find and link entities, and enrich the claims of a batch (one nlp.pipe call).

    Two scores per sentence: claim_score (is_claim at `threshold`) and checkworthy_score
    (is_checkworthy at `checkworthy_threshold`, default the model's; only a claim can be
    check-worthy). Sentences of articles that are not in English keep their language and are
    not scored: an English model would only guess. Clusters come later, in `match_claims`.
    Names are resolved within each article of the batch ("Valadares" -> "Tomas Valadares",
    "MAI" -> "Ministry of Internal Administration"); `memory` carries them across batches.
    """
    if checkworthy_threshold is None:
        checkworthy_threshold = claims.DEFAULT_CHECKWORTHY_THRESHOLD
    english = [s for s in sentences if s.language == "en"]
    texts = [s.text for s in english]
    scores = dict(zip((s.sentence_id for s in english), claims.score_sentences(texts), strict=True)) if texts else {}
    mentions = (dict(zip((s.sentence_id for s in english), entities.extract_entities(texts), strict=True))
                if texts else {})
    resolved = _linked_by_article(english, mentions, memory) if texts else {}
    version = claims.model_version()
    out = []
    for sentence in sentences:
        score, cw_score = scores.get(sentence.sentence_id, (0.0, 0.0))
        found = mentions.get(sentence.sentence_id, [])
        is_claim = sentence.language == "en" and score >= threshold
        is_checkworthy = is_claim and cw_score >= checkworthy_threshold
        linked = resolved.get(sentence.sentence_id, [])
        out.append(SentenceAnnotated(
            **sentence.model_dump(exclude={"schema_version"}),
            claim_score=round(float(score), 6), is_claim=is_claim,
            checkworthy_score=round(float(cw_score), 6), is_checkworthy=is_checkworthy, model_version=version,
            entities=[Entity(text=m.text, label=m.label, canonical=m.canonical, start=m.start, end=m.end,
                             entity_id=m.entity_id, metonymy=m.metonymy) for m in linked],
            enrichment=_enrichment(sentence, found) if is_claim else None,
        ))
    return out


def _enrichment(sentence: SentenceExtracted, found: list[EntityMention]) -> ClaimEnrichment:
    e = enrich.enrich_claim(sentence.text, found, sentence.published_at)
    return ClaimEnrichment(
        claim_type=e.claim_type, source=e.attribution.source, via=e.attribution.via, hedged=e.attribution.hedged,
        quantities=[Quantity(text=q.text, value=q.value, unit=q.unit, scale=q.scale, start=q.start, end=q.end,
                             approximate=q.approximate, base_value=q.base_value, base_unit=q.base_unit,
                             precision=q.precision, conversion=q.conversion) for q in e.quantities],
        dates=[DateMention(text=d.text, start=d.start, end=d.end, resolved=d.resolved, granularity=d.granularity)
               for d in e.dates],
    )


def _mentions(annotated) -> list[EntityMention]:
    return [EntityMention(e.text, e.label, e.canonical, e.start, e.end, e.entity_id) for e in annotated.entities]


def _seen_at(event) -> datetime:
    return event.published_at or event.received_at


def _claim_features(claim: ClaimScored) -> matching.ClaimFeatures:
    vector = matching.decode_vector(claim.vector) if claim.vector else None
    # Figures and dates as the annotate stage normalised them; an event from before they were carried
    # (no base_value) has them computed again by the same code.
    e = claim.enrichment
    carried = e is not None and all(q.base_value is not None for q in e.quantities)
    return matching.features(claim.claim_id, claim.text, _mentions(claim), claim.outlet,
                             _seen_at(claim).timestamp(), vector=vector,
                             quantities=e.quantities if e is not None and carried else None,
                             dates=e.dates if e is not None and carried else None)


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


def _detected(claim: ClaimScored, m: matching.Match, detected_at: datetime) -> ClaimDetected:
    return ClaimDetected(
        claim_id=claim.claim_id, cluster_id=m.cluster_id, copy_of=m.copy_of, update_of=m.update_of,
        merged_clusters=list(m.merged),
        **claim.model_dump(exclude={"schema_version", "claim_id", "block", "vector"}),
        detected_at=detected_at,
    )


def match_claims(index: matching.ClaimIndex, scored: list[ClaimScored], detected_at: datetime) -> list[ClaimDetected]:
    """Assign each claim, in order, to a cluster (offline: one index for the whole input)."""
    return [match_step(index, claim, detected_at) for claim in scored]


def match_step(index: matching.ClaimIndex, claim: ClaimScored, detected_at: datetime) -> ClaimDetected:
    """Match one claim in the stream: the same decision `match_claims` makes offline (one hop decides;
    a replay finds the stored decision and repeats it, with its cluster's surviving id)."""
    return _detected(claim, index.match(_claim_features(claim)), detected_at)


def fold_ledgers(survivor: ClusterUpdated | None, merged: ClusterUpdated, now: datetime,
                 max_appearances: int = 500) -> ClusterUpdated:
    """The surviving cluster's ledger with a merged cluster's appearances folded in."""
    if survivor is None:
        return merged.model_copy(update={"merged_from": sorted({*merged.merged_from, merged.cluster_id}),
                                         "updated_at": now})
    kept = {a.claim_id: a for a in [*survivor.appearances, *merged.appearances]}
    appearances = sorted(kept.values(), key=lambda a: (a.seen_at, a.claim_id))
    first = appearances[0]
    independent = {a.outlet for a in appearances if a.copy_of is None}
    return survivor.model_copy(update=dict(
        first_outlet=first.outlet, first_seen_at=first.seen_at, first_claim_id=first.claim_id, text=first.text,
        outlets=sorted({*survivor.outlets, *merged.outlets}),
        appearance_count=survivor.appearance_count + merged.appearance_count,
        independent_outlets=max(survivor.independent_outlets, merged.independent_outlets, len(independent)),
        appearances=appearances[:max_appearances],
        update_of=survivor.update_of or merged.update_of,
        merged_from=sorted({*survivor.merged_from, *merged.merged_from, merged.cluster_id}),
        updated_at=now,
    ))


class LedgerLookup(Protocol):
    """What track_ledgers reads: a dict in tests and the CLI, the ledger table in the stream."""

    def get(self, cluster_id: str, /) -> ClusterUpdated | None: ...


def track_ledgers(ledgers: LedgerLookup, claim: ClaimDetected, now: datetime,
                  max_appearances: int = 500) -> tuple[list[ClusterMerged], dict[str, ClusterUpdated | None]]:
    """What a decided claim does to the propagation ledgers: (merge events, ledgers to write).

    The clusters it merged are folded into its cluster (a merged id's ledger is written as None:
    delete), then its appearance is added. A replay changes nothing it has already done, so the
    result is empty once every effect is in `ledgers`.
    """
    merges: list[ClusterMerged] = []
    writes: dict[str, ClusterUpdated | None] = {}
    ledger = ledgers.get(claim.cluster_id)
    for gone in claim.merged_clusters:
        old = ledgers.get(gone)
        if old is not None:
            merges.append(ClusterMerged(cluster_id=claim.cluster_id, merged_id=gone, claim_id=claim.claim_id,
                                        merged_at=now))
            ledger = fold_ledgers(ledger, old, now, max_appearances).model_copy(
                update={"cluster_id": claim.cluster_id})
            writes[gone] = None
    added = add_appearance(ledger, claim, now, max_appearances)
    if added is not None:
        ledger = added
    if ledger is not None and (added is not None or writes):
        writes[claim.cluster_id] = ledger
    return merges, writes


def add_appearance(ledger: ClusterUpdated | None, claim: ClaimDetected, now: datetime,
                   max_appearances: int = 500) -> ClusterUpdated | None:
    """The ledger with this claim added, or None when it is already there (a replay)."""
    seen_at = claim.published_at or claim.received_at
    appearance = ClusterAppearance(claim_id=claim.claim_id, article_id=claim.article_id, outlet=claim.outlet,
                                   url=claim.url, text=claim.text, seen_at=seen_at, copy_of=claim.copy_of)
    if ledger is None:
        return ClusterUpdated(cluster_id=claim.cluster_id, first_outlet=claim.outlet, first_seen_at=seen_at,
                              first_claim_id=claim.claim_id, text=claim.text, outlets=[claim.outlet],
                              appearance_count=1, independent_outlets=0 if claim.copy_of else 1,
                              appearances=[appearance], update_of=claim.update_of, updated_at=now)
    if any(a.claim_id == claim.claim_id for a in ledger.appearances):
        return None
    appearances = sorted([*ledger.appearances, appearance], key=lambda a: (a.seen_at, a.claim_id))
    first = appearances[0]
    independent = {a.outlet for a in appearances if a.copy_of is None}
    if claim.copy_of is None:
        independent.add(claim.outlet)
    return ledger.model_copy(update=dict(
        first_outlet=first.outlet, first_seen_at=first.seen_at, first_claim_id=first.claim_id, text=first.text,
        outlets=sorted({*ledger.outlets, claim.outlet}),
        appearance_count=ledger.appearance_count + 1,
        # Counted over the kept appearances, and never below what was counted before.
        independent_outlets=max(ledger.independent_outlets, len(independent)),
        # Bounded: the earliest appearances are the ledger's point; the count keeps growing.
        appearances=appearances[:max_appearances],
        updated_at=now,
    ))
