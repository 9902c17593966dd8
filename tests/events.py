"""Builders of the events the processors publish, for tests that feed the query side directly.

Each builder fills what a test does not care about with plain defaults; keyword arguments set
any other field of the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from schemas import ArticleReceived, ClaimDetected, ClusterAppearance, ClusterUpdated


def article(article_id: str, outlet: str, at: datetime, version: int = 1, **fields) -> ArticleReceived:
    """An article version received at `at`."""
    values = dict(article_id=article_id, version=version, content_hash=f"{article_id}{version}", outlet=outlet,
                  body="...", received_at=at)
    return ArticleReceived(**(values | fields))


def claim(claim_id: str, cluster_id: str, outlet: str, text: str, at: datetime, **fields) -> ClaimDetected:
    """A claim decided at `at`: the whole sentence of version 1 of article `art-<claim_id>` unless told."""
    values = dict(claim_id=claim_id, cluster_id=cluster_id, article_id=f"art-{claim_id}", version=1,
                  sentence_id=f"s-{claim_id}", text=text, start=0, end=len(text), outlet=outlet, received_at=at,
                  detected_at=at, claim_score=0.8, model_version="m1")
    return ClaimDetected(**(values | fields))


def appearance(claim: ClaimDetected, seen_at: datetime | None = None) -> ClusterAppearance:
    """The claim as its cluster's ledger lists it (seen when it was received, unless told)."""
    return ClusterAppearance(claim_id=claim.claim_id, article_id=claim.article_id, outlet=claim.outlet,
                             text=claim.text, seen_at=seen_at or claim.received_at, copy_of=claim.copy_of)


def ledger(cluster_id: str, appearances: Iterable[ClusterAppearance], updated_at: datetime | None = None,
           **fields) -> ClusterUpdated:
    """A ledger over `appearances` with the first appearance, outlets and counts as the processors make them.

    Outlets in order of first appearance; independent outlets are those with an appearance that
    is not a copy; `updated_at` defaults to the latest appearance.
    """
    items = sorted(appearances, key=lambda a: a.seen_at)
    first = items[0]
    values = dict(cluster_id=cluster_id, first_outlet=first.outlet, first_seen_at=first.seen_at,
                  first_claim_id=first.claim_id, text=first.text, outlets=list(dict.fromkeys(a.outlet for a in items)),
                  appearance_count=len(items), independent_outlets=len({a.outlet for a in items if a.copy_of is None}),
                  appearances=items, updated_at=updated_at or max(a.seen_at for a in items))
    return ClusterUpdated(**(values | fields))
