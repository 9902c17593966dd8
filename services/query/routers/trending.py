"""GET /trending: the clusters spreading fastest now; GET /alerts: the claim-velocity alerts fired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import case, distinct, func, select

from services.query.db import AlertRow, ClaimRow, ClusterRow
from services.query.deps import SessionDep
from services.query.models import AlertPublic, AlertsPublic, TrendingCluster, TrendingPublic

router = APIRouter(tags=["trending"])


@router.get("/trending", response_model=TrendingPublic)
def trending(session: SessionDep,
             window_minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60, description="How far back")] = 60,
             min_outlets: Annotated[int, Query(ge=1, le=10_000, description="Least independent outlets in the "
                                                                             "window")] = 2,
             limit: Annotated[int, Query(ge=1, le=100)] = 20) -> TrendingPublic:
    """Clusters ranked by the independent outlets (copies excluded) that carried them in the window,
    then by appearances, then by the latest one. The window uses `received_at` (arrival at ingest),
    so a back-filled archive does not look like news."""
    now = datetime.now(timezone.utc)
    since = now - timedelta(minutes=window_minutes)
    outlets = func.count(distinct(case((ClaimRow.copy_of.is_(None), ClaimRow.outlet)))).label("outlets")
    appearances = func.count().label("appearances")
    last = func.max(ClaimRow.received_at).label("last")
    window = (select(ClaimRow.cluster_id, outlets, appearances, last)
              .where(ClaimRow.received_at >= since).group_by(ClaimRow.cluster_id)
              .having(outlets >= min_outlets).subquery())
    rows = session.execute(
        select(window, ClusterRow.text, ClusterRow.first_outlet, ClusterRow.first_seen_at,
               ClusterRow.independent_outlets, ClusterRow.appearance_count,
               select(ClaimRow.text).where(ClaimRow.cluster_id == window.c.cluster_id)
               .order_by(ClaimRow.seq).limit(1).scalar_subquery().label("claim_text"))
        .outerjoin(ClusterRow, ClusterRow.cluster_id == window.c.cluster_id)
        .order_by(window.c.outlets.desc(), window.c.appearances.desc(), window.c.last.desc())
        .limit(limit)).all()
    items = []
    for r in rows:
        last_at = r.last if r.last.tzinfo else r.last.replace(tzinfo=timezone.utc)  # an aggregate skips the type
        items.append(TrendingCluster(
            cluster_id=r.cluster_id, text=r.text or r.claim_text, first_outlet=r.first_outlet,
            first_seen_at=r.first_seen_at, outlets_in_window=r.outlets, appearances_in_window=r.appearances,
            independent_outlets=r.independent_outlets if r.independent_outlets is not None else r.outlets,
            appearance_count=r.appearance_count if r.appearance_count is not None else r.appearances,
            last_received_at=last_at, outlets_per_hour=round(r.outlets * 60.0 / window_minutes, 3)))
    return TrendingPublic(window_minutes=window_minutes, generated_at=now, items=items)


@router.get("/alerts", response_model=AlertsPublic, tags=["alerts"])
def list_alerts(session: SessionDep,
                cluster: Annotated[str | None, Query(max_length=40, description="Cluster id")] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AlertsPublic:
    """Claim-velocity alerts, newest first (fired here or read from the alerts topic)."""
    stmt = select(AlertRow.payload).order_by(AlertRow.fired_at.desc(), AlertRow.alert_id).limit(limit)
    if cluster:
        stmt = stmt.where(AlertRow.cluster_id == cluster)
    payloads: Sequence[dict[str, Any]] = session.scalars(stmt).all()  # typed: the stubs say ScalarResult[Never]
    return AlertsPublic(items=[AlertPublic.model_validate(p) for p in payloads])
