"""The live feed's event log, claim-velocity alerts and replicated feedback.

The builders here are pure: `services/query/replay.py` calls them while it replays a batch, and
`projection.apply` writes their events in the transaction of the rows they describe and the
consumed offsets, so a replayed message finds its row already there and writes no second event.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.orm import Session

from schemas import AlertFired, ClaimDetected, ClusterUpdated, FeedbackRecorded, encode
from services.query.db import OutboxRow


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


def enqueue(session: Session, thing: str, key: BaseModel, value: BaseModel, effects: Effects | None = None) -> None:
    """Write an event to the outbox; the publisher sends it to `<namespace>.<thing>.v1` after the commit."""
    session.execute(insert(OutboxRow).values(**outbox_row(thing, key, value)))
    if effects is not None:
        effects.outbox_rows += 1


def outbox_row(thing: str, key: BaseModel, value: BaseModel) -> dict:
    return {"thing": thing, "key": encode(key).decode(), "value": encode(value).decode(), "created_at": _now()}


# --------------------------------------------------------------------------------------------------
# Claims


def claim_facets(claim: ClaimDetected, claim_type: str | None, seen_at: datetime, independent: int) -> dict:
    """What the live filters look at in a `claim` / `appearance` event."""
    return {
        "cluster_id": claim.cluster_id,
        "outlets": [claim.outlet],
        "entities": sorted({e.canonical.lower() for e in claim.entities}),
        "claim_types": [claim_type] if claim_type else [],
        "score": claim.claim_score,
        "independent_outlets": independent,
        "text": claim.text,
        "seen_at": _iso(seen_at),
        "at": _iso(claim.received_at),
    }


# --------------------------------------------------------------------------------------------------
# Clusters


@dataclass
class ClusterClaims:
    """What a cluster's facets show of its claims: the best score, claim types and entities."""

    score: float | None = None
    types: set[str] = field(default_factory=set)
    entities: set[str] = field(default_factory=set)  # canonical names, lower case

    def add(self, score: float | None, types=(), entities=()) -> None:
        if score is not None and (self.score is None or score > self.score):
            self.score = score
        self.types.update(types)
        self.entities.update(entities)

    def absorb(self, other: ClusterClaims) -> None:
        self.add(other.score, other.types, other.entities)


def cluster_facets(cluster_id: str, claims: ClusterClaims | None, text_: str, outlets: list[str], independent: int,
                   seen_at: datetime | None, at: datetime) -> dict:
    claims = claims or ClusterClaims()
    return {"cluster_id": cluster_id, "outlets": list(outlets), "entities": sorted(claims.entities),
            "claim_types": sorted(claims.types), "score": claims.score, "independent_outlets": independent,
            "text": text_, "seen_at": _iso(seen_at), "at": _iso(at)}


def ledger_changed(before: tuple | None, event: ClusterUpdated) -> bool:
    """`before`: (appearance_count, independent_outlets, outlets, updated_at) of the stored ledger, if any."""
    return before is None or (before[0], before[1], list(before[2]), before[3]) != (
        event.appearance_count, event.independent_outlets, list(event.outlets), event.updated_at)


def latest_appearance(event: ClusterUpdated):
    return max(event.appearances, key=lambda a: a.seen_at) if event.appearances else None


def cluster_payload(event: ClusterUpdated) -> dict:
    latest = latest_appearance(event)
    return {
        "cluster_id": event.cluster_id, "text": event.text, "first_outlet": event.first_outlet,
        "first_seen_at": _iso(event.first_seen_at), "first_claim_id": event.first_claim_id,
        "outlets": event.outlets, "outlet_count": len(event.outlets),
        "independent_outlets": event.independent_outlets, "appearance_count": event.appearance_count,
        "update_of": event.update_of, "updated_at": _iso(event.updated_at),
        "latest_appearance": latest.model_dump(mode="json") if latest else None,
    }


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


def velocity_alert(event: ClusterUpdated, rules: LiveRules) -> AlertFired | None:
    """The alert this ledger fires under `rules`, if it reaches the threshold (whether fired before or not)."""
    found = velocity_window(event, rules.velocity_outlets, timedelta(minutes=rules.velocity_window_minutes))
    if found is None:
        return None
    return AlertFired(
        alert_id=alert_id(event.cluster_id, rules.velocity_outlets, rules.velocity_window_minutes),
        cluster_id=event.cluster_id, text=event.text, outlets=[outlet for outlet, _ in found],
        independent_outlets=event.independent_outlets, threshold_outlets=rules.velocity_outlets,
        window_minutes=rules.velocity_window_minutes, window_start=found[0][1], reached_at=found[-1][1],
        fired_at=_now(),
    )


def alert_payload(alert: AlertFired) -> dict:
    return alert.model_dump(mode="json", exclude={"schema_version"})


# --------------------------------------------------------------------------------------------------
# Feedback


def feedback_values(feedback: FeedbackRecorded) -> dict:
    return feedback.model_dump(exclude={"schema_version"})
