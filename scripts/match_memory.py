#!/usr/bin/env python
"""Where the matching stage's memory goes, per claim, on the claims of a real run.

    .venv/bin/python scripts/match_memory.py NAMESPACE [--claims 8000] [--cache 5000]

Reads NAMESPACE's `candidates` topic (KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092; e.g. what
`make soak` or `make bench` left behind) and replays the claims in-process through the stream's own
code (services.stages.match.match_step over a ClaimIndex, then stages.ledgers.track_ledgers), with plain dicts in place
of the faust tables, under tracemalloc. Then it frees one owner at a time and prints what each held
per claim: the decoded-claim cache (bounded by --cache, PROCESSORS_MATCH_CACHE_CLAIMS in the
stream), the ledgers and the claim records (RocksDB in the stream, not the heap), the ANN index's
label maps, and usearch's own bytes (native memory, outside tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stackctl
from schemas import ClaimScored, ClusterUpdated, decode, topic_name
from services.nlp import matching
from services.stages.ledgers import track_ledgers
from services.stages.match import match_step


class Ledgers:
    """The ledger table as match_claims reads it (JSON dicts in, ClusterUpdated out)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def get(self, cluster_id: str) -> ClusterUpdated | None:
        stored = self.rows.get(cluster_id)
        return ClusterUpdated.model_validate(stored) if stored else None


def freed(release) -> int:
    """Bytes tracemalloc sees released by `release()`."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    release()
    gc.collect()
    return before - tracemalloc.get_traced_memory()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("namespace")
    parser.add_argument("--claims", type=int, default=8000)
    parser.add_argument("--cache", type=int, default=5000, help="decoded claims kept (PROCESSORS_MATCH_CACHE_CLAIMS)")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    records = asyncio.run(stackctl.read_topics(bootstrap, [topic_name("candidates", args.namespace)], timeout=300))
    raw = [r.value for r in sorted(records, key=lambda r: r.offset) if r.value][:args.claims]
    del records
    if not raw:
        raise SystemExit(f"no claims in {topic_name('candidates', args.namespace)}")
    table: dict = {}
    ledgers = Ledgers()
    index = matching.ClaimIndex(table, matching.MatchPolicy(), cache_size=args.cache)
    now = datetime.now(timezone.utc)
    gc.collect()
    tracemalloc.start()
    started = time.process_time()
    for value in raw:
        detected = match_step(index, decode(ClaimScored, value), now)
        for cid, ledger in track_ledgers(ledgers, detected, now)[1].items():
            if ledger is None:
                ledgers.rows.pop(cid, None)
            else:
                ledgers.rows[cid] = ledger.model_dump(mode="json")
    cpu = time.process_time() - started
    n = len(raw)
    raw.clear()
    footprint = index.footprint()

    def clear_label_maps() -> None:
        index._label_of.clear()
        index._claim_of.clear()
        index._ages.clear()

    total = tracemalloc.get_traced_memory()[0]
    print(f"{n} claims of {args.namespace}: {1000 * cpu / n:.2f} ms CPU per claim under tracemalloc; "
          f"heap {total / 1e6:.1f} MB = {total / n:.0f} B per claim")
    owners = {
        f"decoded-claim cache ({footprint['cached']} claims, bounded)": freed(index._cache.clear),
        "cluster ledgers (RocksDB in the stream)": freed(ledgers.rows.clear),
        "claim records (RocksDB in the stream)": freed(table.clear),
        "ANN label maps and ages (heap, by design)": freed(clear_label_maps),
    }
    for owner, size in owners.items():
        print(f"  {owner}: {size / 1e6:.1f} MB = {size / n:.0f} B per claim")
    print(f"  usearch index (native, by design): {footprint['ann_bytes'] / 1e6:.1f} MB = "
          f"{footprint['ann_bytes'] / footprint['claims']:.0f} B per claim")


if __name__ == "__main__":
    main()
