"""The incremental leaderboards equal a full recomputation, tick after tick.

Claims arrive in ticks (some received long ago, as in a replay), clusters are merged, time moves
on so claims leave the entity and cluster windows; after every tick `Incremental.refresh` must
give exactly what `compute` (a full scan of the windows) gives.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.query import leaderboards
from services.query.db import ClaimRow, ClusterRedirectRow, ClusterRow, make_engine

NAMES = ["Greece", "EU", "Chile", "Peru", "NATO", "Tuesday", "12"]
LABELS = {"Tuesday": "DATE", "12": "CARDINAL"}


def test_incremental_leaderboards_equal_a_full_recomputation(tmp_path) -> None:
    _ticks(tmp_path, leaderboards.MAX_SCAN)


def test_the_entity_window_holds_at_most_its_cap_and_still_equals_the_full_scan(tmp_path) -> None:
    """More claims in the entity window than the cap: the heap keeps the newest `cap` (as `compute`
    reads them), so memory is bounded however many claims a day brings."""
    boards, n = _ticks(tmp_path, 25)
    assert len(boards.entity_heap) == 25 < n


def _ticks(tmp_path, cap: int):
    rng = random.Random(7)
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    settings = leaderboards.LeaderboardSettings(entity_window_s=3 * 3600, cluster_window_s=3600)
    boards = leaderboards.Incremental(settings, max_entity_claims=cap)
    now = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    n = 0
    clusters = [f"c_{i}" for i in range(25)]
    for tick in range(40):
        now += timedelta(minutes=rng.choice([1, 5, 20]))
        with Session(engine) as session, session.begin():
            for _ in range(rng.randint(0, 12)):
                n += 1
                age = timedelta(minutes=rng.choice([0, 1, 30, 90, 300]))  # some already outside a window
                cluster = rng.choice(clusters)
                names = rng.sample(NAMES, rng.randint(0, 3))
                session.add(ClaimRow(
                    claim_id=f"k-{n}", cluster_id=cluster, article_id=f"a-{n}", version=1, text=f"claim {n}",
                    start=0, end=5, outlet=rng.choice("ABCDE"), url=None, claim_score=0.9, model_version="m",
                    entities=[{"text": x, "label": LABELS.get(x, "GPE"), "canonical": x, "start": 0, "end": 1}
                              for x in names + names[:1]],  # a name twice in one claim counts once
                    published_at=None, received_at=now - age, detected_at=now, seen_at=now))
            if tick % 3 == 0:  # a ledger for some clusters: its text is shown
                cluster = rng.choice(clusters)
                session.merge(ClusterRow(cluster_id=cluster, first_outlet="A", first_seen_at=now,
                                         first_claim_id="k-1", text=f"ledger of {cluster}", outlets=["A"],
                                         appearance_count=1, appearances=[], updated_at=now))
            if tick in (10, 18, 30):  # a merge, as the projection writes it
                merged, survivor = rng.sample(clusters, 2)
                clusters.remove(merged)
                session.add(ClusterRedirectRow(merged_id=merged, cluster_id=survivor))
                session.execute(update(ClusterRedirectRow).where(ClusterRedirectRow.cluster_id == merged)
                                .values(cluster_id=survivor))
                session.execute(update(ClaimRow).where(ClaimRow.cluster_id == merged).values(cluster_id=survivor))
        got = boards.refresh(engine, now)
        expected = leaderboards.compute(engine, settings, now, max_scan=cap)
        assert (got.entities, got.clusters) == (expected.entities, expected.clusters), f"tick {tick}"
        assert len(boards.entity_heap) <= cap
    assert expected.entities and expected.clusters
    assert len(boards.entity_heap) < n  # old claims left the window
    engine.dispose()
    return boards, n
