"""Match stage: ClaimScored -> ClaimDetected, against one matching.ClaimIndex."""

from __future__ import annotations

from datetime import datetime

from schemas import ClaimDetected, ClaimScored
from services.nlp import enrich, matching
from services.nlp.types import EntityMention


def _mentions(claim: ClaimScored) -> list[EntityMention]:
    return [EntityMention(e.text, e.label, e.canonical, e.start, e.end, e.entity_id) for e in claim.entities]


def _claim_features(claim: ClaimScored) -> matching.ClaimFeatures:
    vector = matching.decode_vector(claim.vector) if claim.vector else None
    # Figures and dates as the annotate stage normalised them; an event from before they were carried
    # (no base_value) has them computed again by the same code.
    e = claim.enrichment
    carried = e is not None and all(q.base_value is not None for q in e.quantities)
    quantities = dates = None
    if e is not None and carried:
        quantities = [enrich.Quantity(**q.model_dump()) for q in e.quantities]
        dates = [enrich.DateMention(**d.model_dump()) for d in e.dates]
    seen_at = claim.published_at or claim.received_at
    return matching.features(claim.claim_id, claim.text, _mentions(claim), claim.outlet, seen_at.timestamp(),
                             vector=vector, quantities=quantities, dates=dates)


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
