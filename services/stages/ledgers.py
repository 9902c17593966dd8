"""Ledger stage: what a decided claim does to its cluster's propagation ledger (ClusterUpdated)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from schemas import ClaimDetected, ClusterAppearance, ClusterMerged, ClusterUpdated


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
