"""Are two claims the same claim? A calibrated logistic model over what the two sides agree and disagree on.

The inputs are the matching features of both claims (`matching.ClaimFeatures`): sentence-vector
cosine, shingle and word overlap, and the figures, years, places, names, roles, negation and
direction each side states. A detail stated on one side only is its own feature (one outlet adds
a date or a second figure), apart from a contradiction (both sides state the value, and the values
differ), so the model can learn that the first is common among repeats and the second is not.

The weights, the feature names and the decision thresholds live in `models/pair_model.json`,
written by `scripts/train_pair_model.py` from team-written pairs and corpora; the model is plain
numpy (no scikit-learn at run time). Pure functions: no Kafka, no faust.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from services.nlp.matching import ClaimFeatures

MODEL_PATH = Path(__file__).parent / "models" / "pair_model.json"
MODEL_ENV = "CLAIMSTREAM_PAIR_MODEL"

FEATURES = (
    "cosine", "cosine_above_0_6", "cosine_above_0_8", "minhash_jaccard", "word_jaccard", "word_containment",
    "length_ratio",
    "figures_shared", "figures_conflict", "figures_partial", "figures_one_side",
    "years_shared", "years_conflict", "years_one_side",
    "places_shared", "places_conflict", "places_one_side",
    "names_shared", "names_conflict", "names_one_side", "people_conflict", "nothing_named_in_common",
    "agents_differ", "roles_reversed", "negation_differs", "direction_opposite", "direction_one_side",
    "same_outlet",
)


# The sign each weight may take (training constrains them): more similarity never lowers the
# probability, a contradiction never raises it. Unlisted features (a detail on one side only) are free.
RAISES = frozenset({"cosine", "cosine_above_0_6", "cosine_above_0_8", "minhash_jaccard", "word_jaccard",
                    "word_containment", "length_ratio", "figures_shared", "years_shared", "places_shared",
                    "names_shared"})
LOWERS = frozenset({"figures_conflict", "figures_partial", "years_conflict", "places_conflict", "names_conflict",
                    "people_conflict",
                    "nothing_named_in_common", "agents_differ", "roles_reversed", "negation_differs",
                    "direction_opposite", "same_outlet"})


def _overlap(a: frozenset[str], b: frozenset[str], words) -> tuple[float, float, float]:
    """(shared, conflict, one side only) for two value sets; names compare by their words."""
    if not a and not b:
        return 0.0, 0.0, 0.0
    if not a or not b:
        return 0.0, 0.0, 1.0
    wa, wb = words(a), words(b)
    common = wa & wb
    return (1.0 if common else 0.0), (0.0 if common else 1.0), 0.0


def _identity(values: frozenset[str]) -> frozenset[str]:
    return values


def pair_vector(a: ClaimFeatures, b: ClaimFeatures, cosine: float | None = None,
                minhash_jaccard: float | None = None) -> np.ndarray:
    """The model's inputs for one pair, in FEATURES order (symmetric in a and b)."""
    from services.nlp import matching, normalise

    cos = matching.pair_score(a, b) if cosine is None else cosine
    mj = matching.jaccard(a, b) if minhash_jaccard is None else minhash_jaccard
    common = len(a.tokens & b.tokens)
    union = len(a.tokens | b.tokens) or 1
    shorter = min(len(a.tokens), len(b.tokens)) or 1
    longer = max(len(a.tokens), len(b.tokens)) or 1
    words = matching._name_words
    if a.numbers and b.numbers:
        # Figures compare by value within their rounding (normalise.agree), not as strings.
        shared, a_only, b_only = normalise.relation(a.numbers, b.numbers)
        fig = (1.0 if shared else 0.0, 0.0 if shared else 1.0, 1.0 if shared and a_only and b_only else 0.0, 0.0)
    else:
        fig = (0.0, 0.0, 0.0, 1.0 if (a.numbers or b.numbers) else 0.0)
    yrs = _overlap(a.years, b.years, _identity)
    places = _overlap(a.places, b.places, words)
    names = _overlap(a.names, b.names, words)
    named_a, named_b = a.names | a.places, b.names | b.places
    nothing_common = 1.0 if named_a and named_b and not (words(named_a) & words(named_b)) - \
        matching._WEAK_NAME_WORDS else 0.0
    # Two different people (no word of any name in common): "Faith Chepkoech won" / "Joyline Wambui won".
    people_conflict = 1.0 if a.people and b.people and not words(a.people) & words(b.people) else 0.0
    agents_differ = 0.0
    if a.agent and b.agent and not (words(frozenset((a.agent,))) & words(frozenset((b.agent,)))):
        agents_differ = 1.0
    direction_one = 1.0 if bool(a.direction) != bool(b.direction) else 0.0
    return np.array([
        cos, max(0.0, cos - 0.6), max(0.0, cos - 0.8), mj, common / union, common / shorter, shorter / longer,
        *fig, *yrs, *places, *names, people_conflict, nothing_common,
        agents_differ, 1.0 if matching._swapped(a, b) else 0.0,
        1.0 if a.negated != b.negated else 0.0,
        1.0 if a.direction and b.direction and a.direction != b.direction else 0.0, direction_one,
        1.0 if a.outlet == b.outlet else 0.0,
    ], dtype=np.float64)


@dataclass(frozen=True)
class PairModel:
    """Logistic regression on standardised features: p = sigmoid(w . (x - mean) / scale + b)."""

    version: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float  # p at or above this: the same claim (chosen for precision on the dev pool)
    veto: float  # a cluster member below this (with a contradiction) keeps the claim out of its cluster
    prefilter_cosine: float  # pairs below this cosine (and not near-copies) are not scored at all
    merge: float = 0.9  # a claim this sure of two clusters merges them

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def pair(self, a: ClaimFeatures, b: ClaimFeatures, cosine: float | None = None,
             minhash_jaccard: float | None = None) -> float:
        return float(self.probability(pair_vector(a, b, cosine, minhash_jaccard))[0])

    def to_json(self) -> dict:
        return {"version": self.version, "features": list(FEATURES), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(), "bias": self.bias,
                "threshold": self.threshold, "veto": self.veto, "prefilter_cosine": self.prefilter_cosine,
                "merge": self.merge}

    @classmethod
    def from_json(cls, data: dict) -> PairModel:
        if list(data["features"]) != list(FEATURES):
            raise RuntimeError("pair model was trained on other features; retrain with scripts/train_pair_model.py")
        return cls(version=data["version"], mean=np.array(data["mean"]), scale=np.array(data["scale"]),
                   weights=np.array(data["weights"]), bias=float(data["bias"]), threshold=float(data["threshold"]),
                   veto=float(data["veto"]), prefilter_cosine=float(data["prefilter_cosine"]),
                   merge=float(data.get("merge", 0.9)))


def model_path() -> Path:
    """The shipped model, or the one CLAIMSTREAM_PAIR_MODEL names (a fold's model, for held-out figures)."""
    raw = os.environ.get(MODEL_ENV, "").strip()
    return Path(raw) if raw else MODEL_PATH


@lru_cache(maxsize=1)
def get_pair_model() -> PairModel:
    return PairModel.from_json(json.loads(model_path().read_text(encoding="utf-8")))
