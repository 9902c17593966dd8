#!/usr/bin/env python
"""Words per CPU-second of the annotate stage, as `make eval` measures it, with an optional profile.

    .venv/bin/python scripts/profile_annotate.py [--quick] [--profile N] [--no-pin]

Runs scripts/eval.py's `eval_pipeline_speed` (300 generated articles, one process pinned to one
CPU, native libraries single-threaded) and prints its two rows: the NLP alone
(`pipeline.words_per_s_per_core`) and with the claims' sentence vectors and matching features
(`pipeline.with_matching.words_per_s_per_core`, the whole annotate stage). With --profile N it
also prints the N most expensive functions (cumulative CPU) under cProfile, whose overhead
lowers the figures: compare runs without --profile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval as claim_eval


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 articles instead of 300")
    ap.add_argument("--profile", type=int, default=0, help="print the N most expensive functions")
    ap.add_argument("--no-pin", action="store_true")
    args = ap.parse_args()
    pinned = "not pinned (--no-pin)" if args.no_pin else claim_eval._pin_one_cpu()
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


if __name__ == "__main__":
    sys.exit(main())
