"""The claim as a desk sees it (issue 15): ClaimPublic from the projection, the new filters, dates, figures.

No broker: events go through `projection.apply` into SQLite, the claims router answers through TestClient.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas import (
    ArticleReceived,
    ArticleRevised,
    ClaimDetected,
    ClaimEnrichment,
    ClaimRevision,
)
from schemas.events import DateMention, Entity, Quantity
from services.common.http import install_error_handlers
from services.query import projection
from services.query.db import ClaimRow, make_engine
from services.query.feedlog import LiveRules
from services.query.filters import FeedFilter, matcher
from services.query.models import ClaimPublic
from services.query.routers import claims as claims_router
from tests import events as build

T0 = datetime(2026, 8, 11, 9, 0, tzinfo=timezone.utc)
NK = Entity(text="Pyongyang", label="GPE", canonical="North Korea", start=0, end=9, entity_id="country:north-korea",
            metonymy=True)
RU = Entity(text="Russia", label="GPE", canonical="Russia", start=30, end=36, entity_id="country:russia")


def _article(article_id: str, outlet: str, version: int = 1, language: str = "en") -> ArticleReceived:
    return build.article(article_id, outlet, T0, version, content_hash=f"h{version}",
                          published_at=T0 + timedelta(hours=version), language=language)


def _claim(claim_id: str, article_id: str, outlet: str, text: str, cluster: str, source: str | None,
           copy_of: str | None = None, entities=(NK, RU)) -> ClaimDetected:
    enrichment = ClaimEnrichment(
        claim_type="statistic", source=source, via="the AP" if source else None, hedged=True,
        quantities=[Quantity(text="2,300", value=2300.0, unit="container", start=20, end=25)],
        dates=[DateMention(text="last year", start=40, end=49, resolved="2025", granularity="year")])
    return build.claim(claim_id, cluster, outlet, text, T0, copy_of=copy_of, article_id=article_id, url=None,
                        published_at=T0 + timedelta(hours=1), claim_score=0.9, entities=list(entities),
                        enrichment=enrichment)


def _apply(engine, *events) -> None:
    projection.apply(engine, [projection.Consumed("t", 0, i, e) for i, e in enumerate(events)], LiveRules())


@pytest.fixture()
def engine(fresh_db_url):
    engine = make_engine(fresh_db_url("q"))
    a = _claim("k-a", "art-a", "Harbor Daily", "Pyongyang has sold 2,300 containers of shells to Russia last year.",
               "c_1", "a US official")
    b = _claim("k-b", "art-b", "Metro Courier", "Pyongyang has sold 2,300 containers of shells to Russia last year.",
               "c_1", None, copy_of="k-a")
    c = _claim("k-c", "art-c", "Valley Times", "The central bank raised rates by 25 basis points.", "c_2",
               "the Central Bank", entities=())
    ledger = build.ledger("c_1", [build.appearance(a), build.appearance(b)])
    revised = ArticleRevised(article_id="art-a", version=2, previous_version=1, revised_at=T0 + timedelta(hours=3),
                             edited=[ClaimRevision(old_claim_id="k-a", new_claim_id="k-a2", old_text=a.text,
                                                   new_text="Pyongyang has sold 2,900 containers to Russia.")])
    _apply(engine, _article("art-a", "Harbor Daily"), _article("art-a", "Harbor Daily", 2),
           _article("art-b", "Metro Courier"), _article("art-c", "Valley Times", language="en"), a, b, c, ledger,
           revised)
    return engine


@pytest.fixture()
def client(engine):
    app = FastAPI()
    app.state.engine = engine
    install_error_handlers(app)
    app.include_router(claims_router.router)
    return TestClient(app)


def test_the_projection_stores_the_enrichment_and_the_public_claim_carries_everything(engine):
    with Session(engine) as session:
        row = session.scalar(select(ClaimRow).where(ClaimRow.claim_id == "k-a"))
        assert row.enrichment["source"] == "a US official"
        claim = ClaimPublic.model_validate(row)
    assert claim.attribution.source == "a US official" and claim.attribution.via == "the AP"
    assert claim.hedged is True and claim.claim_type == "statistic"
    assert claim.quantities[0].value == 2300.0 and claim.dates[0].resolved == "2025"
    assert [e.entity_id for e in claim.entities] == ["country:north-korea", "country:russia"]
    assert claim.entities[0].metonymy is True
    assert claim.cluster is not None and claim.cluster.independent_outlets == 1 and claim.cluster.is_first
    assert claim.cluster.outlets == ["Harbor Daily", "Metro Courier"]
    assert claim.language == "en" and claim.article_versions == [1, 2]
    assert [(r.version, r.effect) for r in claim.revisions] == [(2, "edited")]
    assert claim.revisions[0].new_text.startswith("Pyongyang has sold 2,900") and claim.superseded


def test_live_events_carry_the_same_claim(engine):
    from services.query.db import FeedEventRow

    with Session(engine) as session:
        payloads = {e.claim_id: e.payload for e in session.scalars(select(FeedEventRow)
                                                                    .where(FeedEventRow.claim_id.is_not(None)))}
    assert payloads["k-b"]["copy_of"] == "k-a"
    assert payloads["k-b"]["attribution"] == {"source": None, "via": None}
    assert payloads["k-a"]["quantities"][0]["value"] == 2300.0
    assert payloads["k-a"]["entities"][0]["entity_id"] == "country:north-korea"
    assert set(ClaimPublic.model_fields) <= set(payloads["k-a"])


def test_rest_claims_carry_cluster_and_revisions(client):
    items = {c["claim_id"]: c for c in client.get("/claims").json()["items"]}
    assert items["k-b"]["copy_of"] == "k-a" and items["k-b"]["cluster"]["is_first"] is False
    assert items["k-a"]["revisions"][0]["effect"] == "edited"
    one = client.get("/claims/k-c").json()
    assert one["attribution"]["source"] == "the Central Bank" and one["cluster"] is None


@pytest.mark.parametrize("query, expected", [
    ("source=central%20bank", ["k-c"]),
    ("source=US%20OFFICIAL", ["k-a"]),
    ("entity_id=country:north-korea", ["k-a", "k-b"]),
    ("entity_id=country:north", []),
    ("language=en", ["k-a", "k-b", "k-c"]),
    ("language=de", []),
    ("outlet=harbor%20daily", ["k-a"]),
    ("outlet=HARBOR%20DAILY&source=official", ["k-a"]),
    ("q=2300", ["k-a", "k-b"]),
    ("q=2,300%20shells", ["k-a", "k-b"]),
    ("since=2026-08-11", ["k-a", "k-b", "k-c"]),
    ("since=2026-08-12", []),
    ("until=2026-08-12", ["k-a", "k-b", "k-c"]),
])
def test_rest_filters(client, query, expected):
    response = client.get(f"/claims?{query}")
    assert response.status_code == 200, response.text
    assert sorted(c["claim_id"] for c in response.json()["items"]) == expected


def test_bad_filters_name_the_field(client):
    response = client.get("/claims?since=yesterday")
    assert response.status_code == 422
    assert "since" in str(response.json()["detail"])
    response = client.get("/claims?entity_id=North%20Korea")
    assert response.status_code == 422 and "entity_id" in str(response.json()["detail"])


def test_live_matcher_reads_the_payload_for_ids_sources_and_language(engine):
    from services.query.db import FeedEventRow

    with Session(engine) as session:
        rows = session.scalars(select(FeedEventRow).where(FeedEventRow.claim_id.is_not(None)))
        events = {e.claim_id: e for e in rows}
    cases = [(FeedFilter(entity_id="country:north-korea"), {"k-a", "k-b"}),
             (FeedFilter(source="central bank"), {"k-c"}),
             (FeedFilter(language="EN", outlet="valley times"), {"k-c"}),
             (FeedFilter(q="2300"), {"k-a", "k-b"})]
    for f, expected in cases:
        m = matcher([f])
        assert {cid for cid, e in events.items() if m(e.type, e.facets, e.payload)} == expected, f
    # A cluster event has no claim payload: the entity id is looked up in the gazetteer by name.
    m = matcher([FeedFilter(entity_id="country:north-korea", types=["cluster"])])
    assert m("cluster", {"entities": ["north korea"]}, {"cluster_id": "c_1"})


def test_watchlist_warnings_for_unknown_entities_and_aliases(engine):
    from services.query.routers.watchlists import entity_warnings

    assert entity_warnings(engine, {"entity": "north korea"}) == []  # seen in a claim
    assert entity_warnings(engine, {"entity": "Russia", "entity_id": "country:russia"}) == []
    [unknown] = entity_warnings(engine, {"entity": "Nort Korea"})
    assert "has not been seen" in unknown and "North Korea" in unknown.split("did you mean:")[1]
    [alias] = entity_warnings(engine, {"entity": "DPRK"})
    assert "'North Korea'" in alias and "country:north-korea" in alias
    [bad_id] = entity_warnings(engine, {"entity_id": "country:north-kore"})
    assert "country:north-korea" in bad_id


@pytest.fixture()
def query_client(engine, tmp_path):
    from services.query.routers import watchlists
    from services.query.settings import QuerySettings

    class Hooks:
        async def reload(self):
            pass

    app = FastAPI()
    app.state.engine = engine
    app.state.settings = QuerySettings(db_url=str(engine.url), webhook_allow_private=True)
    app.state.webhooks = Hooks()
    install_error_handlers(app)
    app.include_router(watchlists.router)
    app.include_router(claims_router.router)
    return TestClient(app, base_url="http://127.0.0.1")


def test_webhooks_are_signed_with_a_secret_per_watchlist(query_client, engine):
    import asyncio
    import json

    import httpx

    from services.query.live import FeedEvent
    from services.query.settings import QuerySettings
    from services.query.webhooks import SIGNATURE_HEADER, WebhookDispatcher, _load_targets, verify

    made = query_client.post("/watchlists", json={"name": "korea", "entity": "Nort Korea",
                                                  "webhook_url": "https://hooks.example/x"})
    assert made.status_code == 201, made.text
    secret = made.json()["webhook_secret"]
    assert secret and len(secret) >= 32 and "did you mean" in made.json()["warnings"][0]
    wid = made.json()["id"]
    assert query_client.get(f"/watchlists/{wid}").json()["webhook_secret"] is None  # never read back
    patched = query_client.patch(f"/watchlists/{wid}", json={"entity": "North Korea"}).json()
    assert patched["webhook_secret"] == secret and patched["warnings"] == []  # kept across edits
    other = query_client.post("/watchlists", json={"name": "b", "outlet": "x", "webhook_url": "https://h.example/",
                                                   "webhook_secret": "s" * 20}).json()
    assert other["webhook_secret"] == "s" * 20

    [target, _] = sorted(_load_targets(engine), key=lambda t: t.watchlist_id)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async def deliver():
        dispatcher = WebhookDispatcher(engine, QuerySettings(db_url=str(engine.url)))
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await dispatcher.deliver(client, target, FeedEvent(7, "claim", {}, {"claim_id": "k-a"}))

    assert asyncio.run(deliver())
    [request] = seen
    assert verify(secret, request.content, request.headers[SIGNATURE_HEADER])
    assert not verify("another-secret-0000", request.content, request.headers[SIGNATURE_HEADER])
    assert not verify(secret, request.content + b" ", request.headers[SIGNATURE_HEADER])
    assert json.loads(request.content)["event"]["seq"] == 7


def test_revisions_list_newest_first_with_the_article(engine):
    from services.query.routers import revisions

    app = FastAPI()
    app.state.engine = engine
    app.include_router(revisions.router)
    items = TestClient(app).get("/revisions").json()["items"]
    assert [(i["article_id"], i["version"], i["outlet"]) for i in items] == [("art-a", 2, "Harbor Daily")]
    assert items[0]["edited"][0]["old_claim_id"] == "k-a"
    assert TestClient(app).get("/revisions?outlet=harbor%20daily").json()["items"]
    assert not TestClient(app).get("/revisions?outlet=Valley%20Times").json()["items"]
