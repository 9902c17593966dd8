"""The matching state survives a killed worker, and candidate search spreads over two workers."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import PROCESSORS_WORKER as PROCESSORS, free_port, start_service, stop_service, wait_for

pytestmark = pytest.mark.integration

def _letters(n: int = 6) -> str:
    """A unique lowercase word: place names made of it stay capitalised single words."""
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:n])


def _post(stack, article_id: str, outlet: str, body: str, published: str) -> None:
    response = httpx.post(f"{stack.ingest}/articles", timeout=30, json={
        "id": article_id, "outlet": outlet, "body": body, "published_at": published})
    assert response.status_code == 202, response.text


def _claim(stack, article_id: str, fragment: str) -> dict:
    def find():
        items = httpx.get(f"{stack.query}/claims", params={"limit": 200}, timeout=10).json()["items"]
        return next((c for c in items if c["article_id"] == article_id and fragment in c["text"]), None)

    return wait_for(find, timeout=90, message=f"the claim of {article_id}")


def _restart_processors(stack, kill: bool) -> None:
    stop_service(stack.procs["processors"], "kill" if kill else "term")
    port = stack.processors.rsplit(":", 1)[1]
    stack.procs["processors"] = start_service("processors", PROCESSORS, stack.env | {"PROCESSORS_WEB_PORT": port},
                                              stack.workdir, f"{stack.processors}/healthz")


def test_claims_before_and_after_a_killed_worker_join_the_same_cluster(stack):
    run = _letters()
    town = f"Vellmar{run}"  # unique place: no earlier test's claim can match
    _post(stack, f"kill-a-{run}", "Before Kill Times",
          f"The mayor of {town} said the new bridge cost 48 million euros.", "2026-05-01T08:00:00Z")
    before = _claim(stack, f"kill-a-{run}", "48 million")
    _restart_processors(stack, kill=True)
    _post(stack, f"kill-b-{run}", "After Kill Herald",
          f"The new bridge in {town} cost 48 million euros, the mayor said.", "2026-05-01T09:00:00Z")
    after = _claim(stack, f"kill-b-{run}", "48 million")
    assert after["cluster_id"] == before["cluster_id"]
    cluster = wait_for(lambda: (lambda r: r.json() if r.status_code == 200 and r.json()["outlet_count"] == 2
                                else None)(httpx.get(f"{stack.query}/clusters/{before['cluster_id']}")),
                       message="a ledger with both outlets")
    assert cluster["first_outlet"] == "Before Kill Times"


def _consumed_by_stage(metrics: str, stage: str) -> float:
    m = re.search(rf'claimstream_processor_messages_in_total{{stage="{stage}"}} ([0-9.e+]+)', metrics)
    return float(m.group(1)) if m else 0.0


def test_two_workers_share_the_partitions_and_still_match_across_outlets(stack):
    port = free_port()
    second = start_service("processors-2", PROCESSORS, stack.env | {"PROCESSORS_WEB_PORT": str(port)},
                           stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        run = _letters()
        n = 0

        def post_pair_and_check_both_workers_matched() -> bool:
            # Keep posting pairs (each with a new blocking key) until the rebalance has given
            # the second worker partitions and it has matched some of them.
            nonlocal n
            town = f"Osterby{run}{chr(ord('a') + n % 26)}{chr(ord('a') + n // 26)}"
            _post(stack, f"two-a-{run}-{n}", "Scale Post", f"Police in {town} arrested {n + 3} suspects "
                  "after the robbery, a spokesman said.", "2026-06-01T08:00:00Z")
            _post(stack, f"two-b-{run}-{n}", "Scale Courier", f"According to police, {n + 3} suspects were "
                  f"arrested in {town} after the robbery.", "2026-06-01T09:00:00Z")
            n += 1
            try:
                first = httpx.get(f"{stack.processors}/metrics").text
                other = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.HTTPError:
                return False  # a worker restarting under its supervisor (it replays; nothing lost)
            return _consumed_by_stage(other, "match") > 0 and _consumed_by_stage(first, "match") > 0

        wait_for(post_pair_and_check_both_workers_matched, timeout=120, interval=2,
                 message="both workers matching claims")
        for i in range(n):
            a = _claim(stack, f"two-a-{run}-{i}", "suspects")
            b = _claim(stack, f"two-b-{run}-{i}", "suspects")
            assert a["cluster_id"] == b["cluster_id"], (a["text"], b["text"])
    finally:
        stop_service(second)
