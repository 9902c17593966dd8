#!/usr/bin/env python
"""Side-by-side speed of ClaimStream's sentence splitter and pySBD.

Both splitters get exactly the same inputs: the article bodies of
samples/news_bench.txt (invented news text, with abbreviations, quotes, lists,
URLs and boilerplate lines), one call per article as the pipeline does. The two
are timed in interleaved rounds and each one's best round counts, so a busy
shared machine slows both alike. Reported per splitter: sentences found,
seconds per pass, sentences/s and chars/s; then the speed ratio (our chars/s
over pySBD's).

    .venv/bin/python scripts/bench_split.py [--repeat 50] [--rounds 5] [--file samples/news_bench.txt] [--json]

pySBD is a dev-only dependency; without it only our numbers are printed.
Single process, single thread (the eval measures per core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.nlp.split import split_sentences  # noqa: E402 - needs the sys.path set-up above

BENCH_FILE = ROOT / "samples" / "news_bench.txt"


def load_articles(path: Path = BENCH_FILE) -> list[tuple[str, str]]:
    """(title, body) pairs from a news_bench-style file: "---" lines separate articles,
    leading "#" lines are comments, the first non-blank line of an article is its title."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    articles = []
    chunk: list[str] = []
    for line in [*lines, "---"]:
        if line.strip() == "---":
            body = "\n".join(chunk).strip()
            if body:
                title = body.split("\n", 1)[0].strip()
                articles.append((title, body))
            chunk = []
        else:
            chunk.append(line)
    return articles


def _pass(fn, texts: list[str], passes: int) -> tuple[float, int]:
    """Seconds per pass over `texts` (averaged over `passes`) and sentences per pass."""
    sentences = 0
    t0 = time.perf_counter()
    for _ in range(passes):
        for t in texts:
            sentences += len(fn(t))
    return (time.perf_counter() - t0) / passes, sentences // passes


def _row(name: str, seconds: float, sentences: int, chars: int, passes: int, rounds: int) -> dict:
    return {
        "splitter": name,
        "seconds_per_pass": round(seconds, 6),
        "passes_per_round": passes,
        "rounds": rounds,
        "sentences": sentences,
        "sentences_per_s": round(sentences / seconds, 1),
        "chars_per_s": round(chars / seconds, 1),
    }


def pysbd_segmenter():
    """pySBD's segment function, or None when pySBD is not installed."""
    try:
        import pysbd
    except ImportError:
        return None
    seg = pysbd.Segmenter(language="en", clean=False)
    return seg.segment


def bench(texts: list[str], repeat: int = 50, rounds: int = 5) -> dict:
    """Time both splitters on the same texts, interleaved in `rounds` rounds so that load from
    other processes hits both alike; each splitter's best round counts (as timeit does).
    Ours makes `repeat` passes per round, pySBD (much slower) repeat // 10. The ratio is
    our chars/s over pySBD's chars/s on the same input."""
    chars = sum(len(t) for t in texts)
    segment = pysbd_segmenter()
    ours_best = p_best = float("inf")
    ours_n = p_n = 0
    p_passes = max(1, repeat // 10)
    split_sentences(texts[0])
    if segment is not None:
        segment(texts[0])  # warm up
    for _ in range(rounds):
        t, ours_n = _pass(split_sentences, texts, repeat)
        ours_best = min(ours_best, t)
        if segment is not None:
            t, p_n = _pass(segment, texts, p_passes)
            p_best = min(p_best, t)
    out: dict[str, Any] = {"texts": len(texts), "chars": chars, "method": "best of interleaved rounds",
           "ours": _row("claimstream split_sentences", ours_best, ours_n, chars, repeat, rounds)}
    if segment is None:
        out.update(pysbd=None, ratio=None, note="pysbd not installed: no comparison")
        return out
    out["pysbd"] = _row("pysbd 0.3 Segmenter(en, clean=False)", p_best, p_n, chars, p_passes, rounds)
    out["ratio"] = round(out["ours"]["chars_per_s"] / out["pysbd"]["chars_per_s"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=BENCH_FILE)
    ap.add_argument("--repeat", type=int, default=50, help="passes per round for ours (pySBD: a tenth)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    texts = [body for _, body in load_articles(args.file)]
    if not texts:
        print(f"no articles in {args.file}", file=sys.stderr)
        return 1
    res = bench(texts, args.repeat, args.rounds)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"input: {res['texts']} articles, {res['chars']:,} chars from {args.file.name}; one call per article; "
          f"{res['method']}: {args.rounds} rounds")
    print(f"{'splitter':40} {'passes/round':>12} {'sent/pass':>9} {'s/pass':>9} {'sentences/s':>12} {'chars/s':>12}")
    for row in (res["ours"], res["pysbd"]):
        if row:
            print(f"{row['splitter']:40} {row['passes_per_round']:>12} {row['sentences']:>9} "
                  f"{row['seconds_per_pass']:>9.4f} {row['sentences_per_s']:>12,.0f} {row['chars_per_s']:>12,.0f}")
    if res["ratio"] is None:
        print(res["note"])
    else:
        print(f"speed ratio (chars/s ours / pysbd): {res['ratio']}x  (target >= 5x: "
              f"{'met' if res['ratio'] >= 5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
