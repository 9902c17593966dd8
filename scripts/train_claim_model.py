"""Train the check-worthiness model and export it as gzipped JSON.

    python scripts/train_claim_model.py [--data ../shared/data] [--out services/nlp/models/claim_model.json.gz]

Trains on ClaimBuster crowdsourced.csv (Verdict 1 = check-worthy factual claim,
-1/0 = not), picks the decision threshold by cross-validation on the training
set only, and reports positive-class P/R/F1 on the expert-labelled
groundtruth.csv. The export is read by services/nlp/claims.py with numpy only.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.nlp.claims import ClaimModel, analyze  # noqa: E402 - needs the sys.path set-up above

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "services" / "nlp" / "models" / "claim_model.json.gz"
NGRAM_MAX = 2
MIN_DF = 3  # prunes the vocabulary: rare n-grams add size, not accuracy
C = 2.0


def read_claimbuster(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Text"] for r in rows], np.array([int(r["Verdict"]) == 1 for r in rows], dtype=int)


def _analyzer(text: str) -> list[str]:
    return analyze(text, NGRAM_MAX)


def build_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vec = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, min_df=MIN_DF, norm="l2")
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    return make_pipeline(vec, clf)


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising F1 on out-of-fold probabilities."""
    best_t, best_f = 0.5, -1.0
    for t in np.arange(0.2, 0.9, 0.01):
        f = prf(y, p >= t)[2]
        if f > best_f:
            best_t, best_f = float(round(t, 2)), f
    return best_t


def prf(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = int(np.sum((pred == 1) & (y == 1)))
    p = tp / max(int(np.sum(pred)), 1)
    r = tp / max(int(np.sum(y)), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def export(pipe, threshold: float, metrics: dict) -> dict:
    vec, clf = pipe.steps[0][1], pipe.steps[1][1]
    vocab = {term: int(i) for term, i in vec.vocabulary_.items()}
    return {
        "version": f"claimbuster-tfidf-lr-{datetime.now(timezone.utc).date().isoformat()}",
        "preprocessing": {
            "analyzer": "services.nlp.claims.analyze",
            "ngram_max": NGRAM_MAX,
            "sublinear_tf": True,
            "norm": "l2",
            "min_df": MIN_DF,
        },
        "vocabulary": vocab,
        "idf": [round(float(x), 6) for x in vec.idf_],
        "coef": [round(float(x), 6) for x in clf.coef_[0]],
        "intercept": float(clf.intercept_[0]),
        "threshold": threshold,
        "metrics": metrics,
    }


def train(data_dir: Path) -> tuple[object, dict]:
    from sklearn.model_selection import cross_val_predict

    cb = data_dir / "claimbuster"
    x_train, y_train = read_claimbuster(cb / "crowdsourced.csv")
    oof = cross_val_predict(build_pipeline(), x_train, y_train, cv=5, method="predict_proba")[:, 1]
    threshold = best_threshold(y_train, oof)
    pipe = build_pipeline().fit(x_train, y_train)
    metrics = {"train_size": len(x_train), "cv_f1_at_threshold": round(prf(y_train, oof >= threshold)[2], 4)}
    dev = cb / "groundtruth.csv"
    if dev.exists():
        x_dev, y_dev = read_claimbuster(dev)
        p, r, f = prf(y_dev, pipe.predict_proba(x_dev)[:, 1] >= threshold)
        metrics.update(groundtruth_precision=round(p, 4), groundtruth_recall=round(r, 4), groundtruth_f1=round(f, 4))
    return pipe, export(pipe, threshold, metrics)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding claimbuster/")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    if not (args.data / "claimbuster" / "crowdsourced.csv").exists():
        print(f"error: {args.data}/claimbuster/crowdsourced.csv not found; pass --data", file=sys.stderr)
        return 2
    _, model = train(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(model, f, separators=(",", ":"))
    # Re-read with the runtime to make sure the shipped file is what we measured.
    runtime = ClaimModel.load(args.out)
    m = model["metrics"]
    print(f"model {runtime.version}: {len(model['vocabulary'])} features, threshold {model['threshold']}")
    print(f"cv F1 (train) {m['cv_f1_at_threshold']}")
    if "groundtruth_f1" in m:
        print(
            f"groundtruth.csv positive class: P={m['groundtruth_precision']:.4f} "
            f"R={m['groundtruth_recall']:.4f} F1={m['groundtruth_f1']:.4f}"
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
