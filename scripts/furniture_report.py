"""Story sentences lost and furniture lines leaked by a `claimstream annotate` run.

    python scripts/furniture_report.py OUT.jsonl [--corpus /work/shared/devset] [--show]

A gold story sentence is lost when it does not appear in the article's output (the output
sentences joined; whitespace, quotes and dashes normalised, so a different split does not count).
A gold furniture line leaks when it appears whole inside the output. Complements the corpus
scorer, which reports the leak rate but not the lost story.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

_MAP = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...",
                      "\u00a0": " "})


def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).translate(_MAP).casefold()
    return re.sub(r"\s+", " ", s).strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--corpus", default="/work/shared/devset")
    ap.add_argument("--show", action="store_true", help="print the lost sentences and leaked lines")
    args = ap.parse_args(argv)
    gold = json.loads((Path(args.corpus) / "gold.json").read_text(encoding="utf-8"))
    out: dict[str, list[str]] = defaultdict(list)
    for line in Path(args.output).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["article_id"]].append(norm(r["sentence"]))
    joined = {aid: " ".join(s) for aid, s in out.items()}
    total = lost = 0
    for entry in gold.get("sentences", []):
        text = joined.get(entry["article_id"], "")
        for s in entry["sentences"]:
            total += 1
            if norm(s) not in text:
                lost += 1
                if args.show:
                    print(f"LOST {entry['article_id']}: {s[:120]}")
    furn = leaked = 0
    for b in gold.get("boilerplate", []):
        furn += 1
        if norm(b["text"]) in joined.get(b["article_id"], ""):
            leaked += 1
            if args.show:
                print(f"LEAK {b['article_id']}: {b['text'][:120]}")
    print(f"story sentences lost: {lost}/{total} ({lost / max(total, 1):.4f}); "
          f"furniture lines leaked whole: {leaked}/{furn} ({leaked / max(furn, 1):.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
