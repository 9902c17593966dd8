"""The batched projection gives the same API-visible state whatever the batches are.

One event stream, as the processors and other replicas would produce it (articles and their
versions, annotations before and after their claims, copies, ledgers growing, a velocity alert,
two merges in a chain, a replayed claim and a stale ledger of a merged cluster, an alert and
feedback read back from their topics, a revision), is projected into fresh SQLite databases:
once as one batch, once one event per batch, and once in batches of seven. Everything the API
shows must be identical: the claims feed and each claim, free-text search (FTS5), clusters
(merged ids answering as the survivor), articles with their sentences, revisions, alerts,
trending and the leaderboards, the live feed's event log with its payloads, the outbox and
feedback. Only wall-clock stamps (`fired_at`, the log's `created_at`) are left out.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas import (
    AlertFired,
    ArticleReceived,
    ArticleRevised,
    ClaimDetected,
    ClaimEnrichment,
    ClaimRevision,
    ClusterMerged,
    ClusterUpdated,
    FeedbackRecorded,
    SentenceAnnotated,
)
from schemas.events import Entity
from schemas.ids import claim_id
from services.common.http import install_error_handlers
from services.query import leaderboards, projection
from services.query.db import FeedbackRow, FeedEventRow, OutboxRow, SentenceRow, fts_enabled, make_engine
from services.query.feedlog import Effects, LiveRules
from services.query.routers import articles, claims, clusters, revisions, trending
from tests import events as build

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(minutes=50)
CITY = Entity(text="Patras", label="GPE", canonical="Patras", start=0, end=6, entity_id="city:patras")
BANK = Entity(text="the central bank", label="ORG", canonical="Central Bank", start=0, end=16)
FIGURE = Entity(text="12", label="CARDINAL", canonical="12", start=20, end=22)


class Stream:
    """The events of a small news day, built the way the processors publish them."""

    def __init__(self) -> None:
        self.events: list = []
        self.ledgers: dict[str, ClusterUpdated] = {}

    def article(self, article_id: str, outlet: str, minute: int, sentences: list[tuple[str, str | None, dict]],
                version: int = 1, claims_first: bool = False, ledgers_last: bool = False) -> list[ClaimDetected]:
        """`sentences`: (text, cluster id or None for a non-claim, options). Returns its claims."""
        at = T0 + timedelta(minutes=minute)
        self.events.append(build.article(article_id, outlet, at, version, body=" ".join(t for t, _, _ in sentences),
                                          published_at=at - timedelta(minutes=5), language="en",
                                          url=f"https://{outlet.lower().replace(' ', '')}.example/{article_id}"))
        annotations, claims_ = [], []
        for index, (text, cluster, options) in enumerate(sentences):
            entities = options.get("entities", [CITY, FIGURE])
            sid = f"s-{article_id}-{version}-{index}"
            annotations.append(SentenceAnnotated(
                sentence_id=sid, article_id=article_id, version=version, index=index, count=len(sentences), text=text,
                start=index * 100, end=index * 100 + len(text), outlet=outlet, received_at=at,
                claim_score=0.9 if cluster else 0.1, is_claim=cluster is not None, model_version="m1",
                entities=entities, cluster_id=options.get("annotated_cluster")))
            if cluster is None:
                continue
            claim = build.claim(
                claim_id(article_id, text), cluster, outlet, text, at, copy_of=options.get("copy_of"),
                article_id=article_id, version=version, sentence_id=sid, start=index * 100,
                end=index * 100 + len(text), url=None, published_at=at - timedelta(minutes=5),
                claim_score=options.get("score", 0.8), entities=entities, merged_clusters=options.get("merged", []),
                enrichment=ClaimEnrichment(claim_type=options.get("type", "statistic"), source=options.get("source"),
                                           hedged=False))
            claims_.append(claim)
        claim_events = []
        for claim in claims_:
            claim_events.append(claim)
            claim_events.append(self.ledger(claim))
        if ledgers_last:  # the ledgers published after all the article's claims
            claim_events.sort(key=lambda e: isinstance(e, ClusterUpdated))
        self.events += (claim_events + annotations) if claims_first else (annotations + claim_events)
        return claims_

    def ledger(self, claim: ClaimDetected) -> ClusterUpdated:
        before = self.ledgers.get(claim.cluster_id)
        ledger = build.ledger(claim.cluster_id, [*(before.appearances if before else []), build.appearance(claim)],
                               updated_at=claim.received_at, merged_from=before.merged_from if before else [])
        self.ledgers[claim.cluster_id] = ledger
        return ledger

    def merge(self, merged: str, into: str, claim: ClaimDetected, minute: int) -> None:
        old, survivor = self.ledgers.pop(merged), self.ledgers[into]
        appearances = sorted([*survivor.appearances, *old.appearances], key=lambda a: a.seen_at)
        self.ledgers[into] = survivor.model_copy(update={
            "appearances": appearances, "appearance_count": len(appearances),
            "outlets": list(dict.fromkeys(a.outlet for a in appearances)),
            "merged_from": [*survivor.merged_from, merged, *old.merged_from],
            "updated_at": T0 + timedelta(minutes=minute)})
        self.events += [ClusterMerged(cluster_id=into, merged_id=merged, claim_id=claim.claim_id,
                                      merged_at=T0 + timedelta(minutes=minute)), self.ledgers[into]]


def news_day() -> list:
    s = Stream()
    ferry = "A ferry with 12 passengers sank near Patras on Monday."
    a = s.article("a1", "Harbor Daily", 0, [(ferry, "c_ferry", {}), ("Weather was calm.", None, {"entities": []}),
                                             ("The central bank raised rates by 25 basis points.", "c_rates",
                                              {"entities": [BANK], "type": "event", "source": "the central bank"})])
    s.article("b1", "Metro Courier", 3, [(ferry, "c_ferry", {"copy_of": a[0].claim_id})], claims_first=True)
    s.article("c1", "Valley Times", 6, [("Twelve people were aboard the ferry that sank off Patras.", "c_ferry2",
                                         {"score": 0.95})])
    s.article("d1", "Coast Wire", 9, [("The ferry near Patras carried 12 passengers.", "c_ferry3", {})],
              claims_first=True)
    s.article("e1", "Island Post", 12, [("Officials said the Patras ferry had 12 on board.", "c_ferry",
                                         {"source": "officials", "type": "quote"})])
    s.article("f1", "Bay News", 15, [("Rates rose by a quarter point, the central bank said.", "c_rates",
                                      {"entities": [BANK], "type": "event"})])
    # Two claims of a new cluster in one article, their ledgers after both: the second is an appearance.
    s.article("i1", "Port Gazette", 16, [("The port reopened on Tuesday.", "c_port", {"entities": []}),
                                         ("The port was reopened on Tuesday morning.", "c_port", {"entities": []})],
              ledgers_last=True)
    # A claim shows c_ferry2 to be c_ferry3's claim (merged), then c_ferry3's to be c_ferry's: a chain.
    link = s.article("g1", "Harbor Daily", 20, [("Twelve passengers were on the Patras ferry.", "c_ferry3",
                                                  {"merged": ["c_ferry2"]})])
    s.merge("c_ferry2", "c_ferry3", link[0], 21)
    closing = s.article("h1", "Metro Courier", 24, [("A ferry carrying 12 sank near Patras, coastguard says.",
                                                      "c_ferry", {"merged": ["c_ferry3"]})])
    s.merge("c_ferry3", "c_ferry", closing[0], 25)
    stale = next(e for e in s.events if isinstance(e, ClusterUpdated) and e.cluster_id == "c_ferry2")
    s.events += [a[0], stale]  # replays: a claim already projected, a ledger of a cluster merged since
    # A new version of a1 edits its ferry claim; the revision follows.
    edited = "A ferry with 14 passengers sank near Patras on Monday."
    v2 = s.article("a1", "Harbor Daily", 30, [(edited, "c_ferry", {}), ("Weather was calm.", None, {"entities": []})],
                   version=2)
    s.events.append(ArticleRevised(article_id="a1", version=2, previous_version=1,
                                   revised_at=T0 + timedelta(minutes=31),
                                   edited=[ClaimRevision(old_claim_id=a[0].claim_id, new_claim_id=v2[0].claim_id,
                                                         old_text=ferry, new_text=edited)],
                                   withdrawn=[ClaimRevision(old_claim_id=a[1].claim_id, old_text=a[1].text)]))
    # Read back from their topics: an alert another replica fired for c_rates, feedback (twice: a replay).
    s.events.append(AlertFired(alert_id="a_other", cluster_id="c_rates", text=a[1].text,
                               outlets=["Harbor Daily", "Bay News"], independent_outlets=2, threshold_outlets=2,
                               window_minutes=60, window_start=T0, reached_at=T0 + timedelta(minutes=15),
                               fired_at=T0 + timedelta(minutes=16)))
    feedback = FeedbackRecorded(feedback_id="f-1", kind="claim", claim_id=a[0].claim_id, cluster_id="c_ferry",
                                model_version="m1", check_worthy=True, recorded_at=T0 + timedelta(minutes=40))
    s.events += [feedback, feedback]
    # An annotation that names its cluster itself, for a sentence that had none.
    s.events.append(SentenceAnnotated(sentence_id="s-a1-1-1", article_id="a1", version=1, index=1, count=3,
                                      text="Weather was calm.", start=100, end=117, outlet="Harbor Daily",
                                      received_at=T0, claim_score=0.1, is_claim=False, model_version="m1",
                                      cluster_id="c_rates"))
    return s.events


TOPIC = {ArticleReceived: "articles", SentenceAnnotated: "annotations", ClaimDetected: "claims",
         ClusterUpdated: "clusters", ClusterMerged: "clusters", ArticleRevised: "revisions", AlertFired: "alerts",
         FeedbackRecorded: "feedback"}


def project(path, events: list, size: int) -> tuple[object, Effects, list[str]]:
    engine = make_engine(f"sqlite:///{path}")
    consumed = [projection.Consumed(TOPIC[type(e)], 0, i, e) for i, e in enumerate(events)]
    effects, new = Effects(), []
    for i in range(0, len(consumed), size):
        new += [c.claim_id for c in projection.apply(engine, consumed[i:i + size], LiveRules(), effects)]
    return engine, effects, new


def visible(engine) -> dict:
    """Everything a client can see, wall-clock stamps left out."""
    app = FastAPI()
    app.state.engine = engine
    install_error_handlers(app)
    for module in (claims, clusters, articles, revisions, trending):
        app.include_router(module.router)
    client = TestClient(app)
    feed = client.get("/claims", params={"limit": 200}).json()["items"]
    ids = [c["claim_id"] for c in feed]
    state = {"feed": feed, "claims": [client.get(f"/claims/{i}").json() for i in ids]}
    state["search"] = {q: [c["claim_id"] for c in client.get("/claims", params={"q": q}).json()["items"]]
                       for q in ("ferry", "Patras", "central bank", "passengers")}
    state["clusters"] = {c: client.get(f"/clusters/{c}").json()
                         for c in ("c_ferry", "c_ferry2", "c_ferry3", "c_rates", "c_none")}
    state["articles"] = {a: client.get(f"/articles/{a}").json() for a in ("a1", "b1", "c1", "d1", "e1", "f1", "g1")}
    state["article_v1"] = client.get("/articles/a1", params={"version": 1}).json()
    state["revisions"] = client.get("/revisions").json()
    state["alerts"] = sorted(({k: v for k, v in a.items() if k != "fired_at"}
                              for a in client.get("/alerts").json()["items"]), key=lambda a: a["alert_id"])
    state["trending"] = [t for t in client.get("/trending", params={"min_outlets": 1}).json()["items"]]
    boards = leaderboards.compute(engine, leaderboards.LeaderboardSettings(), now=NOW)
    state["leaderboards"] = (boards.entities, boards.clusters)
    with Session(engine) as session:
        state["log"] = [(e.seq, e.type, e.cluster_id, e.claim_id, _stamped(e.type, e.facets, "at"),
                         _stamped(e.type, e.payload, "fired_at"))
                        for e in session.scalars(select(FeedEventRow).order_by(FeedEventRow.seq))]
        state["outbox"] = [(o.thing, o.key, o.value.split('"fired_at"')[0]) for o in session.scalars(select(OutboxRow))]
        state["feedback"] = [(f.feedback_id, f.claim_id, f.check_worthy) for f in session.scalars(select(FeedbackRow))]
        state["sentences"] = [(r.sentence_id, r.cluster_id, r.text) for r in
                              session.scalars(select(SentenceRow).order_by(SentenceRow.sentence_id))]
    return state


def _stamped(kind: str, values: dict, key: str) -> dict:
    return {k: v for k, v in values.items() if not (kind == "alert" and k == key)}


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    events = news_day()
    tmp = tmp_path_factory.mktemp("projection")
    return {size: project(tmp / f"batch-{size}.db", events, size) for size in (len(events), 1, 7)}


def test_one_batch_and_one_event_per_batch_show_the_same(projected):
    whole, single, sevens = (visible(projected[size][0]) for size in sorted(projected, reverse=True))
    for name in whole:
        assert whole[name] == single[name], name
        assert whole[name] == sevens[name], name


def test_the_stream_exercises_what_it_should(projected):
    engine, effects, new = projected[max(projected)]
    assert fts_enabled(engine)
    state = visible(engine)
    assert len(new) == len(set(new)) == 12  # the replayed claim is not new again
    # Velocity (3 independent outlets in 60 min): c_ferry3 once it holds c_ferry2, c_ferry once it holds both.
    assert effects.alerts_fired == 2 and effects.outbox_rows == 2 and effects.feedback_rows == 1
    kinds = [entry[1] for entry in state["log"]]
    assert kinds.count("claim") == 5 and kinds.count("appearance") == 7 and kinds.count("alert") == 3
    # Merges: every ferry claim and sentence is in c_ferry; the merged ids answer as it.
    assert {c["cluster_id"] for c in state["feed"] if "ferry" in c["text"].lower() or "Patras" in c["text"]} \
        == {"c_ferry"}
    assert state["clusters"]["c_ferry2"]["cluster_id"] == state["clusters"]["c_ferry3"]["cluster_id"] == "c_ferry"
    assert state["clusters"]["c_none"] == {"detail": "no cluster 'c_none'"}
    sentences = {sid: cluster for sid, cluster, _ in state["sentences"]}
    assert sentences["s-c1-1-0"] == sentences["s-d1-1-0"] == sentences["s-b1-1-0"] == "c_ferry"
    assert sentences["s-a1-1-1"] == "c_rates"  # named by its annotation
    # The live payload is the claim as it was then; the REST claim is the claim now (revised since).
    first = next(e for e in state["log"] if e[1] == "claim" and e[2] == "c_ferry")
    assert first[5]["revisions"] == [] and first[5]["cluster"] is None  # its ledger comes after it
    copy = next(e for e in state["log"] if e[1] == "appearance" and e[2] == "c_ferry")
    assert copy[5]["cluster"]["appearance_count"] == 1 and copy[5]["copy_of"] == first[3]
    assert first[5]["seq"] == next(c["seq"] for c in state["feed"] if c["claim_id"] == first[3])
    rest = next(c for c in state["claims"] if c["claim_id"] == first[3])
    assert rest["superseded"] and rest["article_versions"] == [1, 2]
    assert state["search"]["central bank"] and state["search"]["ferry"]
    assert sorted(a["cluster_id"] for a in state["alerts"]) == ["c_ferry", "c_ferry3", "c_rates"]
    assert [q for q, found in state["search"].items() if not found] == []
