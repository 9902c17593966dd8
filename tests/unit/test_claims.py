"""Claim scoring: runtime (numpy) equals sklearn, ranks sensibly, F1 on ClaimBuster dev."""

import importlib.util
import json
from pathlib import Path

import pytest

from services.nlp import claims
from services.nlp.claims import ClaimModel, score_claims

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
SENTENCES = [
    "Unemployment fell to 3.5 percent in 2019, the lowest in fifty years.",
    "What a wonderful evening, thank you all.",
    "We have cut taxes for 95 percent of working families.",
    "I think we can do better.",
    "",
    "zzzz qqqq",  # no known feature: intercept only
]


def _train_script():
    spec = importlib.util.spec_from_file_location("train_claim_model", ROOT / "scripts" / "train_claim_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scores_are_probabilities_and_rank_claims_higher():
    scores = score_claims(SENTENCES)
    assert len(scores) == len(SENTENCES)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > scores[1]
    assert scores[2] > scores[3]
    assert score_claims([]) == []


def test_model_metadata():
    assert isinstance(claims.MODEL_VERSION, str) and claims.MODEL_VERSION == claims.model_version()
    assert 0.0 < claims.DEFAULT_THRESHOLD < 1.0
    assert claims.MODEL_PATH.stat().st_size < 3 * 1024 * 1024


def test_runtime_matches_sklearn(tmp_path):
    pytest.importorskip("sklearn")
    if not (DATA / "claimbuster" / "crowdsourced.csv").exists():
        pytest.skip(f"ClaimBuster data not found under {DATA}")
    train = _train_script()
    x, y = train.read_claimbuster(DATA / "claimbuster" / "crowdsourced.csv")
    pipe = train.build_pipeline().fit(x, y)
    path = tmp_path / "m.json.gz"
    import gzip

    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(train.export(pipe, 0.5, {}), f)
    runtime = ClaimModel.load(path).score(SENTENCES + x[:200])
    expected = pipe.predict_proba(SENTENCES + x[:200])[:, 1]
    # Export rounds weights to 6 decimals, hence the tolerance.
    assert max(abs(a - b) for a, b in zip(runtime, expected)) < 1e-4


def test_f1_on_groundtruth():
    path = DATA / "claimbuster" / "groundtruth.csv"
    if not path.exists():
        pytest.skip(f"ClaimBuster groundtruth not found at {path}")
    texts, y = _train_script().read_claimbuster(path)
    pred = [s >= claims.DEFAULT_THRESHOLD for s in score_claims(texts)]
    tp = sum(p and t for p, t in zip(pred, y))
    precision, recall = tp / sum(pred), tp / sum(y)
    f1 = 2 * precision * recall / (precision + recall)
    print(f"\ngroundtruth.csv positive class: P={precision:.3f} R={recall:.3f} F1={f1:.3f}")
    assert f1 >= 0.80
