#!/usr/bin/env python
"""Matching on the dev pool, in three article orders: the `devpool.*` matching rows of `make eval`, alone.

    nice -n 10 .venv/bin/python scripts/devpool_matching.py [--devset ../shared/devset] [--json OUT]

Each corpus (samples/blind/*/ and ../shared/devset; all dev pool, IN-DOMAIN for the pair model) is
annotated once in file order through the same code as `claimstream annotate` (cleaning with one
outlet memory, stages.annotate.annotate_sentences, scored_claims). Its claims are then matched in
three article orders (file order, two seeded shuffles) through a fresh ClaimIndex each, and every
order's output is scored by the shared scorer (score.py). Printed per corpus: pairwise P / R / F1,
cross-outlet pair recall, look-alike pairs merged, B-cubed F1 per order and its spread (and the
entity F1 and canonical-name accuracy, which do not depend on the order). The NLP runs
once per corpus, so only matching depends on the order (as in the stream, where the NLP of one
article does not depend on the others except through the outlet memory).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def annotate_corpus(path: Path) -> list[list]:
    """Per article in file order: its annotated sentences and its scored claims (with vectors)."""
    from schemas import ArticleReceived
    from services.cli import Problems, _prepare, _read_articles
    from services.nlp.furniture import OutletMemory
    from services.processors.settings import ProcessorSettings
    from services.stages import annotate

    threshold, checkworthy = ProcessorSettings().threshold(), ProcessorSettings().checkworthy()
    out = []
    with path.open("rb") as handle:
        for _, draft in _prepare(_read_articles(handle, Problems(str(path))), Problems(str(path)), OutletMemory()):
            received = ArticleReceived(**{k: getattr(draft, k) for k in (
                "article_id", "content_hash", "url", "outlet", "title", "body", "credit", "captions", "credits",
                "published_at", "language", "language_confidence")},
                version=1, received_at=datetime.now(timezone.utc), source="file")
            annotated = annotate.annotate_sentences(annotate.split_article(received), threshold, checkworthy)
            out.append([annotated, annotate.scored_claims(annotated)])
    return out


def match_in_order(articles: list[list], order: list[int]) -> list[dict]:
    """The annotate JSONL of the corpus with clusters decided in `order` (rows in file order)."""
    from services.nlp import matching
    from services.stages import match

    index = matching.ClaimIndex({})
    clusters: dict[str, str] = {}
    for i in order:
        for c in match.match_claims(index, articles[i][1], datetime.now(timezone.utc)):
            clusters[c.sentence_id] = c.cluster_id
    rows = []
    for annotated, _ in articles:
        for s in annotated:
            rows.append({"article_id": s.article_id, "sentence": s.text, "start": s.start, "end": s.end,
                         "is_claim": s.is_claim, "claim_score": s.claim_score,
                         "cluster_id": clusters.get(s.sentence_id),
                         "entities": [e.model_dump() for e in s.entities]})
    return rows


def score(rows: list[dict], corpus: Path, scorer: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out, scored = Path(tmp) / "out.jsonl", Path(tmp) / "score.json"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        subprocess.run([sys.executable, str(scorer), str(out), "--gold", str(corpus / "gold.json"),
                        "--articles", str(corpus / "articles.jsonl"), "--json", str(scored)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        result = json.loads(scored.read_text(encoding="utf-8"))
        return {**result["dedup"], "entity_f1": result["entities"].get("f1"),
                "canonical_accuracy": result["entities"].get("canonical_accuracy")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devset", type=Path, default=ROOT.parent / "shared" / "devset")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--sets", default="", help="comma-separated corpus names to run (default: all)")
    args = ap.parse_args(argv)
    corpora = [(d.name, d) for d in sorted((ROOT / "samples" / "blind").glob("*/")) if (d / "gold.json").is_file()]
    corpora.append(("devset", args.devset))
    if args.sets:
        corpora = [c for c in corpora if c[0] in args.sets.split(",")]
    scorer = args.devset / "score.py"
    report = {}
    for name, corpus in corpora:
        articles = annotate_corpus(corpus / "articles.jsonl")
        n = len(articles)
        orders = [list(range(n))]
        for seed in (1, 2):
            shuffled = list(range(n))
            random.Random(seed).shuffle(shuffled)
            orders.append(shuffled)
        results = [score(match_in_order(articles, o), corpus, scorer) for o in orders]
        d = results[0]
        b3 = [r["bcubed_f1"] for r in results]
        report[name] = {
            "pairwise_precision": d["pairwise_precision"], "pairwise_recall": d["pairwise_recall"],
            "pairwise_f1": d["pairwise_f1"], "cross_outlet_pair_recall": d["cross_outlet_pair_recall"],
            "hard_negative_merge_rate": d["hard_negative_merge_rate"],
            "hard_negatives_merged": d.get("hard_negative_merged", d.get("hard_negatives_merged")),
            "hard_negative_pairs": d.get("hard_negative_pairs"),
            "bcubed_f1_orders": b3, "bcubed_spread": max(b3) - min(b3),
            "entity_f1": d["entity_f1"], "canonical_accuracy": d["canonical_accuracy"],
        }
        r = report[name]
        print(f"devpool.{name} (dev pool, in-domain): P {r['pairwise_precision']:.3f} R {r['pairwise_recall']:.3f} "
              f"F1 {r['pairwise_f1']:.3f} | cross-outlet R {r['cross_outlet_pair_recall']:.3f} | look-alikes "
              f"merged {r['hard_negatives_merged']}/{r['hard_negative_pairs']} ({r['hard_negative_merge_rate']:.3f}) "
              f"| B-cubed {' / '.join(f'{x:.3f}' for x in b3)} spread {r['bcubed_spread']:.3f} "
              f"| entities F1 {r['entity_f1']:.3f} canonical {r['canonical_accuracy']:.3f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
