#!/usr/bin/env python
"""Measure cross-outlet claim matching (services/nlp/matching.py with the pair model): quality and cost.

    .venv/bin/python scripts/eval_dedup.py [--data ../shared/data] [--dev DATA/../devset]
                                           [--out test-output/eval_dedup.json] [--sizes 100000,1000000] [--quick]

Prints one table and writes the same figures (plus the failing pairs) as JSON.

Every labelled set here is IN-DOMAIN: the pair model (services/nlp/models/pair_model.json) was trained
on samples/dedup_*.jsonl, training/pairs, training/news/t1, t2 and the shared devset (see
scripts/train_pair_model.py and the model's "trained_on"). None of these figures is a held-out or
unseen measure; they say whether the matcher reproduces what it was fitted to, and whether it does
so in any arrival order. A held-out figure needs a set the model never saw.

Sections
--------
sets        samples/dedup_eval.jsonl, dedup_heldout, dedup_fresh, dedup_fresh2 (the names are the files'
            history, not their status: all four are in the training data) and the shared devset's gold
            claims (their texts, with their articles' outlet and published_at, as train_pair_model's
            corpus_pairs reads them). Each set is streamed through one ClaimIndex({}, policy) in
            published order; entities from extract_entities + link_entities (as the pipeline). Per
            encoder and policy: pairwise precision / recall / F1, B-cubed F1, neighbour recall (share
            of same-cluster pairs where the earlier claim is among the later one's index.candidates(f)
            when it arrives: the bound the ANN sets on recall), hard-negative accuracy (in the stream
            and, per pair, in a fresh two-claim index), update detection, copy detection.
            Policies: "default" = MatchPolicy() (the pair model decides); "cosine-only" =
            MatchPolicy(pair_model=False) (cosine >= paraphrase_cosine and every conflict), a baseline.
            Targets (in-domain): pairwise F1 >= 0.90 with precision >= 0.95.
orders      each set streamed in three arrival orders (published order and two seeded shuffles; each
            claim keeps its own published_at), headline encoder, default policy: B-cubed F1 of each and
            the spread (max - min; target <= 0.02). Also with window_s = inf: the shuffles of a set
            that spans months otherwise evict claims that arrive older than the newest seen minus
            the 14-day window, which tells eviction apart from the decision's own order dependence.
msrp        ../shared/data/msrp/msr_paraphrase_train.txt: each pair goes through a fresh two-claim
            index (ClaimIndex({}, policy)); "paraphrase" = both claims end in one cluster. No target.
sts         ../shared/data/stsbenchmark_news/sts-{dev,train}-news.tsv: Pearson and Spearman of the
            matcher's cosine (quantised vectors, as ClaimIndex sees them) with the gold 0-5 scores.
cost        synthetic claims from templates (Zipf-popular invented names, varied figures) fill a
            ClaimIndex of N claims through index.store(f, Match(cluster_id=new_cluster_id(...))): the
            real records and usearch ANN adds, timed (fill s, claims/s). Then new claims (fresh ones,
            reworded reprints and updated figures of indexed claims) are timed one at a time:
            index.candidates(f) (lookup) and index.match(f), p50 / p99 wall and thread CPU, with the
            decoded cache as the fill left it (warm) and emptied (cold; the ANN stays). Memory: RSS
            growth per claim and the usearch index's own memory_usage. Each size runs in its own
            interpreter so that RSS deltas do not mix. Target: lookup p99 <= 5 ms at 1M claims.

Encoders: "minilm" passes vector=embed([...])[i] (services/nlp/embeddings.py, what the stream and the
pair model's training use; the headline); "hashed" is matching.features(..., vector=None), a bag-of-
words fallback the pair model was not trained on. A failing embeddings module is an error, not a skip
(--no-embeddings leaves MiniLM out on purpose).

The own sets (samples/dedup_*.jsonl)
------------------------------------
One JSON object per line, of two kinds:

  claim   {"id", "cluster", "outlet", "published_at", "text"[, "copy_of"]}
          "cluster" is the gold label: claims with the same label are the same claim from different
          outlets (2-5 per cluster). Hard-negative claims are singletons (cluster == id). "copy_of"
          names the original of a wire reprint (near-verbatim copy).
  pair    {"pair": "neg-N", "kind", "a", "b"[, "expect_update": true]}
          a hard negative: claims a and b (ids of claim lines) must end in different clusters.
          kind is one of number, year, place, negation, direction, update, roles, entity.
          With expect_update, b is the later report of a changed figure: its Match.update_of must
          be the cluster that a was put in.

The repository's own sets must exist (a missing one is an error); data in --data / --dev is read where
it lies, never copied, and a missing shared file skips its section with a message.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gc
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, Path(__file__).resolve().parent):  # the package, and the scripts' own helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from news_corpus import read_corpus  # noqa: E402 - needs the sys.path set-up above
from services.nlp import matching, pairmodel  # noqa: E402 - needs the sys.path set-up above
from services.nlp.types import EntityMention  # noqa: E402 - needs the sys.path set-up above

OWN_SETS = ("dedup_eval", "dedup_heldout", "dedup_fresh", "dedup_fresh2")
DEFAULT_SET = ROOT / "samples" / "dedup_eval.jsonl"
IN_DOMAIN = "in-domain (trained on)"
TARGET_PRECISION, TARGET_F1, TARGET_LOOKUP_P99_MS, TARGET_ORDER_SPREAD = 0.95, 0.90, 5.0, 0.02
ORDER_SEEDS = (1, 2)
POLICIES = {"default": matching.MatchPolicy(), "cosine-only": matching.MatchPolicy(pair_model=False)}


def source_versions() -> dict:
    """Short hashes of the matcher's sources: several people edit them, so a report says what it measured."""
    import hashlib

    out = {}
    for rel in ("services/nlp/matching.py", "services/nlp/pairmodel.py", "services/nlp/models/pair_model.json",
                "services/nlp/dedup.py", "services/nlp/entities.py"):
        path = ROOT / rel
        out[rel] = hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path.is_file() else None
    return out


def trained_on() -> list[str]:
    data = json.loads(pairmodel.MODEL_PATH.read_text(encoding="utf-8"))
    return sorted((data.get("trained_on") or {}).get("sources") or [])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- encoders ---------------------------------------------------------------------------------------

def load_encoders(with_minilm: bool = True) -> tuple[dict, dict]:
    """name -> embed function (None for the hashed fallback); name -> note. MiniLM first: the headline.
    An embeddings module that fails to load raises (a regression, not a skip)."""
    encoders: dict = {}
    notes: dict = {}
    if with_minilm:
        from services.nlp.embeddings import embed

        probe = np.asarray(embed(["probe sentence"]))
        if probe.shape != (1, matching.VECTOR_DIM):
            raise ValueError(f"embed() returned shape {probe.shape}, expected (1, {matching.VECTOR_DIM})")
        encoders["minilm"] = embed
        notes["minilm"] = "services.nlp.embeddings.embed (MiniLM ONNX): what the stream and the pair model use"
    else:
        notes["minilm"] = "left out (--no-embeddings)"
    encoders["hashed"] = None
    notes["hashed"] = "matching.features(..., vector=None): hashed bag of words; the pair model was not trained on it"
    return encoders, notes


def headline(encoders: dict) -> str:
    return "minilm" if "minilm" in encoders else "hashed"


def embed_all(embed, texts: list[str], chunk: int = 256) -> np.ndarray:
    out = [np.asarray(embed(texts[i:i + chunk]), dtype=np.float32) for i in range(0, len(texts), chunk)]
    return np.concatenate(out) if out else np.zeros((0, matching.VECTOR_DIM), np.float32)


def entities_for(texts: list[str]) -> dict[str, list[EntityMention]]:
    """Entities as the pipeline gives them to matching: extract_entities, then link_entities."""
    from services.nlp.entities import extract_entities, link_entities

    unique = list(dict.fromkeys(texts))
    out = {}
    for text, found in zip(unique, extract_entities(unique), strict=True):
        linked = link_entities(text, found) if found else []
        out[text] = [e.mention() for e in linked]
    return out


def vectors_for(embed, texts: list[str]) -> dict[str, np.ndarray | None]:
    unique = list(dict.fromkeys(texts))
    if embed is None:
        return dict.fromkeys(unique)
    return dict(zip(unique, embed_all(embed, unique), strict=True))


def pair_cosine(a: matching.ClaimFeatures, b: matching.ClaimFeatures) -> float:
    return float(matching.cosine(b, a.vector[None, :])[0])


# --- metrics ----------------------------------------------------------------------------------------

def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": fp, "fn": fn}


def pairwise(gold: dict[str, str], pred: dict[str, str]) -> dict:
    ids = sorted(gold)
    tp = fp = fn = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            g, p = gold[a] == gold[b], pred[a] == pred[b]
            tp += g and p
            fp += p and not g
            fn += g and not p
    return prf(tp, fp, fn)


def bcubed(gold: dict[str, str], pred: dict[str, str]) -> dict:
    by_gold, by_pred = defaultdict(set), defaultdict(set)
    for k in gold:
        by_gold[gold[k]].add(k)
        by_pred[pred[k]].add(k)
    p = r = 0.0
    for k in gold:
        both = len(by_gold[gold[k]] & by_pred[pred[k]])
        p += both / len(by_pred[pred[k]])
        r += both / len(by_gold[gold[k]])
    p, r = p / len(gold), r / len(gold)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (for Spearman without scipy)."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    xs = x[order]
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        if j > i:
            r[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return r


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    d = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / d) if d else 0.0


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(ranks(x), ranks(y))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


# --- the labelled sets ------------------------------------------------------------------------------

def load_set(path: Path) -> tuple[list[dict], list[dict]]:
    claims, pairs = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "pair" in row:
                pairs.append(row)
            elif "id" in row:
                claims.append(row)
            else:
                raise ValueError(f"{path}:{n}: neither a claim nor a pair")
    ids = {c["id"] for c in claims}
    for p in pairs:
        if p["a"] not in ids or p["b"] not in ids:
            raise ValueError(f"{p['pair']}: unknown claim id")
    claims.sort(key=lambda c: (c["published_at"], c["id"]))
    return claims, pairs


def load_devset(folder: Path) -> tuple[list[dict], list[dict]]:
    """The devset's gold claims in the own sets' shape: text, cluster, and their article's outlet and
    published_at (read as scripts/train_pair_model.py corpus_pairs reads them, news_corpus.read_corpus). Hard negatives
    are cluster pairs there, not claim pairs: none are scored here."""
    gold, articles = read_corpus(folder)
    claims = []
    for c in gold["claims"]:
        a = articles[c["article_id"]]
        claims.append({"id": c["claim_id"], "cluster": c["cluster"], "outlet": a["outlet"],
                       "published_at": a.get("published_at") or "1970-01-01T00:00:00Z", "text": c["text"]})
    claims.sort(key=lambda c: (c["published_at"], c["id"]))
    return claims, []


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def own_features(claims, ents, vecs) -> dict[str, matching.ClaimFeatures]:
    return {c["id"]: matching.features(c["id"], c["text"], ents[c["text"]], c["outlet"], epoch(c["published_at"]),
                                       vector=vecs[c["text"]])
            for c in claims}


class Streamed:
    """What one stream of claims through one ClaimIndex gave: each claim's final cluster (through merges),
    its Match as decided, and the claim ids among its candidates when it arrived."""

    def __init__(self, index: matching.ClaimIndex, decided: dict, neighbours: dict, order: list[str]):
        self.index, self.decided, self.neighbours, self.order = index, decided, neighbours, order
        self.cluster = {k: index.cluster_of(m.cluster_id) for k, m in decided.items()}
        self.position = {k: i for i, k in enumerate(order)}

    def update_of(self, claim_id: str) -> str | None:
        up = self.decided[claim_id].update_of
        return self.index.cluster_of(up) if up else None


def stream(claims, feats, policy, order: list[str] | None = None) -> Streamed:
    """Every claim through one ClaimIndex({}, policy), in `order` (claim ids; default: the claims' order)."""
    index = matching.ClaimIndex({}, policy)
    order = order or [c["id"] for c in claims]
    decided, neighbours = {}, {}
    for k in order:
        f = feats[k]
        neighbours[k] = {g.claim_id for g, _ in index.candidates(f)}
        decided[k] = index.match(f)
    return Streamed(index, decided, neighbours, order)


def two_claim(fa, fb, policy) -> tuple[matching.Match, matching.Match]:
    """Two claims alone in a fresh ClaimIndex({}, policy), the earlier first; their final Matches."""
    index = matching.ClaimIndex({}, policy)
    first, second = sorted((fa, fb), key=lambda f: (f.seen_at, f.claim_id))
    index.match(first)
    index.match(second)
    m1, m2 = index.decided(first.claim_id), index.decided(second.claim_id)
    assert m1 is not None and m2 is not None  # both were just matched
    return (m1, m2) if first is fa else (m2, m1)


def explain(fa, fb, policy, together: bool, neighbours: bool | None = None) -> dict:
    """Why two claims ended apart (together=False) or together: the pair model's probability, cosine,
    MinHash Jaccard, conflicts, and whether either was among the other's candidates in the stream."""
    cos, jac = pair_cosine(fa, fb), matching.jaccard(fa, fb)
    conf = matching.conflicts(fa, fb)
    hard = sorted(set(conf) & policy.hard_conflicts)
    model = pairmodel.get_pair_model()
    prob = model.pair(fa, fb, cos, jac)
    scored = cos >= model.prefilter_cosine or jac >= policy.copy_jaccard
    same = scored and prob >= model.threshold if policy.pair_model else \
        (cos >= policy.paraphrase_cosine or jac >= policy.copy_jaccard)
    why = []
    if together:
        if conf and (hard or prob < model.veto):
            why.append(f"joined through other claims despite {'hard ' if hard else ''}conflicts {','.join(conf)}")
        elif same:
            why.append(f"the pair model calls them the same (p {prob:.2f} >= {model.threshold:.2f})"
                       + (f"; conflicts {','.join(conf)} below the veto rules" if conf else "")
                       if policy.pair_model else f"cosine {cos:.2f} >= {policy.paraphrase_cosine:.2f}, no conflict")
        else:
            why.append(f"joined through other claims (p {prob:.2f} < {model.threshold:.2f})")
    else:
        if neighbours is False:
            why.append("not among each other's candidates (ANN neighbours)")
        if conf:
            why.append(("hard conflicts: " if hard else "conflicts: ") + ",".join(conf))
        if policy.pair_model and not scored:
            why.append(f"cosine {cos:.2f} < prefilter {model.prefilter_cosine:.2f}: not scored")
        elif not same:
            why.append(f"p {prob:.2f} < {model.threshold:.2f}" if policy.pair_model
                       else f"cosine {cos:.2f} < {policy.paraphrase_cosine:.2f}")
        if not why:
            why.append("the model calls them the same, but a vetoing member or the order kept them apart")
    return {"probability": round(prob, 3), "cosine": round(cos, 3), "jaccard": round(jac, 3), "conflicts": conf,
            "neighbours": neighbours, "why": "; ".join(why)}


def same_cluster_pairs(claims) -> list[tuple[str, str]]:
    members = defaultdict(list)
    for c in claims:
        members[c["cluster"]].append(c["id"])
    return [(a, b) for ids in members.values() for i, a in enumerate(ids) for b in ids[i + 1:]]


def neighbour_recall(claims, run: Streamed) -> float | None:
    """Share of same-cluster pairs where the earlier-arriving claim is among the later one's candidates."""
    pairs = same_cluster_pairs(claims)
    if not pairs:
        return None
    hit = 0
    for a, b in pairs:
        first, later = (a, b) if run.position[a] < run.position[b] else (b, a)
        hit += first in run.neighbours[later]
    return hit / len(pairs)


def were_neighbours(run: Streamed, a: str, b: str) -> bool:
    return a in run.neighbours[b] or b in run.neighbours[a]


def score_set(claims, pairs, feats, run: Streamed, policy, detail: bool) -> dict:
    text = {c["id"]: c["text"] for c in claims}
    gold = {c["id"]: c["cluster"] for c in claims}
    pred = run.cluster
    out: dict[str, Any] = {"pairwise": pairwise(gold, pred), "bcubed": bcubed(gold, pred),
           "neighbour_recall": neighbour_recall(claims, run)}
    by_kind, iso_kind = defaultdict(list), defaultdict(list)
    updates, iso_updates, neg_fail, upd_fail = [], [], [], []
    for p in pairs:
        a, b = p["a"], p["b"]
        apart = pred[a] != pred[b]
        by_kind[p["kind"]].append(apart)
        m_a, m_b = two_claim(feats[a], feats[b], policy)
        iso_kind[p["kind"]].append(m_a.cluster_id != m_b.cluster_id)
        if not apart and detail:
            neg_fail.append({"pair": p["pair"], "kind": p["kind"], "a": a, "b": b, "text_a": text[a],
                             "text_b": text[b],
                             **explain(feats[a], feats[b], policy, True, were_neighbours(run, a, b))})
        if p.get("expect_update"):
            ok = apart and run.update_of(b) == pred[a]
            updates.append(ok)
            iso_updates.append(m_a.cluster_id != m_b.cluster_id and m_b.update_of == m_a.cluster_id)
            if not ok and detail:
                upd_fail.append({"pair": p["pair"], "a": a, "b": b, "text_a": text[a], "text_b": text[b],
                                 "update_of": run.update_of(b), "expected": pred[a],
                                 **explain(feats[a], feats[b], policy, not apart, were_neighbours(run, a, b))})
    flat = [x for v in by_kind.values() for x in v]
    flat_iso = [x for v in iso_kind.values() for x in v]
    out["hard_negative_accuracy"] = sum(flat) / len(flat) if flat else None
    out["hard_negative_accuracy_isolated"] = sum(flat_iso) / len(flat_iso) if flat_iso else None
    out["hard_negative_by_kind"] = {k: {"apart": sum(v), "pairs": len(v)} for k, v in sorted(by_kind.items())}
    out["update_detection"] = sum(updates) / len(updates) if updates else None
    out["update_detection_isolated"] = sum(iso_updates) / len(iso_updates) if iso_updates else None
    expected_updates = {p["b"] for p in pairs if p.get("expect_update")}
    out["spurious_updates"] = sorted(k for k, m in run.decided.items() if m.update_of and k not in expected_updates)
    gold_copies = {c["id"]: c["copy_of"] for c in claims if c.get("copy_of")}
    out["copy_detection"] = {
        "found": sum(run.decided[k].copy_of == v for k, v in gold_copies.items()), "gold": len(gold_copies),
        "other_predicted": sorted(f"{k}->{m.copy_of}" for k, m in run.decided.items()
                                  if m.copy_of and k not in gold_copies),
    }
    out["merges"] = sum(1 for m in run.decided.values() if m.merged)
    out["clusters_predicted"] = len(set(pred.values()))
    out["meets_targets"] = (out["pairwise"]["precision"] >= TARGET_PRECISION and out["pairwise"]["f1"] >= TARGET_F1)
    if detail:
        missed: list[dict] = []
        merged: list[dict] = []
        ids = [c["id"] for c in claims]
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                g, p_ = gold[a] == gold[b], pred[a] == pred[b]
                if g != p_:
                    row = {"a": a, "b": b, "cluster_a": gold[a], "cluster_b": gold[b], "text_a": text[a],
                           "text_b": text[b], **explain(feats[a], feats[b], policy, p_, were_neighbours(run, a, b))}
                    (missed if g else merged).append(row)
        members = defaultdict(list)
        for c in claims:
            members[c["cluster"]].append(c["id"])
        partition = {}
        for cl, ids_ in members.items():
            groups = defaultdict(list)
            for k in ids_:
                groups[pred[k]].append(k)
            if len(groups) > 1:
                partition[cl] = sorted(groups.values())
        out["failures"] = {"missed_pairs": missed, "false_merges": merged, "negatives_merged": neg_fail,
                           "updates_missed": upd_fail, "split_clusters": partition}
    return out


def shuffled_orders(claims) -> dict[str, list[str]]:
    """Published order and two seeded shuffles (claim ids)."""
    published = [c["id"] for c in claims]
    out = {"published": published}
    for seed in ORDER_SEEDS:
        ids = list(published)
        random.Random(seed).shuffle(ids)
        out[f"shuffle-{seed}"] = ids
    return out


def order_runs(claims, feats, gold) -> dict:
    """B-cubed (and pairwise) F1 of the same claims in three arrival orders, default policy; and again
    with no eviction (window_s = inf), so that a spread from eviction and one from the decision show apart."""
    out = {}
    for label, policy in (("default", POLICIES["default"]),
                          ("no-eviction", matching.MatchPolicy(window_s=float("inf")))):
        rows = {}
        for name, order in shuffled_orders(claims).items():
            run = stream(claims, feats, policy, order)
            rows[name] = {"bcubed_f1": bcubed(gold, run.cluster)["f1"],
                          "pairwise_f1": pairwise(gold, run.cluster)["f1"],
                          "partition": partition_digest(run.cluster)}
        b3 = [r["bcubed_f1"] for r in rows.values()]
        out[label] = {"orders": rows, "bcubed_spread": max(b3) - min(b3),
                      "meets_target": max(b3) - min(b3) <= TARGET_ORDER_SPREAD}
    return out


def eval_set(name: str, path: Path, claims: list[dict], pairs: list[dict], encoders: dict, detail: bool = True) -> dict:
    texts = [c["text"] for c in claims]
    log(f"{name}: {len(claims)} claims, {len(pairs)} hard-negative pairs; entities")
    ents = entities_for(texts)
    gold = {c["id"]: c["cluster"] for c in claims}
    out: dict[str, Any] = {"status": "ok", "label": IN_DOMAIN,
           "path": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
           "claims": len(claims), "clusters": len(set(gold.values())),
           "clustered_claims": sum(1 for c in claims if c["cluster"] != c["id"]),
           "negative_pairs": len(pairs), "negative_kinds": dict(Counter(p["kind"] for p in pairs)), "runs": []}
    for enc, embed in encoders.items():
        feats = own_features(claims, ents, vectors_for(embed, texts))
        cosines = gold_pair_cosines(claims, feats)
        for label, policy in POLICIES.items():
            run = stream(claims, feats, policy)
            row = score_set(claims, pairs, feats, run, policy, detail=detail)
            out["runs"].append({"encoder": enc, "policy": label, **row, "gold_pair_cosine_mean": cosines,
                                "partition": partition_digest(run.cluster)})
        if enc == headline(encoders):
            log(f"{name}: three arrival orders ({enc})")
            out["orders"] = {"encoder": enc, **order_runs(claims, feats, gold)}
    return out


def gold_pair_cosines(claims, feats) -> float:
    """Mean cosine of same-cluster pairs: tells the encoders apart even when the pairwise counts agree."""
    values = [pair_cosine(feats[a], feats[b]) for a, b in same_cluster_pairs(claims)]
    return float(np.mean(values)) if values else float("nan")


def partition_digest(clusters: dict) -> str:
    """A short hash of a clustering (claim id -> cluster id, or -> Match; ids grouped, cluster ids ignored):
    two runs with the same figures but another digest put different claims together."""
    import hashlib

    groups = defaultdict(list)
    for k, m in clusters.items():
        groups[getattr(m, "cluster_id", m)].append(k)
    text = "|".join(sorted(",".join(sorted(g)) for g in groups.values()))
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def eval_sets(set_paths: dict[str, Path], dev: Path | None, encoders: dict, quick: bool) -> dict:
    out = {}
    for name, path in set_paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: a repository set is missing")
        claims, pairs = load_set(path)
        out[name] = eval_set(name, path, claims, pairs, encoders)
    if dev is None or not (dev / "gold.json").is_file():
        out["devset"] = {"status": "skipped", "label": IN_DOMAIN, "reason": f"{dev}/gold.json not found"}
    else:
        claims, pairs = load_devset(dev)
        if quick:
            keep = sorted({c["cluster"] for c in claims})[:40]
            claims = [c for c in claims if c["cluster"] in keep]
        out["devset"] = eval_set("devset", dev, claims, pairs, encoders, detail=False)
    return out


# --- MSRP and STS -----------------------------------------------------------------------------------

def read_msrp(path: Path, limit: int | None) -> list[tuple[int, str, str]]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header[0].strip() != "Quality":
            raise ValueError(f"{path}: unexpected header {header[:3]}")
        for row in reader:
            if len(row) < 5:
                continue
            rows.append((int(row[0]), row[3], row[4]))
            if limit and len(rows) >= limit:
                break
    return rows


def read_sts(path: Path, limit: int | None) -> list[tuple[float, str, str]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            if len(row) < 7:
                continue
            rows.append((float(row[col["score"]]), row[col["sentence1"]], row[col["sentence2"]]))
            if limit and len(rows) >= limit:
                break
    return rows


def pair_features(s1, s2, ents, vecs, n):
    f1 = matching.features(f"p{n}-1", s1, ents[s1], "outlet-1", 0.0, vector=vecs[s1])
    f2 = matching.features(f"p{n}-2", s2, ents[s2], "outlet-2", 60.0, vector=vecs[s2])
    return f1, f2


def eval_msrp(data: Path, encoders: dict, limit: int | None) -> dict:
    path = data / "msrp" / "msr_paraphrase_train.txt"
    if not path.is_file():
        return {"status": "skipped", "reason": f"{path} not found"}
    rows = read_msrp(path, limit)
    log(f"msrp: {len(rows)} pairs; entities")
    ents = entities_for([s for _, a, b in rows for s in (a, b)])
    out: dict[str, Any] = {"status": "ok", "path": str(path), "pairs": len(rows),
                           "paraphrases": sum(q for q, _, _ in rows), "rows": []}
    model = pairmodel.get_pair_model()
    for name, embed in encoders.items():
        vecs = vectors_for(embed, [s for _, a, b in rows for s in (a, b)])
        feats = [pair_features(a, b, ents, vecs, n) for n, (_, a, b) in enumerate(rows)]
        gold = [q == 1 for q, _, _ in rows]
        probs = [model.pair(f1, f2) for f1, f2 in feats]
        for label, policy in POLICIES.items():
            pred = []
            for f1, f2 in feats:
                m1, m2 = two_claim(f1, f2, policy)
                pred.append(m1.cluster_id == m2.cluster_id)
            tp = sum(g and p for g, p in zip(gold, pred, strict=True))
            fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
            fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
            out["rows"].append({"encoder": name, "policy": label,
                                "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows),
                                **prf(tp, fp, fn),
                                "probability_mean": {
                                    "paraphrase": float(np.mean([p for p, g in zip(probs, gold, strict=True) if g]
                                                                or [np.nan])),
                                    "other": float(np.mean([p for p, g in zip(probs, gold, strict=True) if not g]
                                                           or [np.nan]))}})
    return out


def eval_sts(data: Path, encoders: dict, limit: int | None) -> dict:
    folder = data / "stsbenchmark_news"
    files = [(split, folder / f"sts-{split}-news.tsv") for split in ("dev", "train")]
    files = [(s, p) for s, p in files if p.is_file()]
    if not files:
        return {"status": "skipped", "reason": f"no sts-*-news.tsv in {folder}"}
    out: dict[str, Any] = {"status": "ok", "rows": []}
    for split, path in files:
        rows = read_sts(path, limit)
        log(f"sts {split}: {len(rows)} pairs; entities")
        ents = entities_for([s for _, a, b in rows for s in (a, b)])
        gold = np.array([g for g, _, _ in rows], dtype=np.float64)
        for name, embed in encoders.items():
            vecs = vectors_for(embed, [s for _, a, b in rows for s in (a, b)])
            cos = np.array([pair_cosine(*pair_features(a, b, ents, vecs, n)) for n, (_, a, b) in enumerate(rows)])
            out["rows"].append({"encoder": name, "split": split, "pairs": len(rows),
                                "pearson": pearson(cos, gold), "spearman": spearman(cos, gold)})
    return out


# --- cost: synthetic claims -------------------------------------------------------------------------

_SYL = ("ka lo mi ra ven dor sa tel bri mon gar vik ost el an or is ul zen ha po ter lin qua mar bel cor dan "
        "fer gil tro nes ava umb rik sol tam bor ked yan").split()
_COMMODITIES = "copper wheat coal rice steel cobalt lithium soybeans crude gas timber sugar".split()
_EVENTS = ("a tornado", "floods", "a landslide", "an earthquake", "a storm", "a fire", "a bridge collapse")
_METRICS = ("sales", "profit", "revenue", "orders", "passenger numbers", "deliveries", "output")
_SECTORS = ("schools", "hospitals", "roads", "flood defences", "housing", "the railways", "defence")
_MONTHS = "January February March April May June July August September October November December".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def _fake_names(rng: random.Random, n: int, words: int, suffixes=("",)) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = " ".join("".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3))).capitalize()
                        for _ in range(words)) + rng.choice(suffixes)
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


class Zipf:
    def __init__(self, items: list[str], s: float = 1.07):
        self.items = items
        acc, total = [], 0.0
        for i in range(len(items)):
            total += 1.0 / (i + 1) ** s
            acc.append(total)
        self.acc, self.total = acc, total

    def __call__(self, rng: random.Random) -> str:
        return self.items[min(len(self.items) - 1, bisect.bisect_left(self.acc, rng.random() * self.total))]


class Generator:
    """Template claims with invented entities; claim i is the same text every time (seeded by i)."""

    def __init__(self, seed: int = 11):
        rng = random.Random(seed)
        self.seed = seed
        self.country = Zipf(_fake_names(rng, 180, 1))
        self.city = Zipf(_fake_names(rng, 6000, 1))
        self.person = Zipf(_fake_names(rng, 30000, 2))
        self.org = Zipf(_fake_names(rng, 8000, 1, (" Holdings", " Bank", " Motors", " Energy", " Group", " Airways")))

    def parts(self, i: int) -> list:
        r = random.Random(self.seed * 1_000_003 + i)
        C, C2 = (self.country(r), "GPE"), (self.country(r), "GPE")
        city, P = (self.city(r), "GPE"), (self.person(r), "PERSON")
        Org, Org2 = (self.org(r), "ORG"), (self.org(r), "ORG")
        n, pct = r.randint(2, 9800), f"{r.randint(1, 40)}.{r.randint(0, 9)}"
        year, month, day = r.randint(2015, 2025), r.choice(_MONTHS), r.choice(_DAYS)
        up = r.random() < 0.5
        t = r.randrange(13)
        if t == 0:
            return [C, f" exported {n:,} tonnes of {r.choice(_COMMODITIES)} to ", C2, f" in {month}, ", P, " said."]
        if t == 1:
            return [f"{n % 300 + 2} people were killed when {r.choice(_EVENTS)} hit ", city, ", ", C, f", on {day}."]
        if t == 2:
            return [Org, f" reported a {pct}% {'rise' if up else 'fall'} in {r.choice(_METRICS)} for {month}."]
        if t == 3:
            return ["Police in ", city, f" arrested {n % 400 + 2} people after protests against ", Org, "."]
        if t == 4:
            return ["The central bank of ", C, f" {'raised' if up else 'cut'} its main interest rate to {pct}%."]
        if t == 5:
            return [P, f" announced £{n % 90 + 1}bn for {r.choice(_SECTORS)} in ", C, "."]
        if t == 6:
            return ["Exports from ", C, " to ", C2, f" {'rose' if up else 'fell'} {pct}% in {year}."]
        if t == 7:
            return [Org, f" will cut {n:,} jobs at its plant in ", city, "."]
        if t == 8:
            return [C, f" has deployed {n:,} troops near its border with ", C2, "."]
        if t == 9:
            return ["Voters in ", city, " elected ", P, f" as mayor with {pct}% of the vote."]
        if t == 10:
            return [Org, " agreed to buy ", Org2, f" for ${n % 90 + 1}bn."]
        if t == 11:
            return [f"A magnitude {r.randint(40, 79) / 10:.1f} earthquake struck near ", city, ", ", C, f", on {day}."]
        return [f"Average rents in the capital rose {pct}% in {year}, the highest rise in {n % 30 + 2} years."]

    @staticmethod
    def assemble(parts: list) -> tuple[str, list[EntityMention]]:
        text, ents = "", []
        for p in parts:
            if isinstance(p, tuple):
                ents.append(EntityMention(p[0], p[1], p[0], len(text), len(text) + len(p[0])))
                text += p[0]
            else:
                text += p
        return text, ents

    def claim(self, i: int) -> tuple[str, list[EntityMention]]:
        return self.assemble(self.parts(i))

    def reprint(self, i: int, how: int) -> tuple[str, list[EntityMention]]:
        parts = self.parts(i)
        if how == 0:
            parts = ["According to officials, ", *parts]
        elif how == 1:
            last = parts[-1]
            parts = [*parts[:-1], (last[:-1] if isinstance(last, str) else last) + ", officials said."]
        else:
            parts = ["LONDON (Wire) - ", *parts]
        return self.assemble(parts)

    def update(self, i: int) -> tuple[str, list[EntityMention]]:
        parts, done = [], False
        for p in self.parts(i):
            if isinstance(p, str) and not done and re.search(r"\d", p):
                p = re.sub(r"\d[\d,]*", _plus_seven, p, count=1)
                done = True
            parts.append(p)
        return self.assemble(parts)


class BulkFeatures:
    """matching.features for a bulk synthetic fill, with two costs taken out: the MinHash of a whole
    chunk is computed in one numpy pass (the datasketch formula, shared permutations) and token hashes
    of the hashed vector are memoised. matching.features itself still builds every ClaimFeatures; the
    results are checked equal to the unpatched function on a sample before use."""

    def __init__(self):
        from datasketch import MinHash

        self.orig_minhash, self.orig_hashed_vector = matching._minhash, matching.hashed_vector
        template = MinHash(num_perm=matching.NUM_PERM, seed=7)
        self.template, self._pre, self._hash = template, {}, {}
        self.batch_ok = getattr(template, "scheme", None) == "affine32"

    def _vector(self, tokens):
        vec = np.zeros(matching.VECTOR_DIM, dtype=np.float32)
        for tok in tokens:
            hit = self._hash.get(tok)
            if hit is None:
                h = matching._stable_hash(tok)
                hit = self._hash[tok] = (h % matching.VECTOR_DIM, 1.0 if (h >> 20) & 1 else -1.0)
            vec[hit[0]] += hit[1]
        return vec

    def _minhashes(self, texts):
        from datasketch.hashfunc import sha1_hash32
        from datasketch.minhash import _fmix

        hvs: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(hvs))
            hvs.extend(sha1_hash32(s.encode()) for s in matching._shingles(text))
        hv = _fmix(np.array(hvs, dtype=np.uint32).reshape(-1, 1), 32)
        a, b = self.template.permutations
        phv = hv * a + b
        mins = np.minimum(np.minimum.reduceat(phv, offsets, axis=0), self.template.hashvalues)
        return dict(zip(texts, mins, strict=True))

    def build(self, items):
        """items: (claim_id, text, entities, outlet, seen_at) -> ClaimFeatures, as matching.features."""
        if self.batch_ok:
            self._pre = self._minhashes([it[1] for it in items])
        matching._minhash = lambda text: self._pre[text].copy() if text in self._pre else self.orig_minhash(text)
        matching.hashed_vector = self._vector
        try:
            return [matching.features(*it) for it in items]
        finally:
            matching._minhash, matching.hashed_vector = self.orig_minhash, self.orig_hashed_vector

    def verify(self, items) -> bool:
        fast = self.build(items)
        for it, f in zip(items, fast, strict=True):
            g = matching.features(*it)
            if f != g or not (f.minhash == g.minhash).all() or not (f.vector == g.vector).all():
                return False
        return True


def _plus_seven(m: re.Match[str]) -> str:
    return f"{int(m.group().replace(',', '')) + 7:,}"


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cost_worker(n: int, queries: int, seed: int = 11) -> dict:
    """Fill a ClaimIndex of n synthetic claims through index.store (records + usearch adds), then time
    index.candidates (lookup) and index.match of new claims, one at a time."""
    sources = source_versions()
    policy = matching.MatchPolicy()
    gen = Generator(seed)
    bulk = BulkFeatures()
    window = policy.window_s * 0.9
    step = window / max(1, n)
    t_end = n * step
    cache_size = 100_000

    def items(lo: int, hi: int) -> list:
        out = []
        for i in range(lo, hi):
            text, ents = gen.claim(i)
            out.append((f"s{i}", text, ents, f"outlet{i % 40}", i * step))
        return out

    fill_path = "matching.features (bulk MinHash, memoised token hashes; verified equal)"
    if not bulk.verify(items(0, min(n, 300))):
        bulk.batch_ok, fill_path = False, "matching.features (plain: the bulk path did not verify)"
        # the bulk path did not verify: this instance falls back to the plain one
        bulk.build = lambda its: [matching.features(*it) for it in its]  # type: ignore[method-assign]
    index = matching.ClaimIndex({}, policy, cache_size=cache_size)
    ann = index._index()  # the (empty) usearch index exists before the baseline
    gc.collect()
    gc.disable()  # millions of small containers: the cyclic GC would dominate the fill
    base = rss_bytes()
    feat_s = store_s = store_cpu = 0.0
    for lo in range(0, n, 5000):
        t0 = time.perf_counter()
        batch = bulk.build(items(lo, min(n, lo + 5000)))
        t1, c1 = time.perf_counter(), time.thread_time()
        for f in batch:
            index.store(f, matching.Match(cluster_id=matching.new_cluster_id(f.claim_id)))
        store_s += time.perf_counter() - t1
        store_cpu += time.thread_time() - c1
        feat_s += t1 - t0
        del batch
    gc.enable()
    gc.collect()
    filled = rss_bytes()
    ann_bytes = int(ann.memory_usage)

    qrng = random.Random(seed + 1)

    def make_queries(offset: int) -> list:
        """Half new claims; a quarter reworded reprints and a quarter updated figures of recent claims."""
        out = []
        for q in range(queries):
            kind = q % 4
            if kind < 2:
                text, ents = gen.claim(n + offset + q)
            else:
                j = max(0, n - 1 - int(qrng.expovariate(1 / max(1.0, n * 0.05))) % n)
                text, ents = gen.reprint(j, qrng.randrange(3)) if kind == 2 else gen.update(j)
            out.append(matching.features(f"q{offset}-{q}", text, ents, "query-outlet", t_end + q))
        return out

    def timed(qs, what):
        """Wall time and this thread's CPU time per call, in ms (CPU time is what a loaded machine
        does not inflate)."""
        ms, cpu, n_cands = [], [], []
        for f in qs:
            t, c = time.perf_counter_ns(), time.thread_time_ns()
            if what == "candidates":
                n_cands.append(len(index.candidates(f)))
            else:
                index.match(f)
            cpu.append((time.thread_time_ns() - c) / 1e6)
            ms.append((time.perf_counter_ns() - t) / 1e6)
        return ms, cpu, n_cands

    def pct(values):
        return {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values) if values else None}

    out: dict[str, Any] = {"claims": n, "queries": queries, "fill_path": fill_path, "sources": sources,
           "fill_s": round(store_s, 2), "fill_cpu_s": round(store_cpu, 2), "features_s": round(feat_s, 2),
           "fill_claims_per_s": n / max(store_s, 1e-9),
           "indexed": len(index), "cached_after_fill": len(index._cache), "cache_size": cache_size,
           "rss_mb": {"filled": (filled - base) / 2**20, "bytes_per_claim": (filled - base) / max(1, n)},
           "usearch": {"memory_usage_mb": ann_bytes / 2**20, "bytes_per_claim": ann_bytes / max(1, n),
                       "connectivity": ann.connectivity, "expansion_search": ann.expansion_search},
           "traced_bytes": traced_sizes(index.records, min(n, 2000))}
    matches_merged = 0
    for scenario, offset in (("warm", 10_000_000), ("cold", 20_000_000)):
        if scenario == "cold":
            index._cache.clear()  # a restarted worker's decoded cache (its ANN would be rebuilt: not timed)
        c_ms, c_cpu, n_c = timed(make_queries(offset), "candidates")
        if scenario == "cold":
            index._cache.clear()
        m_ms, m_cpu, _ = timed(make_queries(offset + 1_000_000), "match")
        out[scenario] = {"candidates_ms": pct(c_ms), "candidates_cpu_ms": pct(c_cpu),
                         "match_ms": pct(m_ms), "match_cpu_ms": pct(m_cpu),
                         "candidates_per_query": pct(n_c)}
    # decide() alone over the candidates a lookup gives (the pair model's share of a match)
    d_cpu, joined = [], 0
    for f in make_queries(30_000_000):
        cands = index.candidates(f)
        t = time.thread_time_ns()
        m = matching.decide(f, cands, policy)
        d_cpu.append((time.thread_time_ns() - t) / 1e6)
        joined += m.matched_claim is not None
        matches_merged += bool(m.merged)
    out["decide_cpu_ms"] = {**pct(d_cpu), "joined_a_cluster": joined, "merged_clusters": matches_merged}
    out["meets_lookup_p99_target"] = out["warm"]["candidates_ms"]["p99"] <= TARGET_LOOKUP_P99_MS
    out["meets_lookup_p99_target_cpu"] = out["warm"]["candidates_cpu_ms"]["p99"] <= TARGET_LOOKUP_P99_MS
    with open("/proc/loadavg") as fh:
        out["loadavg_1m"] = float(fh.read().split()[0])
    return out


def traced_sizes(records: Mapping, k: int) -> dict:
    """tracemalloc sizes of k stored records (fresh from JSON, as a changelog restore makes them) and of
    the decoded (ClaimFeatures, Match) the cache keeps for each."""
    import tracemalloc

    ids = [c for c in list(records)[-k:] if not c.startswith("merged:")]
    blobs = [json.dumps(records[c]) for c in ids]
    tracemalloc.start()
    snap = tracemalloc.get_traced_memory()[0]
    stored = [json.loads(b) for b in blobs]
    mid = tracemalloc.get_traced_memory()[0]
    decoded = [matching.from_record(c, r) for c, r in zip(ids, stored, strict=True)]
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del stored, decoded
    return {"record": (mid - snap) / max(1, len(ids)), "decoded": (end - mid) / max(1, len(ids)), "sample": len(ids)}


def cache_bound_check(seed: int = 5) -> dict:
    """ClaimIndex's decoded cache is meant to hold at most cache_size claims: does match() respect it?"""
    gen = Generator(seed)
    index = matching.ClaimIndex({}, matching.MatchPolicy(), cache_size=100)
    n = 2000
    for i in range(n):
        text, ents = gen.claim(i)
        index.match(matching.features(f"b{i}", text, ents, "o", float(i)))
    return {"cache_size": 100, "matches": n, "cached_after": len(index._cache), "bounded": len(index._cache) <= 100}


def eval_cost(sizes: list[int], queries: int) -> dict:
    rows = []
    for n in sizes:
        log(f"cost: filling an index of {n:,} synthetic claims (own interpreter)")
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--cost-worker", str(n),
                               "--queries", str(queries)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            rows.append({"claims": n, "error": proc.stderr.strip()[-2000:]})
            continue
        rows.append(json.loads(proc.stdout))
    return {"rows": rows, "cache_bound": cache_bound_check(),
            "note": "fill through ClaimIndex.store (records + usearch adds, no decision); timed calls are the real "
                    "ClaimIndex.candidates / ClaimIndex.match; hashed vectors; the match rows store each query"}


# --- report -----------------------------------------------------------------------------------------

def _f(x, nd=3):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _run_cells(r: dict) -> str:
    """The columns every set's run rows share: encoder and policy, P / R / F1, B3, neighbour recall, hard negatives."""
    pw = r["pairwise"]
    return (f"{r['encoder'] + ' ' + r['policy']:<22}{_f(pw['precision']):>7}"
            f"{_f(pw['recall']):>7}{_f(pw['f1']):>7}{_f(r['bcubed']['f1']):>7}{_f(r['neighbour_recall']):>8}"
            f"{_f(r['hard_negative_accuracy']):>9}{_f(r['hard_negative_accuracy_isolated']):>8}"
            f"{_f(r['update_detection']):>8}")


MAX_LINES = 12


def _print_failures(name: str, run: dict) -> None:
    fails = run["failures"]
    print(f"\nfailures, {name} {run['encoder']} {run['policy']}: {len(fails['missed_pairs'])} missed pairs, "
          f"{len(fails['false_merges'])} false merges, {len(fails['updates_missed'])} updates missed"
          f" (first {MAX_LINES} of each; all in the JSON)")
    for cl, groups in list(fails["split_clusters"].items())[:MAX_LINES]:
        print(f"  split {cl}: " + " | ".join(" ".join(g) for g in groups))
    for row in fails["missed_pairs"][:MAX_LINES]:
        print(f"  MISS  {row['a']} ~ {row['b']}: {row['why']} (p {row['probability']:.2f}, cos {row['cosine']:.2f})")
    neg_of = {(p["a"], p["b"]): p for p in fails["negatives_merged"]}
    for row in fails["false_merges"][:MAX_LINES]:
        p = neg_of.get((row["a"], row["b"])) or neg_of.get((row["b"], row["a"]))
        tag = f" [{p['pair']} {p['kind']}]" if p else ""
        print(f"  MERGE {row['a']} ~ {row['b']}{tag}: {row['why']}")
    for row in fails["updates_missed"][:MAX_LINES]:
        print(f"  UPDATE {row['a']} -> {row['b']}: update_of={row['update_of']} "
              f"({row['why']}, cos {row['cosine']:.2f})")


def print_table(report: dict) -> None:
    sets = report["sets"]
    print(f"\nClaim matching eval (pair model {report['pair_model']['version']}, threshold "
          f"{report['pair_model']['threshold']}; trained on: {', '.join(report['pair_model']['trained_on'])})")
    print(f"  every set below is {IN_DOMAIN.upper()}: the pair model was fitted to it; no held-out figure here")
    for name, note in report["encoders"].items():
        print(f"  encoder {name}: {note}")
    print("  sources: " + ", ".join(f"{Path(k).name} {v}" for k, v in report["sources"].items())
          + ("  (CHANGED DURING THE RUN)" if report.get("sources_changed_during_run") else ""))
    print(f"\n{'set / run':<22}{'P':>7}{'R':>7}{'F1':>7}{'B3-F1':>7}{'nbr-R':>8}{'hardneg':>9}"
          f"{'(pair)':>8}{'update':>8}{'copies':>8}  targets (P>={TARGET_PRECISION}, F1>={TARGET_F1})")
    for name, s in sets.items():
        if s.get("status") != "ok":
            print(f"{name}: skipped: {s.get('reason')}")
            continue
        print(f"{name} ({s['path']}: {s['claims']} claims, {s['clusters']} gold clusters, "
              f"{s['negative_pairs']} hard-negative pairs) - {s['label']}")
        for r in s["runs"]:
            print(f"  {_run_cells(r)}{r['copy_detection']['found']:>5}/"
                  f"{r['copy_detection']['gold']:<2}  {'MET' if r['meets_targets'] else 'NOT MET'}")
    head = report["headline_encoder"]
    print(f"\narrival order ({head} default; B-cubed F1 in published order and two seeded shuffles; "
          f"target spread <= {TARGET_ORDER_SPREAD})")
    print(f"  {'set':<15}{'label':<24}{'published':>10}{'shuf-1':>8}{'shuf-2':>8}{'spread':>8}  met"
          f"   | no eviction: {'pub':>6}{'shuf-1':>8}{'shuf-2':>8}{'spread':>8}  met")
    for name, s in sets.items():
        if s.get("status") != "ok":
            continue
        o = s["orders"]
        cells = []
        for label in ("default", "no-eviction"):
            rows = o[label]["orders"]
            cells.append("".join(f"{_f(rows[k]['bcubed_f1']):>{w}}" for k, w in
                                 (("published", 10 if label == "default" else 6), ("shuffle-1", 8), ("shuffle-2", 8)))
                         + f"{_f(o[label]['bcubed_spread']):>8}  {'yes' if o[label]['meets_target'] else 'NO '}")
        print(f"  {name:<15}{s['label']:<24}{cells[0]}   | no eviction: {cells[1]}")
    for name in ("dedup_eval",):
        s = sets.get(name) or {}
        run = next((r for r in s.get("runs", []) if r["encoder"] == head and r["policy"] == "default"), None)
        if run:
            print(f"  hard negatives kept apart by kind ({name}, {head} default): " + ", ".join(
                f"{k} {v['apart']}/{v['pairs']}" for k, v in run["hard_negative_by_kind"].items()))
            _print_failures(name, run)

    msrp = report["msrp"]
    print("\nMSRP train (two-claim index ClaimIndex({}, policy) per pair; no target; not in the training data)")
    if msrp["status"] != "ok":
        print(f"  skipped: {msrp['reason']}")
    else:
        print(f"  {msrp['pairs']} pairs, {msrp['paraphrases']} paraphrases")
        print(f"  {'encoder policy':<24}{'acc':>7}{'P':>7}{'R':>7}{'F1':>7}   mean p (paraphrase / other)")
        for r in msrp["rows"]:
            pm = r["probability_mean"]
            print(f"  {r['encoder'] + ' ' + r['policy']:<24}{_f(r['accuracy']):>7}{_f(r['precision']):>7}"
                  f"{_f(r['recall']):>7}{_f(r['f1']):>7}   {_f(pm['paraphrase'], 2)} / {_f(pm['other'], 2)}")
    sts = report["sts"]
    print("\nSTS benchmark, news (matcher cosine vs gold 0-5)")
    if sts["status"] != "ok":
        print(f"  skipped: {sts['reason']}")
    else:
        for r in sts["rows"]:
            print(f"  {r['encoder']:<10}{r['split']:<7}{r['pairs']:>6} pairs  Pearson {_f(r['pearson'])}  "
                  f"Spearman {_f(r['spearman'])}")
    cost = report.get("cost")
    if cost:
        print(f"\ncost (hashed vectors; ms per call, wall / thread CPU; target lookup p99 <= {TARGET_LOOKUP_P99_MS} ms "
              f"at 1M)")
        print(f"  {'claims':>9}{'fill s':>8}{'claims/s':>9}{'RSS MB':>8}{'B/claim':>8}{'ANN MB':>8}{'ANN B/cl':>9}"
              f"{'cands':>6}{'lookup p50':>12}{'lookup p99':>12}{'match p50':>12}{'match p99':>12}"
              f"{'cold lk p99':>12}{'cold m p99':>12}{'load':>6}")
        for r in cost["rows"]:
            if "error" in r:
                print(f"  {r['claims']:>9} error: {r['error'][-300:]}")
                continue
            w, c = r["warm"], r["cold"]

            def wc(wall, cpu, q):
                return f"{_f(wall[q], 2)}/{_f(cpu[q], 2)}"
            print(f"  {r['claims']:>9}{r['fill_s']:>8.0f}{r['fill_claims_per_s']:>9.0f}{r['rss_mb']['filled']:>8.0f}"
                  f"{r['rss_mb']['bytes_per_claim']:>8.0f}{r['usearch']['memory_usage_mb']:>8.0f}"
                  f"{r['usearch']['bytes_per_claim']:>9.0f}{w['candidates_per_query']['p50']:>6.0f}"
                  f"{wc(w['candidates_ms'], w['candidates_cpu_ms'], 'p50'):>12}"
                  f"{wc(w['candidates_ms'], w['candidates_cpu_ms'], 'p99'):>12}"
                  f"{wc(w['match_ms'], w['match_cpu_ms'], 'p50'):>12}{wc(w['match_ms'], w['match_cpu_ms'], 'p99'):>12}"
                  f"{wc(c['candidates_ms'], c['candidates_cpu_ms'], 'p99'):>12}"
                  f"{wc(c['match_ms'], c['match_cpu_ms'], 'p99'):>12}{r['loadavg_1m']:>6.1f}")
        for r in cost["rows"]:
            if "error" not in r:
                d = r["decide_cpu_ms"]
                print(f"  {r['claims']:>9}: lookup p99 {'MET' if r['meets_lookup_p99_target'] else 'NOT MET'} (wall), "
                      f"{'met' if r['meets_lookup_p99_target_cpu'] else 'not met'} (CPU); decide() CPU p50/p99 "
                      f"{_f(d['p50'], 2)}/{_f(d['p99'], 2)} ms; record {r['traced_bytes']['record']:.0f} B + decoded "
                      f"{r['traced_bytes']['decoded']:.0f} B (tracemalloc); decoded cache after the fill "
                      f"{r['cached_after_fill']:,} (cache_size {r['cache_size']:,}); features {r['features_s']:.0f} s")
        cb = cost["cache_bound"]
        print(f"  decoded cache bound: cache_size={cb['cache_size']}, after {cb['matches']} matches it holds "
              f"{cb['cached_after']} ({'bounded' if cb['bounded'] else 'NOT bounded'})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--dev", type=Path, default=None,
                    help="the shared devset folder (gold.json, articles.jsonl); default: devset next to --data")
    ap.add_argument("--out", type=Path, default=ROOT / "test-output" / "eval_dedup.json")
    ap.add_argument("--sizes", default="100000,1000000", help="index sizes for the cost run; empty = skip")
    ap.add_argument("--queries", type=int, default=1000, help="timed new claims per scenario")
    ap.add_argument("--quick", action="store_true", help="small sizes and data subsets (for tests)")
    ap.add_argument("--no-embeddings", action="store_true", help="hashed vectors only")
    ap.add_argument("--cost-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.cost_worker is not None:
        print(json.dumps(cost_worker(args.cost_worker, args.queries)))
        return 0

    if args.dev is None:
        args.dev = args.data.parent / "devset"
    limit = 200 if args.quick else None
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        sizes, args.queries = [min(s, 5000) for s in sizes[:1]], min(args.queries, 200)
    started = time.time()
    encoders, notes = load_encoders(with_minilm=not args.no_embeddings)
    model = pairmodel.get_pair_model()
    report = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
              "quick": args.quick, "encoders": notes, "headline_encoder": headline(encoders),
              "pair_model": {"version": model.version, "threshold": model.threshold, "veto": model.veto,
                             "merge": model.merge, "prefilter_cosine": model.prefilter_cosine,
                             "trained_on": trained_on()},
              "targets": {"pairwise_precision": TARGET_PRECISION, "pairwise_f1": TARGET_F1,
                          "lookup_p99_ms_at_1M": TARGET_LOOKUP_P99_MS, "order_bcubed_spread": TARGET_ORDER_SPREAD},
              "default_policy": {k: sorted(v) if isinstance(v, frozenset) else v
                                 for k, v in matching.MatchPolicy().__dict__.items()},
              "sources": source_versions()}
    set_paths = {name: ROOT / "samples" / f"{name}.jsonl" for name in OWN_SETS}
    set_paths["dedup_eval"] = DEFAULT_SET
    report["sets"] = eval_sets(set_paths, args.dev, encoders, args.quick)
    if not args.data.is_dir():
        log(f"eval_dedup: data folder {args.data} not found: MSRP and STS skipped")
    report["msrp"] = eval_msrp(args.data, encoders, limit)
    report["sts"] = eval_sts(args.data, encoders, limit)
    report["cost"] = eval_cost(sizes, args.queries) if sizes else None
    report["elapsed_s"] = round(time.time() - started, 1)
    t = os.times()  # CPU seconds of this process and its finished children (the cost workers)
    report["cpu_s"] = round(t.user + t.system + t.children_user + t.children_system, 1)
    if source_versions() != report["sources"] or any(
            r.get("sources", report["sources"]) != report["sources"] for r in (report["cost"] or {}).get("rows", [])):
        report["sources_changed_during_run"] = True
        log("eval_dedup: WARNING: the matcher's sources changed during the run; sections may disagree")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float))
    print_table(report)
    print(f"\nwrote {args.out} in {report['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
