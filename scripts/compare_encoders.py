"""Compare sentence encoders (int8 ONNX, as the services run them) on same-claim matching (issue 14).

    /work/encvenv/bin/python scripts/compare_encoders.py [META.json ...] [--json out.json] [--skip-msrp]

Each META.json is an encoder's metadata file as services/nlp/embeddings.py reads it
(default: every *-embed.json in services/nlp/models). Every encoder is run through
SentenceEmbedder on one onnxruntime thread with the services' batching. Evaluation
only, nothing is trained or tuned on these sets:

  sts     STS benchmark news dev (../shared/data/stsbenchmark_news/sts-dev-news.tsv):
          Spearman of cosine against the gold score
  msrp    MSRP train (../shared/data/msrp/msr_paraphrase_train.txt): ROC AUC of cosine and
          the F1 at the best threshold (an upper bound: the threshold is picked on the set)
  dev     the devset's same-claim pairs (../shared/devset/gold.json): two claims of one
          cluster = positive, two claims of one event in different clusters = negative;
          ROC AUC and average precision of cosine; also the AUC on the annotated hard
          negatives alone (positives vs claim pairs across a hard-negative cluster pair)
  own     the team's pairs (../pairs/*.jsonl, fields a, b, label): ROC AUC and AP
  speed   sentences per CPU-second (time.process_time) over the first 500 sentences of
          samples/articles.jsonl, embeddings.benchmark()

Needs numpy, scipy and scikit-learn besides the services' onnxruntime and tokenizers.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import eval_dedup  # noqa: E402 - scripts/: its STS and MSRP readers
from services.nlp.embeddings import (  # noqa: E402 - needs the sys.path set-up above
    MODELS_DIR,
    SentenceEmbedder,
    benchmark,
    sample_sentences,
)

WORK = ROOT.parent


def first_existing(*cands: Path) -> Path:
    for c in cands:
        if c.exists():
            return c
    return cands[0]


SHARED = first_existing(WORK / "shared", Path("/work/shared"))
PAIRS = first_existing(WORK / "pairs", Path("/work/pairs"))


def read_sts(path: Path):
    """STS news pairs as (gold scores, first sentences, second sentences), read by eval_dedup's reader."""
    rows = eval_dedup.read_sts(path, None)
    return np.array([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows]


def read_msrp(path: Path):
    """MSRP pairs as (labels, first sentences, second sentences), read by eval_dedup's reader."""
    rows = eval_dedup.read_msrp(path, None)
    return np.array([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows]


def read_dev(path: Path):
    gold = json.loads(path.read_text(encoding="utf-8"))
    event = {c["cluster"]: c["event"] for c in gold["clusters"]}
    hard = {frozenset((h["cluster_a"], h["cluster_b"])) for h in gold["hard_negatives"]}
    claims = gold["claims"]
    y, a, b, is_hard = [], [], [], []
    for x, z in itertools.combinations(claims, 2):
        if x["text"] == z["text"]:
            continue
        same = x["cluster"] == z["cluster"]
        if not same and event[x["cluster"]] != event[z["cluster"]]:
            continue
        y.append(int(same))
        a.append(x["text"])
        b.append(z["text"])
        is_hard.append(frozenset((x["cluster"], z["cluster"])) in hard)
    return np.array(y), a, b, np.array(is_hard)


def read_own(folder: Path):
    y, a, b = [], [], []
    for path in sorted(glob.glob(str(folder / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    y.append(int(r["label"]))
                    a.append(r["a"])
                    b.append(r["b"])
    return np.array(y), a, b


def best_f1(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import precision_recall_curve

    p, r, t = precision_recall_curve(y, s)
    f = 2 * p * r / np.maximum(p + r, 1e-12)
    i = int(np.argmax(f[:-1]))
    return float(f[i]), float(t[i])


def evaluate(meta_path: Path, sets: dict, speed_texts: list[str], speed_seconds: float) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score, roc_auc_score

    emb = SentenceEmbedder(meta_path, threads=1)
    meta = emb.metadata
    onnx = meta_path.parent / meta["onnx"]
    out = {"encoder": meta["model_version"], "base_model": meta.get("base_model", ""), "dim": emb.dim,
           "onnx_mb": round(onnx.stat().st_size / 1e6, 1)}
    cache: dict[str, np.ndarray] = {}

    def cos(a: list[str], b: list[str]) -> np.ndarray:
        todo = sorted({t for t in a + b if t not in cache})
        if todo:
            for t, v in zip(todo, emb.embed(todo), strict=True):
                cache[t] = v
        return np.array([float(cache[x] @ cache[z]) for x, z in zip(a, b, strict=True)])

    if "sts" in sets:
        gold, a, b = sets["sts"]
        out["sts_spearman"] = round(float(spearmanr(gold, cos(a, b)).statistic), 4)
    if "msrp" in sets:
        y, a, b = sets["msrp"]
        s = cos(a, b)
        f1, thr = best_f1(y, s)
        out.update(msrp_f1=round(f1, 4), msrp_threshold=round(thr, 3), msrp_auc=round(float(roc_auc_score(y, s)), 4))
    if "dev" in sets:
        y, a, b, hard = sets["dev"]
        s = cos(a, b)
        keep = (y == 1) | hard
        out.update(dev_pairs=f"{int(y.sum())}+/{int((y == 0).sum())}-", dev_auc=round(float(roc_auc_score(y, s)), 4),
                   dev_ap=round(float(average_precision_score(y, s)), 4),
                   dev_hard_auc=round(float(roc_auc_score(y[keep], s[keep])), 4),
                   dev_best_f1=round(best_f1(y, s)[0], 4))
    if "own" in sets:
        y, a, b = sets["own"]
        s = cos(a, b)
        out.update(own_pairs=f"{int(y.sum())}+/{int((y == 0).sum())}-", own_auc=round(float(roc_auc_score(y, s)), 4),
                   own_ap=round(float(average_precision_score(y, s)), 4))
    if speed_texts:
        emb1 = SentenceEmbedder(meta_path, threads=1)  # a fresh session, as the services load it
        r = benchmark(speed_texts, emb1.embed, seconds=speed_seconds)
        out.update(sentences_per_cpu_s=r["sentences_per_cpu_s"], sentences_per_s=r["sentences_per_s"])
    return out


COLUMNS = [("encoder", "encoder"), ("dim", "dim"), ("onnx_mb", "MB"), ("sts_spearman", "STS rho"),
           ("msrp_f1", "MSRP F1"), ("msrp_auc", "MSRP AUC"), ("dev_auc", "dev AUC"), ("dev_ap", "dev AP"),
           ("dev_hard_auc", "dev hard AUC"), ("own_auc", "own AUC"), ("own_ap", "own AP"),
           ("sentences_per_cpu_s", "sent/CPU-s")]


def print_table(rows: list[dict]) -> None:
    print("| " + " | ".join(h for _, h in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k, _ in COLUMNS) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("meta", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--skip", default="", help="comma-separated sets to skip: sts,msrp,dev,own,speed")
    ap.add_argument("--speed-sentences", type=int, default=500)
    ap.add_argument("--speed-seconds", type=float, default=5.0)
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    metas = args.meta or sorted(MODELS_DIR.glob("*-embed.json"))
    sets = {}
    if "sts" not in skip:
        sets["sts"] = read_sts(SHARED / "data" / "stsbenchmark_news" / "sts-dev-news.tsv")
    if "msrp" not in skip:
        sets["msrp"] = read_msrp(SHARED / "data" / "msrp" / "msr_paraphrase_train.txt")
    if "dev" not in skip:
        sets["dev"] = read_dev(SHARED / "devset" / "gold.json")
    if "own" not in skip and glob.glob(str(PAIRS / "*.jsonl")):
        sets["own"] = read_own(PAIRS)
    speed = [] if "speed" in skip else sample_sentences()[: args.speed_sentences]
    rows = []
    for m in metas:
        row = evaluate(Path(m), sets, speed, args.speed_seconds)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
