"""Check-worthiness scoring with a TF-IDF + logistic-regression model.

The model is trained offline by scripts/train_claim_model.py (scikit-learn) and
exported as gzipped JSON; here it is re-applied with numpy only, so the stream
processors do not need scikit-learn. `analyze` is the single tokeniser used by
both sides: training passes it to TfidfVectorizer as the analyzer, which is
what guarantees the runtime features are identical.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).parent / "models" / "claim_model.json.gz"

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
    def load(cls, path: str | Path) -> "ClaimModel":
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
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        w = (1.0 + np.log(tf)) * self.idf[idx]  # sublinear tf, as in sklearn
        w /= np.linalg.norm(w)  # l2 norm over the whole row
        return float(w @ self.coef[idx]) + self.intercept

    def score(self, texts: list[str]) -> list[float]:
        # Stable logistic: avoids overflow warnings for very negative margins.
        out = []
        for t in texts:
            z = self.decision(t)
            out.append(1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z)))
        return out


@lru_cache(maxsize=1)
def get_model() -> ClaimModel:
    """The shipped model, read once per process."""
    if not MODEL_PATH.exists():
        raise RuntimeError(f"claim model missing at {MODEL_PATH}; run scripts/train_claim_model.py")
    return ClaimModel.load(MODEL_PATH)


def score_claims(texts: list[str]) -> list[float]:
    """Probability in [0, 1] that each sentence is a check-worthy factual claim."""
    return get_model().score(texts) if texts else []


def model_version() -> str:
    return get_model().version


def __getattr__(name: str):
    # MODEL_VERSION / DEFAULT_THRESHOLD come from the model file, but reading it
    # at import time would slow every import of the package; resolve lazily.
    if name == "MODEL_VERSION":
        return get_model().version
    if name == "DEFAULT_THRESHOLD":
        return get_model().threshold
    raise AttributeError(name)
