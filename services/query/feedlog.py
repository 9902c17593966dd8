"""The live feed's event log, claim-velocity alerts and replicated feedback.

Everything here runs inside the projection's transaction (`projection.apply`), so a feed event
is committed together with the claim or cluster row it describes and the consumed offsets: a
replayed message finds its row already there and writes no second event.

Event types:

- `claim`: a claim new to the projection whose cluster had no earlier appearance;
- `appearance`: a new claim of a cluster that already had one (another outlet, or the same
  outlet again);
- `cluster`: a ledger that changed (a replayed, unchanged ledger writes nothing);
- `alert`: a cluster reached `velocity_outlets` independent outlets within
  `velocity_window_minutes`, judged on the ledger's `seen_at` times. It fires once per cluster
  and rule: the alert is stored, written to the outbox for `<namespace>.alerts.v1`, and an
  alert read back from that topic (fired by this or another replica) is stored without firing
  again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from schemas import AlertFired, ClaimDetected, ClusterKey, ClusterUpdated, FeedbackRecorded, encode
from services.query.db import (
    AlertRow,
    ClaimEntityRow,
    ClaimRow,
    ClusterRow,
    FeedbackRow,
    FeedEventRow,
    OutboxRow,
    fts_enabled,
    rowcount,
)
from services.query.models import ClaimPublic


@dataclass(frozen=True)
class LiveRules:
    velocity_outlets: int = 3
    velocity_window_minutes: float = 60.0


@dataclass
class Effects:
    """What a committed batch asks of the tasks around the projection."""

    feed_events: int = 0
    outbox_rows: int = 0
    feedback_rows: int = 0
    alerts_fired: int = 0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _insert_ignore(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _write_event(session: Session, kind: str, cluster_id: str, claim_id: str | None, facets: dict,
                 payload: dict, effects: Effects) -> None:
    session.execute(insert(FeedEventRow).values(type=kind, cluster_id=cluster_id, claim_id=claim_id, facets=facets,
                                                payload=payload, created_at=_now()))
    effects.feed_events += 1


def enqueue(session: Session, thing: str, key: BaseModel, value: BaseModel, effects: Effects | None = None) -> None:
    """Write an event to the outbox; the publisher sends it to `<namespace>.<thing>.v1` after the commit."""
    session.execute(insert(OutboxRow).values(thing=thing, key=encode(key).decode(), value=encode(value).decode(),
                                             created_at=_now()))
    if effects is not None:
        effects.outbox_rows += 1


# --------------------------------------------------------------------------------------------------
# Claims


def record_claim(session: Session, claim: ClaimDetected, effects: Effects) -> None:
    """A claim was just inserted (not a replay): index its text and log `claim` or `appearance`."""
    row = session.scalars(select(ClaimRow).where(ClaimRow.claim_id == claim.claim_id)
                          .execution_options(populate_existing=True)).one()
    if fts_enabled(session.get_bind()):
        session.execute(text("INSERT INTO claims_fts(rowid, text) VALUES (:seq, :text)"),
                        {"seq": row.seq, "text": row.text})
    ledger = session.execute(select(ClusterRow.first_claim_id, ClusterRow.independent_outlets)
                             .where(ClusterRow.cluster_id == claim.cluster_id)).one_or_none()
    earlier_claim = session.scalar(select(ClaimRow.seq).where(ClaimRow.cluster_id == claim.cluster_id,
                                                              ClaimRow.claim_id != claim.claim_id).limit(1))
    known = earlier_claim is not None or (ledger is not None and ledger.first_claim_id != claim.claim_id)
    if ledger is not None and ledger.independent_outlets is not None:
        independent = ledger.independent_outlets
    else:
        independent = 0 if claim.copy_of else 1
    facets = {
        "cluster_id": claim.cluster_id,
        "outlets": [claim.outlet],
        "entities": sorted({e.canonical.lower() for e in claim.entities}),
        "claim_types": [row.claim_type] if row.claim_type else [],
        "score": claim.claim_score,
        "independent_outlets": independent,
        "text": claim.text,
        "seen_at": _iso(row.seen_at),
        "at": _iso(claim.received_at),
    }
    payload = ClaimPublic.model_validate(row).model_dump(mode="json")
    _write_event(session, "appearance" if known else "claim", claim.cluster_id, claim.claim_id, facets, payload,
                 effects)


# --------------------------------------------------------------------------------------------------
# Clusters


@dataclass(frozen=True)
class LedgerState:
    appearance_count: int
    independent_outlets: int | None
    outlets: list
    updated_at: datetime


def ledger_before(session: Session, cluster_id: str) -> LedgerState | None:
    row = session.execute(select(ClusterRow.appearance_count, ClusterRow.independent_outlets, ClusterRow.outlets,
                                 ClusterRow.updated_at).where(ClusterRow.cluster_id == cluster_id)).one_or_none()
    return None if row is None else LedgerState(row.appearance_count, row.independent_outlets, row.outlets,
                                                row.updated_at)


def _cluster_facets(session: Session, cluster_id: str, text_: str, outlets: list[str], independent: int,
                    seen_at: datetime | None, at: datetime) -> dict:
    score = session.scalar(select(func.max(ClaimRow.claim_score)).where(ClaimRow.cluster_id == cluster_id))
    types = session.scalars(select(ClaimRow.claim_type).where(ClaimRow.cluster_id == cluster_id,
                                                              ClaimRow.claim_type.is_not(None)).distinct()).all()
    entities = session.scalars(select(ClaimEntityRow.canonical_lower)
                               .join(ClaimRow, ClaimRow.claim_id == ClaimEntityRow.claim_id)
                               .where(ClaimRow.cluster_id == cluster_id).distinct()).all()
    return {"cluster_id": cluster_id, "outlets": list(outlets), "entities": sorted(entities),
            "claim_types": sorted(types), "score": score, "independent_outlets": independent, "text": text_,
            "seen_at": _iso(seen_at), "at": _iso(at)}


def record_cluster(session: Session, event: ClusterUpdated, before: LedgerState | None, rules: LiveRules,
                   effects: Effects) -> None:
    """The ledger was just upserted: log `cluster` if it changed, and check the velocity rule."""
    unchanged = before is not None and (
        before.appearance_count, before.independent_outlets, list(before.outlets), before.updated_at,
    ) == (event.appearance_count, event.independent_outlets, list(event.outlets), event.updated_at)
    if unchanged:
        return
    latest = max(event.appearances, key=lambda a: a.seen_at) if event.appearances else None
    facets = _cluster_facets(session, event.cluster_id, event.text, event.outlets, event.independent_outlets,
                             latest.seen_at if latest else event.first_seen_at, event.updated_at)
    payload = {
        "cluster_id": event.cluster_id, "text": event.text, "first_outlet": event.first_outlet,
        "first_seen_at": _iso(event.first_seen_at), "first_claim_id": event.first_claim_id,
        "outlets": event.outlets, "outlet_count": len(event.outlets),
        "independent_outlets": event.independent_outlets, "appearance_count": event.appearance_count,
        "update_of": event.update_of, "updated_at": _iso(event.updated_at),
        "latest_appearance": latest.model_dump(mode="json") if latest else None,
    }
    _write_event(session, "cluster", event.cluster_id, None, facets, payload, effects)
    _check_velocity(session, event, facets, rules, effects)


def velocity_window(event: ClusterUpdated, outlets: int, window: timedelta) -> list[tuple[str, datetime]] | None:
    """The first `outlets` independent outlets whose first appearances fit in `window`, or None.

    Copies (`copy_of` set) do not count; each outlet counts once, at its first appearance.
    """
    first: dict[str, datetime] = {}
    for appearance in event.appearances:
        if appearance.copy_of is not None:
            continue
        if appearance.outlet not in first or appearance.seen_at < first[appearance.outlet]:
            first[appearance.outlet] = appearance.seen_at
    ordered = sorted(first.items(), key=lambda item: (item[1], item[0]))
    for i in range(len(ordered) - outlets + 1):
        if ordered[i + outlets - 1][1] - ordered[i][1] <= window:
            return ordered[i:i + outlets]
    return None


def alert_id(cluster_id: str, outlets: int, window_minutes: float) -> str:
    """Deterministic: the same cluster and rule give the same id on every replica and replay."""
    digest = hashlib.sha1(f"velocity\x00{cluster_id}\x00{outlets}\x00{window_minutes:g}".encode()).hexdigest()
    return f"a_{digest[:16]}"


def _check_velocity(session: Session, event: ClusterUpdated, facets: dict, rules: LiveRules,
                    effects: Effects) -> None:
    found = velocity_window(event, rules.velocity_outlets, timedelta(minutes=rules.velocity_window_minutes))
    if found is None:
        return
    aid = alert_id(event.cluster_id, rules.velocity_outlets, rules.velocity_window_minutes)
    if session.scalar(select(AlertRow.alert_id).where(AlertRow.alert_id == aid)) is not None:
        return  # fired before (here, by another replica, or before a restart)
    alert = AlertFired(
        alert_id=aid, cluster_id=event.cluster_id, text=event.text, outlets=[outlet for outlet, _ in found],
        independent_outlets=event.independent_outlets, threshold_outlets=rules.velocity_outlets,
        window_minutes=rules.velocity_window_minutes, window_start=found[0][1], reached_at=found[-1][1],
        fired_at=_now(),
    )
    _store_alert(session, alert, facets, effects)
    enqueue(session, "alerts", ClusterKey(cluster_id=event.cluster_id), alert, effects)
    effects.alerts_fired += 1


def _store_alert(session: Session, alert: AlertFired, facets: dict, effects: Effects) -> bool:
    payload = alert.model_dump(mode="json", exclude={"schema_version"})
    stmt = _insert_ignore(session, AlertRow.__table__).values(
        alert_id=alert.alert_id, cluster_id=alert.cluster_id, fired_at=alert.fired_at, payload=payload,
    ).on_conflict_do_nothing(index_elements=["alert_id"])
    if rowcount(session.execute(stmt)) != 1:
        return False
    _write_event(session, "alert", alert.cluster_id, None, dict(facets, at=_iso(alert.fired_at)), payload, effects)
    return True


def record_alert(session: Session, alert: AlertFired, effects: Effects) -> None:
    """An alert read from the alerts topic: stored (and logged) unless this replica has it already."""
    if session.scalar(select(AlertRow.alert_id).where(AlertRow.alert_id == alert.alert_id)) is not None:
        return
    ledger = session.execute(select(ClusterRow.outlets, ClusterRow.independent_outlets, ClusterRow.appearances)
                             .where(ClusterRow.cluster_id == alert.cluster_id)).one_or_none()
    if ledger is not None:
        seen = [datetime.fromisoformat(a["seen_at"]) for a in ledger.appearances if a.get("seen_at")]
        facets = _cluster_facets(session, alert.cluster_id, alert.text, ledger.outlets,
                                 ledger.independent_outlets or alert.independent_outlets,
                                 max(seen) if seen else alert.reached_at, alert.fired_at)
    else:
        facets = _cluster_facets(session, alert.cluster_id, alert.text, alert.outlets, alert.independent_outlets,
                                 alert.reached_at, alert.fired_at)
    _store_alert(session, alert, facets, effects)


# --------------------------------------------------------------------------------------------------
# Feedback


def feedback_values(feedback: FeedbackRecorded) -> dict:
    return feedback.model_dump(exclude={"schema_version"})


def record_feedback(session: Session, feedback: FeedbackRecorded, effects: Effects) -> None:
    """Feedback read from the feedback topic (given here or at another replica): stored once."""
    stmt = _insert_ignore(session, FeedbackRow.__table__).values(**feedback_values(feedback)) \
        .on_conflict_do_nothing(index_elements=["feedback_id"])
    if rowcount(session.execute(stmt)) == 1:
        effects.feedback_rows += 1
