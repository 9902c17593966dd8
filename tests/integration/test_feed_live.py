"""The live feed on a real broker and a real query service: filters, resume, slow clients, alerts, trending.

The query service here is the test's own, on its own topic namespace, and the test writes the
claims and cluster ledgers to the topics itself, waiting for each step to be projected. So the
feed's content and order are known exactly: what the processors would have sent, without NLP.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from datetime import timedelta

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from schemas import AlertFired, topic_name
from tests.databases import BACKENDS, make_db_url
from tests.integration.livefeed import (
    QueryProcess,
    Receiver,
    claim,
    key_of,
    ledger,
    metric,
    now,
    produce,
    query_service,
    read_sse,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration

QUEUE = 20  # events queued per live client before it is dropped
WINDOW = 30  # velocity window, minutes


@pytest.fixture(scope="module", params=BACKENDS)
def feedq(request, kafka_bootstrap, namespace, tmp_path_factory):
    """The test's own query service, once on SQLite and once on PostgreSQL (each on its own namespace)."""
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"feedq-{backend}")
    with query_service(kafka_bootstrap, f"{namespace}live{backend[:2]}", workdir, f"query-live-{backend}",
                       make_db_url(request, backend, workdir, "feedq"),
                       QUERY_STREAM_QUEUE_SIZE=str(QUEUE), QUERY_STREAM_PING_S="1", QUERY_STREAM_SEND_TIMEOUT_S="3",
                       QUERY_VELOCITY_OUTLETS="3", QUERY_VELOCITY_WINDOW_MINUTES=str(WINDOW),
                       QUERY_WEBHOOK_ALLOW_PRIVATE="true", QUERY_WEBHOOK_BACKOFF_S="0.2") as query:
        query.backend = backend
        yield query


def _head(query: QueryProcess) -> int:
    return httpx.get(f"{query.url}/claims", params={"limit": 1}).json()["stream_after"]


def _project(query: QueryProcess, events: list, check, message: str) -> None:
    produce(query.bootstrap, query.namespace, events)
    wait_for(check, timeout=60, message=message)


@pytest.fixture(scope="module")
def dataset(feedq):
    """Five claims in three clusters, then their ledgers: the feed gets claims, appearances, clusters, an alert."""
    r = uuid.uuid4().hex[:8]
    alpha, beta, gamma, delta = (f"{name}-{r}" for name in ("Alpha", "Beta", "Gamma", "Delta"))
    c1, c2, c3 = f"c_{r}1", f"c_{r}2", f"c_{r}3"
    t0 = now()
    claims = [
        claim(f"k-{r}1", c1, alpha, f"The {r} bridge collapse injured 12 people in Paris.", score=0.9,
              entities=["Paris"], claim_type="statistic"),
        claim(f"k-{r}2", c1, beta, f"Twelve people were hurt when the {r} bridge collapsed in Paris.", score=0.7,
              entities=["Paris"], claim_type="statistic"),
        claim(f"k-{r}3", c1, gamma, f"A {r} collapse hurt twelve.", score=0.6, claim_type="event"),
        claim(f"k-{r}4", c2, alpha, f"The {r} mayor of Berlin said the budget doubles.", score=0.95,
              entities=["Berlin"], claim_type="quote"),
        claim(f"k-{r}5", c3, delta, f"Both {r} cities near the Élysée plan new bridges, officials said.", score=0.55,
              entities=["Paris", "Berlin"]),
    ]
    head = _head(feedq)
    _project(feedq, claims, lambda: len(httpx.get(f"{feedq.url}/claims", params={"q": r}).json()["items"]) == 5,
             "the five claims")
    ledgers = [
        ledger(c1, claims[0].text, [(f"k-{r}1", alpha, t0, None), (f"k-{r}2", beta, t0 + timedelta(minutes=5), None),
                                    (f"k-{r}3", gamma, t0 + timedelta(minutes=10), None)]),
        ledger(c2, claims[3].text, [(f"k-{r}4", alpha, t0, None)]),
        ledger(c3, claims[4].text, [(f"k-{r}5", delta, t0, None)]),
    ]
    _project(feedq, ledgers, lambda: all(httpx.get(f"{feedq.url}/clusters/{c}").status_code == 200
                                         for c in (c1, c2, c3)), "the three ledgers")
    k = {i: f"k-{r}{i}" for i in range(1, 6)}
    every = {("claim", k[1]), ("appearance", k[2]), ("appearance", k[3]), ("claim", k[4]), ("claim", k[5]),
             ("cluster", c1), ("cluster", c2), ("cluster", c3), ("alert", c1)}
    return {"r": r, "head": head, "k": k, "c": (c1, c2, c3), "outlets": (alpha, beta, gamma, delta), "every": every}


def _sse(feedq, dataset, **params) -> list[dict]:
    events = read_sse(f"{feedq.url}/claims/stream", {"after": dataset["head"], "types": "all", **params})
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), "seqs must be strictly increasing"
    return events


def test_the_feed_has_claims_appearances_clusters_and_an_alert(feedq, dataset):
    # Without `types`, claims only (what /claims/stream always carried) ...
    claims_only = read_sse(f"{feedq.url}/claims/stream", {"after": dataset["head"]})
    assert {key_of(e) for e in claims_only} == {k for k in dataset["every"] if k[0] in ("claim", "appearance")}
    # ... with types=all, cluster and alert events too.
    events = _sse(feedq, dataset)
    assert {key_of(e) for e in events} == dataset["every"]
    assert len(events) == len(dataset["every"])
    c1 = dataset["c"][0]
    cluster = next(e for e in events if key_of(e) == ("cluster", c1))
    assert cluster["data"]["independent_outlets"] == 3 and cluster["data"]["appearance_count"] == 3
    alert = next(e for e in events if e["event"] == "alert")
    assert alert["id"] > cluster["id"]
    assert alert["data"]["outlets"] == list(dataset["outlets"][:3]) and alert["data"]["threshold_outlets"] == 3
    first = next(e for e in events if key_of(e) == ("claim", dataset["k"][1]))
    assert first["data"]["claim_type"] == "statistic" and first["data"]["outlet"] == dataset["outlets"][0]


@pytest.mark.parametrize("params, expected", [
    ({"outlet": "{alpha}"}, {("claim", "k1"), ("claim", "k4"), ("cluster", "c1"), ("cluster", "c2"), ("alert", "c1")}),
    ({"entity": "PARIS"}, {("claim", "k1"), ("appearance", "k2"), ("claim", "k5"), ("cluster", "c1"),
                           ("cluster", "c3"), ("alert", "c1")}),
    ({"claim_type": "statistic"}, {("claim", "k1"), ("appearance", "k2"), ("cluster", "c1"), ("alert", "c1")}),
    ({"min_score": "0.9"}, {("claim", "k1"), ("claim", "k4"), ("cluster", "c1"), ("cluster", "c2"), ("alert", "c1")}),
    ({"min_outlets": "3"}, {("cluster", "c1"), ("alert", "c1")}),
    ({"q": "bridge"}, {("claim", "k1"), ("appearance", "k2"), ("cluster", "c1"), ("alert", "c1")}),
    ({"q": "ELYSEE {r}"}, {("claim", "k5"), ("cluster", "c3")}),
    ({"types": "cluster,alert"}, {("cluster", "c1"), ("cluster", "c2"), ("cluster", "c3"), ("alert", "c1")}),
    ({"outlet": "{alpha}", "claim_type": "quote"}, {("claim", "k4"), ("cluster", "c2")}),
])
def test_sse_filters_on_the_server(feedq, dataset, params, expected):
    names = {"k1": dataset["k"][1], "k2": dataset["k"][2], "k4": dataset["k"][4], "k5": dataset["k"][5],
             "c1": dataset["c"][0], "c2": dataset["c"][1], "c3": dataset["c"][2]}
    params = {key: value.format(alpha=dataset["outlets"][0], r=dataset["r"]) for key, value in params.items()}
    got = {key_of(e) for e in _sse(feedq, dataset, **params)}
    assert got == {(kind, names[name]) for kind, name in expected}


def _ws_read(url: str, count: int, timeout: float = 30) -> list[dict]:
    """The first `count` WebSocket messages (an unexpected event among them shows in the comparison)."""
    with connect(url, open_timeout=10) as ws:
        return [json.loads(ws.recv(timeout=timeout)) for _ in range(count)]


def test_websocket_filters_and_watchlist(feedq, dataset):
    ws = feedq.url.replace("http://", "ws://") + "/claims/ws"
    c1, c2, _ = dataset["c"]
    expected = {("claim", dataset["k"][1]), ("claim", dataset["k"][4]), ("cluster", c1), ("cluster", c2),
                ("alert", c1)}
    got = _ws_read(f"{ws}?after={dataset['head']}&outlet={dataset['outlets'][0]}&types=all", len(expected))
    assert {key_of(m) for m in got} == expected
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
    # A saved watchlist as a stream filter, ANDed with the query's own filters.
    created = httpx.post(f"{feedq.url}/watchlists", json={"name": "paris claims", "entity": "paris",
                                                          "types": ["claim", "appearance"]})
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    got = _ws_read(f"{ws}?after={dataset['head']}&watchlist={wid}&min_score=0.6", 2)
    assert {key_of(m) for m in got} == {("claim", dataset["k"][1]), ("appearance", dataset["k"][2])}
    sse = {key_of(e) for e in _sse(feedq, dataset, watchlist=str(wid), min_score="0.6")}
    assert sse == {("claim", dataset["k"][1]), ("appearance", dataset["k"][2])}
    listed = httpx.get(f"{feedq.url}/claims", params={"watchlist": wid, "q": dataset["r"]}).json()["items"]
    assert {c["claim_id"] for c in listed} == {dataset["k"][1], dataset["k"][2], dataset["k"][5]}


def test_bad_stream_parameters_are_4xx(feedq):
    for params in ({"min_score": "2"}, {"types": "claim,nope"}, {"q": "!!!"}, {"after": "-1"},
                   {"claim_type": "rumour"}, {"min_outlets": "0"}):
        assert httpx.get(f"{feedq.url}/claims/stream", params=params).status_code == 422, params
    assert httpx.get(f"{feedq.url}/claims/stream", headers={"Last-Event-ID": "abc"}).status_code == 422
    assert httpx.get(f"{feedq.url}/claims/stream", params={"watchlist": 999999}).status_code == 404
    assert httpx.get(f"{feedq.url}/claims", params={"q": "..."}).status_code == 422
    ws = feedq.url.replace("http://", "ws://") + "/claims/ws"
    for query, status in (("min_score=2", 422), ("types=bogus", 422), ("watchlist=999999", 404)):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{ws}?{query}", open_timeout=10)
        assert refused.value.response.status_code == status, query


def test_resume_after_disconnect_has_no_gap_and_no_repeat(feedq, dataset):
    full = [e["id"] for e in _sse(feedq, dataset)]
    assert len(full) == len(dataset["every"])
    # SSE: stop after four events, resume with Last-Event-ID.
    first = read_sse(f"{feedq.url}/claims/stream", {"after": dataset["head"], "types": "all"}, stop_at_ping=False,
                     want=4)
    rest = read_sse(f"{feedq.url}/claims/stream", {"types": "all"}, headers={"Last-Event-ID": str(first[-1]["id"])})
    assert [e["id"] for e in first + rest] == full
    # Last-Event-ID wins over ?after= (a browser reconnecting keeps its original URL).
    again = read_sse(f"{feedq.url}/claims/stream", {"after": dataset["head"], "types": "all"},
                     headers={"Last-Event-ID": str(full[-2])})
    assert [e["id"] for e in again] == full[-1:]
    # WebSocket: the same with ?after=.
    ws = feedq.url.replace("http://", "ws://") + "/claims/ws"
    with connect(f"{ws}?after={dataset['head']}&types=all", open_timeout=10) as conn:
        part = [json.loads(conn.recv(timeout=30)) for _ in range(5)]
    with connect(f"{ws}?after={part[-1]['seq']}&types=all", open_timeout=10) as conn:
        part += [json.loads(conn.recv(timeout=30)) for _ in range(len(full) - 5)]
    assert [m["seq"] for m in part] == full


def test_live_events_arrive_after_the_catch_up_without_repeats(feedq, dataset):
    head = _head(feedq)
    r = uuid.uuid4().hex[:8]
    ws = feedq.url.replace("http://", "ws://") + "/claims/ws"
    with connect(f"{ws}?q={r}", open_timeout=10) as conn:  # from now on
        produce(feedq.bootstrap, feedq.namespace, [claim(f"k-{r}{i}", f"c_{r}{i}", "Live Post", f"Live {r} number {i}.")
                                                   for i in range(3)])
        got = [json.loads(conn.recv(timeout=60)) for _ in range(3)]
    assert sorted(m["data"]["claim_id"] for m in got) == [f"k-{r}{i}" for i in range(3)]
    assert all(m["type"] == "claim" and m["seq"] > head for m in got)


def _raw_stream(port: int, path: str) -> socket.socket:
    """A client that sends the request and then reads nothing (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def test_a_client_that_does_not_read_is_dropped_and_memory_stays_bounded(feedq):
    base = feedq.url
    clients = metric(base, "claimstream_query_stream_clients", transport="sse")
    drops = metric(base, "claimstream_query_stream_drops_total", transport="sse", reason="send_timeout")
    overflows = metric(base, "claimstream_query_stream_overflows_total", transport="sse")
    r = uuid.uuid4().hex[:8]
    slow = _raw_stream(feedq.port, f"/claims/stream?q={r}")
    wait_for(lambda: metric(base, "claimstream_query_stream_clients", transport="sse") == clients + 1,
             message="the slow client connected")
    # A reading client on the same events is not affected.
    fast_events: list = []
    padding = " ".join(["filler"] * 3000)  # ~20 KB per event: the socket buffers fill after a few hundred
    batch = [claim(f"k-{r}{i:04d}", f"c_{r}{i:04d}", "Flood Times", f"Flood {r} item {i}. {padding}")
             for i in range(600)]
    try:
        reader = threading.Thread(target=lambda: fast_events.extend(
            read_sse(f"{base}/claims/stream", {"q": r, "types": "claim"}, stop_at_ping=False, want=len(batch),
                     timeout=120)), daemon=True)
        reader.start()
        wait_for(lambda: metric(base, "claimstream_query_stream_clients", transport="sse") == clients + 2,
                 message="the reading client connected")
        produce(feedq.bootstrap, feedq.namespace, batch)
        peak = 0.0

        def dropped() -> bool:
            nonlocal peak
            peak = max(peak, metric(base, "claimstream_query_stream_queue_max_events"))
            return metric(base, "claimstream_query_stream_drops_total", transport="sse", reason="send_timeout") > drops

        wait_for(dropped, timeout=120, message="the slow client dropped")
        assert peak <= QUEUE, f"a client queue held {peak} events; the limit is {QUEUE}"
        # The slow client's queue overflowed (it went back to the log) instead of growing.
        assert metric(base, "claimstream_query_stream_overflows_total", transport="sse") > overflows
        reader.join(timeout=120)
        assert len(fast_events) == len(batch), "the reading client must get every event"
        wait_for(lambda: metric(base, "claimstream_query_stream_clients", transport="sse") == clients,
                 message="both clients gone")
        assert metric(base, "claimstream_query_stream_queued_events") == 0
        # The server closed the slow stream: reading now ends at EOF instead of waiting for more.
        slow.settimeout(30)
        received = b""
        while chunk := slow.recv(1 << 16):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200")
    finally:
        slow.close()


def test_a_websocket_client_that_does_not_read_is_closed(feedq):
    base = feedq.url
    drops = metric(base, "claimstream_query_stream_drops_total", transport="ws", reason="send_timeout")
    r = uuid.uuid4().hex[:8]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", feedq.port))
    sock.sendall((f"GET /claims/ws?q={r} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    try:
        sock.settimeout(30)
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        padding = " ".join(["filler"] * 3000)
        produce(feedq.bootstrap, feedq.namespace, [claim(f"k-{r}{i:04d}", f"c_{r}{i:04d}", "Flood Times",
                                                         f"Flood {r} item {i}. {padding}") for i in range(600)])
        wait_for(lambda: metric(base, "claimstream_query_stream_drops_total", transport="ws", reason="send_timeout")
                 > drops, timeout=120, message="the websocket client dropped")
        wait_for(lambda: metric(base, "claimstream_query_stream_clients", transport="ws") == 0,
                 message="the websocket client gone")
    finally:
        sock.close()


def test_trending_ranks_the_clusters_spreading_fastest(feedq):
    r = uuid.uuid4().hex[:8]
    fast, slow = f"c_{r}fast", f"c_{r}slow"
    events = [claim(f"k-{r}f{i}", fast, f"Outlet {i} {r}", f"Fast {r} claim.") for i in range(4)]
    events += [claim(f"k-{r}s0", slow, f"Outlet 0 {r}", f"Slow {r} claim."),
               claim(f"k-{r}s1", slow, f"Outlet 1 {r}", f"Slow {r} claim.", copy_of=f"k-{r}s0"),
               claim(f"k-{r}s2", slow, f"Outlet 2 {r}", f"Slow {r} claim."),
               claim(f"k-{r}s3", slow, f"Outlet 3 {r}", f"Slow {r} claim.", received_at=now() - timedelta(hours=3))]
    _project(feedq, events, lambda: len(httpx.get(f"{feedq.url}/claims", params={"q": r}).json()["items"]) == 8,
             "the trending claims")
    trending = httpx.get(f"{feedq.url}/trending", params={"window_minutes": 60, "limit": 100}).json()
    ids = [item["cluster_id"] for item in trending["items"]]
    assert fast in ids and slow in ids and ids.index(fast) < ids.index(slow)
    by_id = {item["cluster_id"]: item for item in trending["items"]}
    # The copy and the claim from three hours ago do not count.
    assert (by_id[fast]["outlets_in_window"], by_id[fast]["appearances_in_window"]) == (4, 4)
    assert (by_id[slow]["outlets_in_window"], by_id[slow]["appearances_in_window"]) == (2, 3)
    outlets = [item["outlets_in_window"] for item in trending["items"]]
    assert outlets == sorted(outlets, reverse=True)
    narrow = httpx.get(f"{feedq.url}/trending", params={"min_outlets": 3, "limit": 100}).json()["items"]
    assert fast in {i["cluster_id"] for i in narrow} and slow not in {i["cluster_id"] for i in narrow}
    assert httpx.get(f"{feedq.url}/trending", params={"window_minutes": 0}).status_code == 422


def _alerts_for(query: QueryProcess, cluster: str) -> list[dict]:
    return httpx.get(f"{query.url}/alerts", params={"cluster": cluster}).json()["items"]


def _published(query: QueryProcess, cluster: str) -> list[AlertFired]:
    return [a for a in read_topic(query.bootstrap, topic_name("alerts", query.namespace), AlertFired)
            if a.cluster_id == cluster]


def test_velocity_alert_fires_once_across_updates_restarts_and_rebuilds(request, feedq, tmp_path):
    r = uuid.uuid4().hex[:8]
    cv, cs = f"c_{r}v", f"c_{r}s"
    receiver = Receiver().start()
    try:
        hook = httpx.post(f"{feedq.url}/watchlists", json={"name": "velocity", "types": ["alert"],
                                                          "webhook_url": receiver.url})
        assert hook.status_code == 201, hook.text
        t0 = now() - timedelta(minutes=20)
        seen = {o: t0 + timedelta(minutes=m)
                for o, m in (("A", 0), ("B", 5), ("C", 8), ("D", 12), ("E", 15), ("F", 16), ("G", 17))}
        apps = {o: (f"k-{r}{o}", f"{o} {r}", seen[o], f"k-{r}A" if o == "C" else None) for o in seen}

        def step(outlets: str) -> None:
            update = ledger(cv, f"Velocity {r} claim.", [apps[o] for o in outlets])
            _project(feedq, [update], lambda: (httpx.get(f"{feedq.url}/clusters/{cv}").json()
                                               .get("appearance_count") == len(outlets)), f"ledger {outlets}")

        step("AB")
        step("ABC")  # C copies A: still two independent outlets
        assert _alerts_for(feedq, cv) == []
        step("ABCD")  # A, B, D within 12 minutes
        fired = _alerts_for(feedq, cv)
        assert len(fired) == 1 and fired[0]["outlets"] == [f"A {r}", f"B {r}", f"D {r}"]
        step("ABCDE")
        produce(feedq.bootstrap, feedq.namespace, [ledger(cv, f"Velocity {r} claim.", [apps[o] for o in "ABCD"])])
        step("ABCDEF")  # a replayed older ledger on the way changes nothing either
        slow_apps = [(f"k-{r}s{i}", f"S{i} {r}", t0 + timedelta(minutes=40 * i), None) for i in range(3)]
        _project(feedq, [ledger(cs, f"Slow {r} claim.", slow_apps)],
                 lambda: httpx.get(f"{feedq.url}/clusters/{cs}").status_code == 200, "the slow ledger")
        assert _alerts_for(feedq, cs) == []  # three outlets, but over 80 minutes
        assert len(_alerts_for(feedq, cv)) == 1
        alert_id = fired[0]["alert_id"]
        wait_for(lambda: _published(feedq, cv), message="the alert on the alerts topic")
        wait_for(lambda: [d for d in receiver.delivered() if d["body"]["event"]["data"]["cluster_id"] == cv],
                 message="the alert webhook")

        # Restart on the same database: the next update does not fire again.
        feedq.stop()
        feedq.start()
        step("ABCDEFG")
        assert [a["alert_id"] for a in _alerts_for(feedq, cv)] == [alert_id]

        # A new replica with an empty database learns the alert from the topic and does not fire it again.
        with query_service(feedq.bootstrap, feedq.namespace, feedq.workdir, "query-live-rebuilt",
                           make_db_url(request, feedq.backend, tmp_path, "rebuilt"),
                           QUERY_VELOCITY_OUTLETS="3", QUERY_VELOCITY_WINDOW_MINUTES=str(WINDOW)) as rebuilt:
            wait_for(lambda: httpx.get(f"{rebuilt.url}/clusters/{cv}").status_code == 200, message="the replay")
            assert [a["alert_id"] for a in _alerts_for(rebuilt, cv)] == [alert_id]
        published = _published(feedq, cv)
        assert [a.alert_id for a in published] == [alert_id], published
        assert len([d for d in receiver.delivered() if d["body"]["event"]["data"]["cluster_id"] == cv]) == 1
    finally:
        receiver.stop()
