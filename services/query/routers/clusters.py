"""GET /clusters/{cluster_id}: the propagation ledger of one claim."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.query.db import ClusterRow
from services.query.deps import SessionDep
from services.query.models import ClusterPublic

router = APIRouter(prefix="/clusters", tags=["clusters"])


@router.get("/{cluster_id}", response_model=ClusterPublic, responses={404: {"description": "No such cluster"}})
def get_cluster(cluster_id: str, session: SessionDep) -> ClusterPublic:
    row = session.get(ClusterRow, cluster_id)
    if row is None:
        raise HTTPException(404, f"no cluster {cluster_id!r}")
    return ClusterPublic(
        cluster_id=row.cluster_id, text=row.text, first_outlet=row.first_outlet, first_seen_at=row.first_seen_at,
        first_claim_id=row.first_claim_id, outlets=row.outlets, outlet_count=len(row.outlets),
        appearance_count=row.appearance_count, appearances=row.appearances, updated_at=row.updated_at,
    )
