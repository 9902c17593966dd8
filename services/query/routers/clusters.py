"""GET /clusters/{cluster_id}: the propagation ledger of one claim."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from services.query.db import ClusterRow
from services.query.deps import SessionDep
from services.query.models import ClusterPublic
from services.query.projection import surviving_cluster

router = APIRouter(prefix="/clusters", tags=["clusters"])


def _row(session, cluster_id: str) -> ClusterRow:
    """The cluster's row; a merged cluster's old id answers with the cluster it was merged into."""
    row = session.get(ClusterRow, cluster_id) or session.get(ClusterRow, surviving_cluster(session, cluster_id))
    if row is None:
        raise HTTPException(404, f"no cluster {cluster_id!r}")
    return row


@router.get("/{cluster_id}", response_model=ClusterPublic, responses={404: {"description": "No such cluster"}})
def get_cluster(cluster_id: str, session: SessionDep) -> ClusterPublic:
    row = _row(session, cluster_id)
    return ClusterPublic(
        cluster_id=row.cluster_id, text=row.text, first_outlet=row.first_outlet, first_seen_at=row.first_seen_at,
        first_claim_id=row.first_claim_id, outlets=row.outlets, outlet_count=len(row.outlets),
        appearance_count=row.appearance_count, independent_outlets=row.independent_outlets,
        update_of=row.update_of, appearances=row.appearances, updated_at=row.updated_at,
        merged_from=row.merged_from or [],
    )


def _work(appearance: dict) -> dict[str, Any]:
    work = {"@type": "CreativeWork", "datePublished": appearance["seen_at"], "text": appearance["text"],
            "publisher": {"@type": "Organization", "name": appearance["outlet"]}}
    if appearance.get("url"):
        work["url"] = appearance["url"]
    if appearance.get("copy_of"):
        work["isBasedOn"] = appearance["copy_of"]  # the claim id of the original it copies
    return work


@router.get("/{cluster_id}/claimreview", response_model=dict[str, Any],
            responses={404: {"description": "No such cluster"}})
def get_cluster_claimreview(cluster_id: str, session: SessionDep) -> dict[str, Any]:
    """The propagation ledger in schema.org terms: a Claim with `firstAppearance` and `appearance`.

    No `reviewRating` is given: ClaimStream finds and tracks claims, it does not rate them.
    """
    row = _row(session, cluster_id)
    appearances = sorted(row.appearances, key=lambda a: a["seen_at"])
    first = next((a for a in appearances if a["claim_id"] == row.first_claim_id), appearances[0])
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "identifier": row.cluster_id,
        "claimReviewed": row.text,
        "dateModified": row.updated_at.isoformat(),
        "itemReviewed": {
            "@type": "Claim",
            "text": row.text,
            "firstAppearance": _work(first),
            "appearance": [_work(a) for a in appearances],
        },
    }
