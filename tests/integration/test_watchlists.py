"""Watchlists, webhooks and feedback on the real pipeline (ingest → processors → query).

A second query service on the stack's namespace runs with QUERY_API_KEY set, so writes need
the key; the stack's own query service (no key) shows that feedback reaches every replica
through the feedback topic.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from schemas import FeedbackRecorded, topic_name
from tests.conftest import ROOT
from tests.databases import BACKENDS, make_db_url
from tests.integration.livefeed import QueryProcess, Receiver, metric, query_service, read_sse, read_topic, wait_for

pytestmark = pytest.mark.integration

KEY = "test-query-key"
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module", params=BACKENDS)
def keyed(request, stack):
    """A keyed replica on the stack's namespace, once on SQLite and once on PostgreSQL."""
    backend = request.param
    with query_service(stack.bootstrap, stack.namespace, stack.workdir, f"query-keyed-{backend}",
                       make_db_url(request, backend, stack.workdir, "keyed"), QUERY_API_KEY=KEY,
                       QUERY_WEBHOOK_ALLOW_PRIVATE="true", QUERY_WEBHOOK_BACKOFF_S="0.2",
                       QUERY_STREAM_PING_S="1") as query:
        yield query


def test_watchlist_crud_writes_need_the_key_and_reads_do_not(keyed):
    base = f"{keyed.url}/watchlists"
    body = {"name": "North Korea statistics", "entity": "North Korea", "claim_type": "statistic", "min_score": 0.6}
    assert httpx.post(base, json=body).status_code == 401
    assert httpx.post(base, json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    created = httpx.post(base, json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    item = created.json()
    wid = item["id"]
    assert created.headers["location"] == f"/watchlists/{wid}"
    assert item["filters"]["entity"] == "North Korea" and item["filters"]["min_score"] == 0.6
    assert item["webhook_url"] is None
    # Reads are open.
    assert wid in [w["id"] for w in httpx.get(base).json()["items"]]
    assert httpx.get(f"{base}/{wid}").json()["name"] == "North Korea statistics"
    # PUT replaces everything: filters not given are gone.
    put = {"name": "Tallinn", "q": "tallinn port"}
    assert httpx.put(f"{base}/{wid}", json=put).status_code == 401
    replaced = httpx.put(f"{base}/{wid}", json=put, headers=AUTH).json()
    assert replaced["filters"]["q"] == "tallinn port" and replaced["filters"]["entity"] is None
    # PATCH changes only what is given; null clears a filter.
    patched = httpx.patch(f"{base}/{wid}", json={"min_outlets": 2, "q": None, "outlet": "Harbor Daily"},
                          headers=AUTH).json()
    assert patched["name"] == "Tallinn" and patched["filters"]["min_outlets"] == 2
    assert patched["filters"]["q"] is None and patched["filters"]["outlet"] == "Harbor Daily"
    # ... but it cannot leave the watchlist without any filter.
    emptied = httpx.patch(f"{base}/{wid}", json={"min_outlets": None, "outlet": None}, headers=AUTH)
    assert emptied.status_code == 422
    assert httpx.delete(f"{base}/{wid}").status_code == 401
    assert httpx.delete(f"{base}/{wid}", headers=AUTH).status_code == 204
    assert httpx.get(f"{base}/{wid}").status_code == 404
    assert httpx.delete(f"{base}/{wid}", headers=AUTH).status_code == 404
    assert httpx.patch(f"{base}/{wid}", json={"name": "x"}, headers=AUTH).status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "nothing to watch"},
    {"name": "", "outlet": "X"},
    {"outlet": "X"},
    {"name": "n", "outlet": "X", "surprise": 1},
    {"name": "n", "min_score": 1.5},
    {"name": "n", "min_outlets": 0},
    {"name": "n", "q": "?!"},
    {"name": "n", "types": ["claim", "rumour"]},
    {"name": "n", "claim_type": "gossip"},
    {"name": "n", "outlet": "X", "webhook_url": "ftp://example.org/hook"},
    {"name": "n", "outlet": "X", "webhook_url": "not a url"},
    {"name": "n" * 201, "outlet": "X"},
])
def test_invalid_watchlists_are_422(keyed, body):
    response = httpx.post(f"{keyed.url}/watchlists", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_watchlist_ids_and_bodies_are_checked(keyed, stack):
    assert httpx.get(f"{keyed.url}/watchlists/abc").status_code == 422
    assert httpx.get(f"{keyed.url}/watchlists/0").status_code == 422
    assert httpx.post(f"{keyed.url}/watchlists", content=b"{not json", headers=AUTH | {
        "Content-Type": "application/json"}).status_code == 422
    # Without QUERY_WEBHOOK_ALLOW_PRIVATE (the stack's own query service), a webhook must be public.
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.1.2.3/x"):
        refused = httpx.post(f"{stack.query}/watchlists", json={"name": "n", "outlet": "X", "webhook_url": url})
        assert refused.status_code == 422, (url, refused.text)


def _article(run: str, outlet: str, slug: str) -> dict:
    return {"id": f"{run}-{slug}", "outlet": outlet, "title": "Tram line approved",
            "body": f"The city council approved a budget of 48 million euros for the {slug} tram line on Tuesday, "
                    "officials said. Construction of the 12-kilometre line will start in March 2027, the transport "
                    "department said."}


def _all_claims(query: QueryProcess, article_id: str, outlet: str) -> list[dict]:
    """Every claim of the article, once the projection has them all (the article view says how many)."""

    def done():
        view = httpx.get(f"{query.url}/articles/{article_id}")
        if view.status_code != 200:
            return None
        wanted = sum(1 for s in view.json()["sentences"] if s["is_claim"])
        items = httpx.get(f"{query.url}/claims", params={"outlet": outlet}).json()["items"]
        return items if wanted and len(items) == wanted else None

    return wait_for(done, timeout=90, message=f"every claim of {article_id}")


def test_webhook_is_retried_and_the_watchlist_filters_the_stream(keyed, stack):
    run = uuid.uuid4().hex[:8]
    watched, other = f"Webhook Gazette {run}", f"Other Gazette {run}"
    receiver = Receiver(script=[500]).start()  # every delivery: 500 first, then 200
    try:
        created = httpx.post(f"{keyed.url}/watchlists", headers=AUTH, json={
            "name": "gazette", "outlet": watched, "types": ["claim", "appearance"], "webhook_url": receiver.url})
        assert created.status_code == 201, created.text
        wid = created.json()["id"]
        head = httpx.get(f"{keyed.url}/claims", params={"limit": 1}).json()["stream_after"]
        delivered_before = metric(keyed.url, "claimstream_query_webhook_deliveries_total")
        failed_before = metric(keyed.url, "claimstream_query_webhook_failures_total", reason="status")
        for outlet, slug in ((watched, f"elm{run}"), (other, f"oak{run}")):
            assert httpx.post(f"{stack.ingest}/articles", json=_article(run, outlet, slug), timeout=30).status_code \
                == 202
        claims = _all_claims(keyed, f"{run}-elm{run}", watched)
        _all_claims(keyed, f"{run}-oak{run}", other)
        ids = {c["claim_id"] for c in claims}
        wait_for(lambda: {r["body"]["event"]["data"]["claim_id"] for r in receiver.delivered()} == ids,
                 timeout=60, message="a delivered webhook per watched claim")
        for delivery in {r["delivery"] for r in receiver.requests}:
            attempts = [r for r in receiver.requests if r["delivery"] == delivery]
            assert [a["status"] for a in attempts] == [500, 200], attempts
            assert attempts[0]["body"] == attempts[1]["body"]
            assert attempts[1]["body"]["watchlist"] == {"id": wid, "name": "gazette"}
            assert attempts[1]["body"]["event"]["data"]["outlet"] == watched
            assert attempts[1]["event"] in ("claim", "appearance")
        wait_for(lambda: metric(keyed.url, "claimstream_query_webhook_deliveries_total") - delivered_before
                 == len(ids), message="the deliveries counted")
        assert metric(keyed.url, "claimstream_query_webhook_failures_total", reason="status") - failed_before \
            == len(ids)
        # The same watchlist filters the live stream: the watched claims only, nothing from the other outlet.
        events = read_sse(f"{keyed.url}/claims/stream", {"after": head, "watchlist": wid})
        assert {e["data"]["claim_id"] for e in events} == ids
        assert all(e["event"] in ("claim", "appearance") for e in events)
    finally:
        receiver.stop()


SAMPLES = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def two_claims(keyed, stack):
    """Two claims of different clusters from one posted article, once projected by the keyed replica."""
    run = uuid.uuid4().hex[:8]
    article = dict(SAMPLES[3], id=f"{run}-feedback", url=SAMPLES[3]["url"].replace(".example/", f".example/{run}/"))
    assert httpx.post(f"{stack.ingest}/articles", json=article, timeout=30).status_code == 202

    def claims():
        items = httpx.get(f"{keyed.url}/claims", params={"limit": 200}).json()["items"]
        mine = [c for c in items if c["article_id"] == article["id"]]
        return mine if len({c["cluster_id"] for c in mine}) >= 2 else None

    mine = wait_for(claims, timeout=90, message="two claims of the posted article")
    first = mine[0]
    second = next(c for c in mine if c["cluster_id"] != first["cluster_id"])
    return first, second


def test_feedback_is_stored_published_and_summarised(keyed, stack, two_claims):
    a, b = two_claims
    version = a["model_version"]
    url = f"{keyed.url}/claims/{a['claim_id']}/feedback"
    assert httpx.post(url, json={"check_worthy": True}).status_code == 401
    assert httpx.post(url, json={"check_worthy": True}, headers={"X-API-Key": "nope"}).status_code == 401
    for bad in ({}, {"check_worthy": "yes"}, {"check_worthy": True, "extra": 1}, {"check_worthy": True,
                                                                                  "note": "x" * 2001}):
        assert httpx.post(url, json=bad, headers=AUTH).status_code == 422, bad
    assert httpx.post(f"{keyed.url}/claims/k-unknown/feedback", json={"check_worthy": True},
                      headers=AUTH).status_code == 404

    def give(claim: dict, worthy: bool) -> dict:
        response = httpx.post(f"{keyed.url}/claims/{claim['claim_id']}/feedback",
                              json={"check_worthy": worthy, "note": "reviewed"}, headers=AUTH)
        assert response.status_code == 201, response.text
        return response.json()

    def precision(base: str, kind: str) -> dict:
        versions = httpx.get(f"{base}/feedback/summary").json()["versions"]
        return next((v[kind] for v in versions if v["model_version"] == version),
                    {"judged": 0, "positive": 0, "precision": None})

    def after(before: dict, judged: int, positive: int) -> dict:
        # Other tests on the shared stack may have judged other claims of this model version
        # (their claims, never these two fresh ones): compare with what was there before.
        j, p = before["judged"] + judged, before["positive"] + positive
        return {"judged": j, "positive": p, "precision": p / j if j else None}

    def gauge_is(value: float) -> bool:
        found = metric(keyed.url, "claimstream_query_feedback_precision_ratio", model_version=version, kind="claim")
        return found is not None and abs(found - value) < 1e-6

    before = precision(keyed.url, "claim")
    given = [give(a, True), give(b, False)]
    assert given[0]["model_version"] == version and given[0]["cluster_id"] == a["cluster_id"]
    expected = after(before, 2, 1)
    assert precision(keyed.url, "claim") == expected
    wait_for(lambda: gauge_is(expected["precision"]), message="the precision gauge")
    given.append(give(b, True))  # a reviewer changes their mind: the latest verdict counts
    expected = after(before, 2, 2)
    assert precision(keyed.url, "claim") == expected
    wait_for(lambda: gauge_is(expected["precision"]), message="the precision gauge after the change")

    before_cluster = precision(keyed.url, "cluster")
    cluster_url = f"{keyed.url}/clusters/{a['cluster_id']}/feedback"
    assert httpx.post(cluster_url, json={"claim_id": a["claim_id"], "correct_member": True}).status_code == 401
    member = httpx.post(cluster_url, json={"claim_id": a["claim_id"], "correct_member": True}, headers=AUTH)
    assert member.status_code == 201, member.text
    given.append(member.json())
    assert httpx.post(cluster_url, json={"claim_id": b["claim_id"], "correct_member": False},
                      headers=AUTH).status_code == 422  # b is in another cluster
    assert httpx.post(f"{keyed.url}/clusters/c_unknown/feedback", json={"claim_id": a["claim_id"],
                                                                        "correct_member": True},
                      headers=AUTH).status_code == 404
    assert httpx.post(cluster_url, json={"claim_id": a["claim_id"]}, headers=AUTH).status_code == 422
    assert precision(keyed.url, "cluster") == after(before_cluster, 1, 1)

    # Published on the feedback topic ...
    ids = {g["feedback_id"] for g in given}

    def published():
        found = {f.feedback_id: f for f in read_topic(stack.bootstrap, topic_name("feedback", stack.namespace),
                                                      FeedbackRecorded)}
        return found if ids <= found.keys() else None

    found = wait_for(published, message="the feedback on the feedback topic")
    assert found[given[1]["feedback_id"]].check_worthy is False
    assert found[given[-1]["feedback_id"]].kind == "cluster" and found[given[-1]["feedback_id"]].correct_member
    # ... so the stack's own query replica has the same estimate.
    wait_for(lambda: precision(stack.query, "claim") == precision(keyed.url, "claim") == after(before, 2, 2)
             and precision(stack.query, "cluster") == precision(keyed.url, "cluster")
             == after(before_cluster, 1, 1),
             message="the feedback replicated to the other query service")
