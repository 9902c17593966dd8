"""Reviewer feedback: stored, published through the outbox, turned into precision per model version.

- claim feedback (`check_worthy`): the precision of the claim model is the share of judged claims
  whose latest verdict is check-worthy;
- cluster feedback (`correct_member`): the precision of the clustering is the share of judged
  (cluster, claim) memberships whose latest verdict is correct, grouped by the claim's model
  version (the clustering has no version of its own).

Every replica reads the feedback topic back into its database, so the estimate is the same on
all of them and survives a rebuild.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone

from prometheus_client import Counter, Gauge
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from schemas import FeedbackKey, FeedbackRecorded
from services.common.logging import get_logger
from services.common.metrics import init_labels
from services.query.db import ClaimRow, ClusterRow, FeedbackRow
from services.query.feedlog import enqueue, feedback_values
from services.query.models import FeedbackSummaryPublic, ModelFeedbackPublic, PrecisionPublic

PRECISION = Gauge("claimstream_query_feedback_precision_ratio",
                  "Share of judged claims that reviewers found check-worthy (kind=claim) or of judged cluster "
                  "members they found correct (kind=cluster), per claim model version",
                  ["model_version", "kind"])
JUDGED = Gauge("claimstream_query_feedback_judged_items", "Claims (kind=claim) or memberships (kind=cluster) with "
               "feedback, per claim model version", ["model_version", "kind"])
RECORDED = Counter("claimstream_query_feedback_recorded_total", "Feedback given through this replica's API", ["kind"])
FEEDBACK_KINDS = ("claim", "cluster")
init_labels(RECORDED, FEEDBACK_KINDS)

_exported: set[str] = set()
log = get_logger("query.feedback")


class NotFound(LookupError):
    pass


class NotAMember(ValueError):
    pass


def record(engine: Engine, *, kind: str, claim_id: str, cluster_id: str | None = None,
           check_worthy: bool | None = None, correct_member: bool | None = None,
           note: str | None = None) -> FeedbackRecorded:
    """Store one verdict and put it in the outbox, in one transaction."""
    with Session(engine) as session, session.begin():
        claim = session.execute(select(ClaimRow.cluster_id, ClaimRow.model_version)
                                .where(ClaimRow.claim_id == claim_id)).one_or_none()
        if kind == "cluster" and not _cluster_known(session, cluster_id):
            raise NotFound(f"no cluster {cluster_id!r}")
        if claim is None:
            raise NotFound(f"no claim {claim_id!r}")
        if kind == "cluster" and claim.cluster_id != cluster_id:
            raise NotAMember(f"claim {claim_id!r} is in cluster {claim.cluster_id!r}, not {cluster_id!r}")
        feedback = FeedbackRecorded(
            feedback_id=f"f-{uuid.uuid4().hex[:20]}", kind=kind, claim_id=claim_id, cluster_id=claim.cluster_id,
            model_version=claim.model_version, check_worthy=check_worthy, correct_member=correct_member, note=note,
            recorded_at=datetime.now(timezone.utc),
        )
        session.execute(insert(FeedbackRow).values(**feedback_values(feedback)))
        enqueue(session, "feedback", FeedbackKey(claim_id=claim_id), feedback)
    RECORDED.labels(kind).inc()
    return feedback


def _cluster_known(session: Session, cluster_id: str | None) -> bool:
    # The ledger may lag behind its claims: a cluster with a projected claim is known too.
    return session.scalar(select(ClusterRow.cluster_id).where(ClusterRow.cluster_id == cluster_id)) is not None \
        or session.scalar(select(ClaimRow.seq).where(ClaimRow.cluster_id == cluster_id).limit(1)) is not None


def summary(engine: Engine) -> FeedbackSummaryPublic:
    """Precision per model version from the latest verdict per claim (and per cluster membership)."""
    latest: dict[tuple, tuple[str, bool, datetime]] = {}
    count = 0
    with Session(engine) as session:
        rows = session.execute(select(FeedbackRow.kind, FeedbackRow.claim_id, FeedbackRow.cluster_id,
                                      FeedbackRow.model_version, FeedbackRow.check_worthy, FeedbackRow.correct_member,
                                      FeedbackRow.recorded_at)
                               .order_by(FeedbackRow.recorded_at, FeedbackRow.feedback_id))
        for kind, claim_id, cluster_id, version, worthy, member, at in rows:
            count += 1
            verdict = worthy if kind == "claim" else member
            if verdict is None:
                continue
            key = (kind, claim_id) if kind == "claim" else (kind, cluster_id, claim_id)
            latest[key] = (version, bool(verdict), at)
    judged: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    last_at: dict[str, datetime] = {}
    for key, (version, verdict, at) in latest.items():
        cell = judged[(version, key[0])]
        cell[0] += 1
        cell[1] += int(verdict)
        last_at[version] = max(at, last_at.get(version, at))

    def precision(version: str, kind: str) -> PrecisionPublic:
        total, positive = judged.get((version, kind), (0, 0))
        return PrecisionPublic(judged=total, positive=positive, precision=positive / total if total else None)

    versions = sorted(last_at, key=lambda v: last_at[v], reverse=True)
    return FeedbackSummaryPublic(feedback_count=count, versions=[
        ModelFeedbackPublic(model_version=v, claim=precision(v, "claim"), cluster=precision(v, "cluster"))
        for v in versions])


def export(result: FeedbackSummaryPublic, max_versions: int, known: Sequence[str] = ()) -> None:
    """Set the gauges for the `max_versions` most recently judged versions; remove the others.

    The `known` versions (the configured claim model) are exported even before any verdict, so
    the panel has its series from the first scrape: judged 0 and precision NaN (0 of 0 judged has
    no precision, and a 0 would read as "every claim was wrong").
    """
    cells = {_label(v.model_version): {"claim": v.claim, "cluster": v.cluster}
             for v in result.versions[:max_versions]}
    for version in known:
        cells.setdefault(_label(version), {})
    for label, kinds in cells.items():
        for kind in FEEDBACK_KINDS:
            cell = kinds.get(kind)
            JUDGED.labels(label, kind).set(cell.judged if cell else 0)
            PRECISION.labels(label, kind).set(cell.precision if cell and cell.precision is not None else math.nan)
    for label in _exported - cells.keys():
        for kind in FEEDBACK_KINDS:
            for gauge in (PRECISION, JUDGED):
                try:
                    gauge.remove(label, kind)
                except KeyError:
                    pass
    _exported.clear()
    _exported.update(cells)


def _label(version: str) -> str:
    return " ".join(version.split())[:80]


def known_versions() -> list[str]:
    """The configured claim model's version (read from its metadata), for `export(known=...)`."""
    from services.nlp import claims

    try:
        return [claims.model_version()]
    except Exception as exc:  # noqa: BLE001 - an unreadable model file must not stop the query service
        log.warning("claim model version unknown: no feedback series before the first verdict", error=repr(exc))
        return []


def refresh(engine: Engine, max_versions: int, known: Sequence[str] = ()) -> FeedbackSummaryPublic:
    result = summary(engine)
    export(result, max_versions, known)
    return result
