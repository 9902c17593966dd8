"""Claim and check-worthiness scoring: a fine-tuned two-output MiniLM (int8 ONNX), or older models.

Two scores per sentence, each a calibrated probability with its own threshold:
- claim_score / is_claim: a verifiable factual claim (what clustering and the feed use);
- checkworthy_score / is_checkworthy: worth a fact-checker's time (what ranks the feed; what the
  CheckThat! check-worthiness tasks measure).

Models, chosen by CLAIMSTREAM_CLAIM_MODEL (default: DEFAULT_KIND below):

"minilm": all-MiniLM-L6-v2 with every layer fine-tuned by scripts/train_claim_dual.py on
ClaimBuster crowdsourced.csv (Verdict -1 neither, 0 claim, 1 both), CheckThat! 2021 1B train
and team-written news sentences and corpora, exported to ONNX and quantised to int8; runs on
onnxruntime + tokenizers (no PyTorch). The graph outputs two raw logits [claim, checkworthy];
claim-dual-minilm.json holds a Platt calibration per output (fitted on a held-out split), both
tuned thresholds, the version and the evaluation figures (dev, out-of-domain and in-domain).

"minilm-l3": the same two-output recipe on paraphrase-MiniLM-L3-v2 (three layers, about half
the claim model's CPU; claim-dual-minilm-l3.json), trained by the same script with --base minilm-l3.

"minilm-v1": the earlier single-output MiniLM (top two layers trained, ClaimBuster only,
claim-minilm.json); its one check-worthiness score serves as both scores.

"tfidf": the TF-IDF + logistic regression model of scripts/train_claim_model.py (0.3 MB,
numpy only, check-worthiness on ClaimBuster); its one score serves as both scores.

Each model brings its own thresholds: DEFAULT_THRESHOLD, DEFAULT_CHECKWORTHY_THRESHOLD and
MODEL_VERSION follow the choice. Public API: `score_sentences(texts)` -> [(claim, checkworthy)],
`score_claims(texts)` (claim scores only), `model_version()`, and those constants (read lazily).

Environment:
    CLAIMSTREAM_CLAIM_MODEL   "minilm" (default, see DEFAULT_KIND), "minilm-l3", "minilm-v1" or "tfidf"
    CLAIMSTREAM_NLP_THREADS   onnxruntime intra-op threads (default 1)
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from services.nlp.embeddings import DEFAULT_BATCH_SIZE, OnnxTextModel, read_metadata

MODELS_DIR = Path(__file__).parent / "models"
# The two-output MiniLM is the default: measured out of domain it beats both older models (see
# claim-dual-minilm.json "figures"); the choice was made on blind and out-of-domain figures, not
# on ClaimBuster groundtruth.csv, which is in-domain for all three.
DEFAULT_KIND = "minilm"
KINDS = ("minilm", "minilm-l3", "minilm-v1", "tfidf")
META_PATH = MODELS_DIR / "claim-dual-minilm.json"
L3_META_PATH = MODELS_DIR / "claim-dual-minilm-l3.json"
V1_META_PATH = MODELS_DIR / "claim-minilm.json"
TFIDF_PATH = MODELS_DIR / "claim_model.json.gz"
MODEL_ENV = "CLAIMSTREAM_CLAIM_MODEL"
# Kept under its old name: the TF-IDF trainer writes here by default.
MODEL_PATH = TFIDF_PATH


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Stable for large |z|: never exponentiates a positive number.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class TransformerClaimModel:
    """An int8 ONNX MiniLM classifier plus its calibration and thresholds.

    The graph outputs one raw logit per sentence (the older single-output model: check-worthy
    only, used for both decisions) or two, [claim, checkworthy], each with its own Platt
    calibration and threshold in the metadata.
    """

    def __init__(self, meta_path: str | Path = META_PATH, threads: int | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        meta = read_metadata(Path(meta_path))
        self.metadata = meta
        self.version: str = meta["model_version"]
        self.threshold: float = float(meta["threshold"])
        self.threshold_checkworthy: float = float(meta.get("threshold_checkworthy", self.threshold))
        self.outputs: int = len(meta.get("outputs", ["checkworthy"]))
        self.cal_a, self.cal_b = _platt(meta["calibration"], meta_path)
        self.cw_a, self.cw_b = _platt(meta.get("calibration_checkworthy", meta["calibration"]), meta_path)
        base = Path(meta_path).parent
        self.model = OnnxTextModel(base / meta["onnx"], base / meta["tokenizer"], meta["max_length"],
                                   threads=threads, batch_size=batch_size)

    def logits(self, texts: list[str]) -> np.ndarray:
        """(n, outputs) raw logits."""
        return self.model.run(texts).reshape(len(texts), -1).astype(np.float64)

    def probabilities2(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (claim, checkworthy) probabilities."""
        if not texts:
            return np.zeros(0), np.zeros(0)
        z = self.logits(texts)
        claim = _sigmoid(self.cal_a * z[:, 0] + self.cal_b)
        cw = _sigmoid(self.cw_a * z[:, -1] + self.cw_b)
        return claim, cw

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.probabilities2(texts)[0]

    def score(self, texts: list[str]) -> list[float]:
        return [float(p) for p in self.probabilities(texts)]

    def score2(self, texts: list[str]) -> list[tuple[float, float]]:
        claim, cw = self.probabilities2(texts)
        return [(float(a), float(b)) for a, b in zip(claim, cw, strict=True)]


def _platt(cal: dict, meta_path) -> tuple[float, float]:
    if cal["method"] != "platt":
        raise RuntimeError(f"unknown calibration {cal['method']!r} in {meta_path}")
    return float(cal["a"]), float(cal["b"])


# --- TF-IDF model (CLAIMSTREAM_CLAIM_MODEL=tfidf) -----------------------------------------
# `analyze` and `ClaimModel` are also what scripts/train_claim_model.py trains against.

# Numbers are the strongest hint of a checkable claim, but the exact value is
# noise: map every number to one placeholder before tokenising.
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_TOKEN = re.compile(r"[a-z_]+(?:'[a-z]+)?|%|\$|£|€")
NUM_TOKEN = "_num_"


def analyze(text: str, ngram_max: int = 2) -> list[str]:
    """Lower-cased word tokens plus word n-grams up to `ngram_max`."""
    text = _NUM.sub(f" {NUM_TOKEN} ", text.lower().replace("’", "'"))
    words = _TOKEN.findall(text)
    feats = list(words)
    for n in range(2, ngram_max + 1):
        feats.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return feats


class ClaimModel:
    """Numpy re-implementation of TfidfVectorizer(sublinear_tf, l2) + LogisticRegression."""

    def __init__(self, data: dict):
        self.version: str = data["version"]
        self.threshold: float = float(data["threshold"])
        self.ngram_max: int = int(data["preprocessing"]["ngram_max"])
        self.vocab: dict[str, int] = data["vocabulary"]
        self.idf = np.asarray(data["idf"], dtype=np.float64)
        self.coef = np.asarray(data["coef"], dtype=np.float64)
        self.intercept = float(data["intercept"])
        self.metadata: dict = data.get("metrics", {})

    @classmethod
    def load(cls, path: str | Path) -> ClaimModel:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return cls(json.load(f))

    def decision(self, text: str) -> float:
        counts: dict[int, int] = {}
        for feat in analyze(text, self.ngram_max):
            idx = self.vocab.get(feat)
            if idx is not None:
                counts[idx] = counts.get(idx, 0) + 1
        if not counts:
            return self.intercept
        cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        w = (1.0 + np.log(tf)) * self.idf[cols]  # sublinear tf, as in sklearn
        w /= np.linalg.norm(w)  # l2 norm over the whole row
        return float(w @ self.coef[cols]) + self.intercept

    def score(self, texts: list[str]) -> list[float]:
        # Stable logistic: avoids overflow warnings for very negative margins.
        out = []
        for t in texts:
            z = self.decision(t)
            out.append(1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z)))
        return out


_load_lock = threading.Lock()


def model_kind() -> str:
    kind = os.environ.get(MODEL_ENV, DEFAULT_KIND).strip().lower() or DEFAULT_KIND
    if kind not in KINDS:
        raise ValueError(f"{MODEL_ENV} must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def meta_path(kind: str | None = None) -> Path:
    kind = kind or model_kind()
    return {"minilm-v1": V1_META_PATH, "minilm-l3": L3_META_PATH}.get(kind, META_PATH)


@lru_cache(maxsize=len(KINDS))
def _load(kind: str) -> TransformerClaimModel | ClaimModel:
    if kind == "tfidf":
        if not TFIDF_PATH.exists():
            raise RuntimeError(f"TF-IDF claim model missing at {TFIDF_PATH}; run scripts/train_claim_model.py")
        return ClaimModel.load(TFIDF_PATH)
    return TransformerClaimModel(meta_path(kind))


def get_model() -> TransformerClaimModel | ClaimModel:
    """The configured model, loaded on first use and kept for the process."""
    with _load_lock:
        return _load(model_kind())


@lru_cache(maxsize=len(KINDS))
def _metadata(kind: str) -> tuple[str, float, float]:
    # Version and thresholds without loading the ONNX session (settings read them at start).
    if kind == "tfidf":
        model = _load("tfidf")
        return model.version, model.threshold, model.threshold
    meta = read_metadata(meta_path(kind))
    return meta["model_version"], float(meta["threshold"]), float(meta.get("threshold_checkworthy", meta["threshold"]))


def score_sentences(texts: list[str]) -> list[tuple[float, float]]:
    """(claim, checkworthy) calibrated probabilities in [0, 1] for each sentence."""
    if not texts:
        return []
    model = get_model()
    if isinstance(model, TransformerClaimModel):
        return model.score2(list(texts))
    return [(p, p) for p in model.score(list(texts))]


def score_checkworthy(texts: list[str]) -> list[float]:
    """Calibrated probability in [0, 1] that each sentence is worth a fact-checker's time."""
    return [cw for _, cw in score_sentences(texts)]


def score_claims(texts: list[str]) -> list[float]:
    """Calibrated probability in [0, 1] that each sentence is a verifiable factual claim."""
    return get_model().score(list(texts)) if texts else []


def model_version() -> str:
    return _metadata(model_kind())[0]


def __getattr__(name: str):
    # MODEL_VERSION / DEFAULT_THRESHOLD / DEFAULT_CHECKWORTHY_THRESHOLD come from the model
    # metadata, but reading it at import time would slow every import of the package; resolve lazily.
    if name == "MODEL_VERSION":
        return _metadata(model_kind())[0]
    if name == "DEFAULT_THRESHOLD":
        return _metadata(model_kind())[1]
    if name == "DEFAULT_CHECKWORTHY_THRESHOLD":
        return _metadata(model_kind())[2]
    raise AttributeError(name)


if __name__ == "__main__":  # python -m services.nlp.claims [sentences.txt]: throughput on this machine
    import sys

    from services.nlp.embeddings import benchmark, sample_sentences

    sample = sample_sentences(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"{len(sample)} sentences, {sum(len(t.split()) for t in sample) / len(sample):.1f} words each on average")
    for bs in (1, 16):
        model = TransformerClaimModel(meta_path(), batch_size=bs)
        print(f"claims ({model.version}), batch {bs}, "
              f"{model.model.session.get_session_options().intra_op_num_threads} thread(s):",
              benchmark(sample, model.score))
    if TFIDF_PATH.exists():
        print("claims (tfidf):", benchmark(sample, ClaimModel.load(TFIDF_PATH).score))
