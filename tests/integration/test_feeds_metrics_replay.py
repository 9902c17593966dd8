"""RSS polling, Prometheus metrics, the bulk CLI and rebuilding the query projection by replay."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest

from tests.conftest import ROOT, free_port, start_service, stop_service, wait_for

pytestmark = pytest.mark.integration


def test_new_feed_entries_are_fetched_and_ingested(stack, feed_server):
    root, base = feed_server
    slug = uuid.uuid4().hex[:8]
    (root / f"{slug}.html").write_text(
        "<html><body><nav>Home | Sections</nav><article><h1>Harbour dredging</h1>"
        f"<p>The harbour authority spent 12 million euros dredging the {slug} channel last year, "
        "its annual report shows.</p><p>Ships of up to 14 metres draught can now enter at low tide.</p>"
        "</article><footer>Subscribe to our newsletter</footer></body></html>")
    (root / "feed.xml").write_text(f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Feed Test Gazette</title><link>{base}/</link>
<item><title>Harbour dredging</title><link>{base}/{slug}.html</link>
<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate></item>
</channel></rss>""")
    claims = wait_for(lambda: [c for c in httpx.get(f"{stack.query}/claims",
                                                    params={"outlet": "Feed Test Gazette"}).json()["items"]
                               if slug in c["text"]], timeout=90, message="a claim from the feed entry")
    assert "12 million euros" in claims[0]["text"]
    assert claims[0]["url"].endswith(f"/{slug}.html")


def test_every_service_exposes_its_metrics(stack):
    # After the other tests, each counter has samples.
    ingest = httpx.get(f"{stack.ingest}/metrics").text
    processors = httpx.get(f"{stack.processors}/metrics").text
    query = httpx.get(f"{stack.query}/metrics").text
    assert "claimstream_ingest_articles_published_total" in ingest
    assert "claimstream_ingest_publish_duration_seconds_bucket" in ingest
    for name in ("claimstream_processor_messages_in_total", "claimstream_processor_stage_duration_seconds_bucket",
                 "claimstream_processor_claims_detected_total"):
        assert name in processors
    assert "claimstream_query_freshness_seconds_count" in query
    count = [line for line in query.splitlines() if line.startswith("claimstream_query_freshness_seconds_count")]
    assert float(count[0].split()[-1]) > 0


def test_bulk_cli_ingests_a_jsonl_file(stack, tmp_path):
    slug = uuid.uuid4().hex[:8]
    path = tmp_path / "bulk.jsonl"
    path.write_text(f'{{"id": "cli-{slug}", "outlet": "CLI Weekly", "body": "The library lent 48,000 books '
                    f'in {slug} district last year, the council said."}}\n')
    env = stack.env | {"INGEST_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    first = subprocess.run([sys.executable, "-m", "services.cli", "ingest", str(path)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "1 published" in first.stdout
    second = subprocess.run([sys.executable, "-m", "services.cli", "ingest", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "0 published, 1 already published" in second.stdout
    wait_for(lambda: httpx.get(f"{stack.query}/claims", params={"outlet": "CLI Weekly"}).json()["items"],
             message="the CLI article's claim")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f'{{"outlet": "X", "body": "The council approved a budget of 12 million euros for {slug} on '
                   f'Tuesday, the mayor said."}}\n{{"outlet": ""}}\n')
    refused = subprocess.run([sys.executable, "-m", "services.cli", "ingest", str(bad)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "bad.jsonl:2: invalid article: outlet:" in refused.stderr
    assert "Traceback" not in refused.stderr and "1 failed (line 2)" in refused.stdout


def test_a_fresh_query_database_is_rebuilt_by_replaying_the_topics(stack, tmp_path):
    original = httpx.get(f"{stack.query}/claims", params={"limit": 200}).json()["items"]
    assert original
    port = free_port()
    env = stack.env | {"QUERY_DB_URL": f"sqlite:///{tmp_path / 'rebuilt.db'}"}
    proc = start_service("query-rebuild", ["-m", "uvicorn", "services.query.main:app", "--port", str(port)], env,
                         stack.workdir, f"http://127.0.0.1:{port}/healthz")
    try:
        wanted = {c["claim_id"] for c in original}

        def rebuilt():
            items = httpx.get(f"http://127.0.0.1:{port}/claims", params={"limit": 200}).json()["items"]
            return items if wanted <= {c["claim_id"] for c in items} else None

        items = wait_for(rebuilt, timeout=60, message="the rebuilt projection")
        by_id = {c["claim_id"]: c for c in items}
        for claim in original:
            assert by_id[claim["claim_id"]]["cluster_id"] == claim["cluster_id"]
            assert by_id[claim["claim_id"]]["text"] == claim["text"]
    finally:
        stop_service(proc)
