"""Two query replicas on one PostgreSQL database: one writer, the same feed, one alert and one webhook.

Both processes are real query services on the test's own namespace and database. The first to
start holds the writer lease (services/query/lease.py) and projects; the other serves the rows
it writes. Stopping the writer hands the lease to the other, which resumes from the stored
offsets, and nothing is fired or delivered twice.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
import pytest

from schemas import AlertFired, topic_name
from tests.integration.livefeed import (
    QueryProcess,
    Receiver,
    claim,
    ledger,
    now,
    produce,
    query_service,
    read_sse,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration

SETTINGS = {"QUERY_VELOCITY_OUTLETS": "3", "QUERY_VELOCITY_WINDOW_MINUTES": "30", "QUERY_STREAM_PING_S": "1",
            "QUERY_WEBHOOK_ALLOW_PRIVATE": "true", "QUERY_LEASE_RETRY_S": "0.5"}


def _role(query: QueryProcess) -> str:
    return "follower" if httpx.get(f"{query.url}/healthz").json().get("detail") == "follower" else "writer"


def _feed(query: QueryProcess) -> list[tuple[int, str]]:
    return [(e["id"], e["event"]) for e in read_sse(f"{query.url}/claims/stream", {"after": 0, "types": "all"})]


def _claim_ids(query: QueryProcess) -> list[str]:
    return [c["claim_id"] for c in httpx.get(f"{query.url}/claims", params={"limit": 100}).json()["items"]]


def test_two_replicas_share_the_feed_and_fire_each_alert_and_webhook_once(kafka_bootstrap, namespace, postgres_server,
                                                                          tmp_path):
    ns = f"{namespace}rep"
    url = postgres_server.create_database("replicas")
    with query_service(kafka_bootstrap, ns, tmp_path, "query-rep-a", url, **SETTINGS) as a, \
            query_service(kafka_bootstrap, ns, tmp_path, "query-rep-b", url, **SETTINGS) as b, Receiver() as receiver:
        assert (_role(a), _role(b)) == ("writer", "follower")
        # The watchlist is made through the follower: the writer, who sends webhooks, picks it up.
        hook = httpx.post(f"{b.url}/watchlists", json={"name": "all", "types": ["all"], "webhook_url": receiver.url})
        assert hook.status_code == 201, hook.text
        r = uuid.uuid4().hex[:8]
        cluster = f"c_{r}"
        t0 = now() - timedelta(minutes=5)
        outlets = [f"{o} {r}" for o in "ABC"]
        claims = [claim(f"k-{r}{i}", cluster, outlet, f"The {r} dam holds 40 million cubic metres.",
                        received_at=t0 + timedelta(minutes=i)) for i, outlet in enumerate(outlets)]
        apps = [(c.claim_id, c.outlet, c.received_at, None) for c in claims]
        time.sleep(2 * float(SETTINGS["QUERY_LEASE_RETRY_S"]) + 0.5)  # the writer's next watchlist reload
        produce(kafka_bootstrap, ns, claims)
        wait_for(lambda: len(_claim_ids(b)) == 3, message="the claims at the follower")
        produce(kafka_bootstrap, ns, [ledger(cluster, claims[0].text, apps[:2]), ledger(cluster, claims[0].text, apps)])
        for query in (a, b):
            wait_for(lambda q=query: len(httpx.get(f"{q.url}/alerts", params={"cluster": cluster}).json()["items"]),
                     message=f"the alert at {query.name}")
        # The same feed, event for event, from both replicas.
        feed_a = _feed(a)
        assert feed_a == _feed(b)
        assert [kind for _, kind in feed_a] == ["claim", "appearance", "appearance", "cluster", "cluster", "alert"]
        assert sorted(_claim_ids(a)) == sorted(_claim_ids(b)) == sorted(c.claim_id for c in claims)
        # One alert on the topic, one delivery per event, each event once.
        wait_for(lambda: len(receiver.delivered()) >= len(feed_a), message="a webhook per event")
        fired = wait_for(lambda: [x for x in read_topic(kafka_bootstrap, topic_name("alerts", ns), AlertFired)
                                  if x.cluster_id == cluster], message="the alert on the topic")
        time.sleep(3)  # room for a duplicate to show
        assert len([x for x in read_topic(kafka_bootstrap, topic_name("alerts", ns), AlertFired)
                    if x.cluster_id == cluster]) == len(fired) == 1
        deliveries = [d["delivery"] for d in receiver.delivered()]
        assert len(deliveries) == len(set(deliveries)) == len(feed_a)

        # The writer stops: the follower takes the lease, resumes from the stored offsets and goes on.
        a.stop()
        wait_for(lambda: _role(b) == "writer", timeout=30, message="the follower to take over")
        late = claim(f"k-{r}late", f"c_{r}late", f"D {r}", f"A {r} late claim about the dam.")
        produce(kafka_bootstrap, ns, [late])
        wait_for(lambda: late.claim_id in _claim_ids(b), message="the late claim at the new writer")
        feed_b = _feed(b)
        assert feed_b[:len(feed_a)] == feed_a and [kind for _, kind in feed_b[len(feed_a):]] == ["claim"]
        wait_for(lambda: len(receiver.delivered()) >= len(feed_b), message="the late claim's webhook")
        time.sleep(2)
        deliveries = [d["delivery"] for d in receiver.delivered()]
        assert len(deliveries) == len(set(deliveries)) == len(feed_b)
        assert len(httpx.get(f"{b.url}/alerts", params={"cluster": cluster}).json()["items"]) == 1
