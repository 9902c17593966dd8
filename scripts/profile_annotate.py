#!/usr/bin/env python
"""Words per CPU-second of the annotate stage, as `make eval` measures it, with an optional profile.

    .venv/bin/python scripts/profile_annotate.py [--quick] [--profile N] [--no-pin]
    .venv/bin/python scripts/profile_annotate.py --compare minilm,minilm-l3 [--rounds 3] [--quick]

Runs scripts/eval.py's `eval_pipeline_speed` (300 generated articles, one process pinned to one
CPU, native libraries single-threaded) and prints its two rows: the NLP alone
(`pipeline.words_per_s_per_core`) and with the claims' sentence vectors and matching features
(`pipeline.with_matching.words_per_s_per_core`, the whole annotate stage). With --profile N it
also prints the N most expensive functions (cumulative CPU) under cProfile, whose overhead
lowers the figures: compare runs without --profile.

--compare KIND,KIND,... measures claim models (CLAIMSTREAM_CLAIM_MODEL values) in one process,
one whole run each per round, alternating, and prints each one's median and every round: load
from other processes hits both alike, so the ratio is fair on a busy machine even when the
absolute figures are not.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval as claim_eval


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 articles instead of 300")
    ap.add_argument("--profile", type=int, default=0, help="print the N most expensive functions")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--compare", help="claim models to measure side by side, e.g. minilm,minilm-l3")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    args = ap.parse_args()
    pinned = "not pinned (--no-pin)" if args.no_pin else claim_eval._pin_one_cpu()
    if args.compare:
        return compare(args.compare.split(","), args.rounds, args.quick, pinned)
    rep = claim_eval.Report()
    prof = cProfile.Profile(timer=__import__("time").process_time) if args.profile else None
    if prof:
        prof.enable()
    claim_eval.eval_pipeline_speed(rep, args.quick, pinned)
    if prof:
        prof.disable()
    for row in rep.rows:
        print(f"{row['metric']}: {row['value']:,.0f}  ({row['note']})")
    if prof:
        # Model loading is in the profile too (the warm-up articles): read the per-call rows.
        pstats.Stats(prof).sort_stats("cumulative").print_stats("services|spacy/language|onnxruntime", args.profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    return 1 if rep.errors else 0


def compare(kinds: list[str], rounds: int, quick: bool, pinned: str) -> int:
    from services.nlp import claims

    results: dict[str, dict[str, list[float]]] = {k: {} for k in kinds}
    for r in range(rounds):
        for kind in kinds:
            os.environ[claims.MODEL_ENV] = kind
            rep = claim_eval.Report()
            claim_eval.eval_pipeline_speed(rep, quick, pinned)
            if rep.errors:
                print(rep.errors)
                return 1
            for row in rep.rows:
                results[kind].setdefault(row["metric"], []).append(row["value"])
            print(f"round {r + 1} {kind:<10} " + "  ".join(f"{m.split('.')[-2]}: {v[-1]:,.0f}"
                                                        for m, v in results[kind].items()), flush=True)
    for kind in kinds:
        print(f"{kind} ({claims._metadata(kind)[0]}): " + "; ".join(
            f"{m} median {statistics.median(v):,.0f} (rounds {', '.join(f'{x:,.0f}' for x in v)})"
            for m, v in results[kind].items()))
    base = kinds[0]
    for kind in kinds[1:]:
        for m in results[base]:
            ratio = statistics.median(results[kind][m]) / statistics.median(results[base][m])
            print(f"{kind} / {base} {m}: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
