"""Claim scoring: the two-output int8 MiniLM runtime (claim, check-worthy), its metadata, news
sentences, F1 on ClaimBuster, the older single-output MiniLM and the TF-IDF model.

Tests of the transformer select it explicitly (the `minilm` fixture): the default model is
claims.DEFAULT_KIND.
"""

import gzip
import importlib.util
import json
import os
import subprocess
import sys
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
    "zzzz qqqq",
]

# Written for this test. Reported facts, attributed statements and statistics: check-worthy.
NEWS_CLAIMS = [
    "The Bank of England raised interest rates to 5.25 percent on Thursday, the highest level since 2008.",
    "Unemployment in Spain fell to 11.7 percent in the second quarter, according to the national statistics office.",
    "The company said it would cut 1,200 jobs across its European plants by the end of next year.",
    "Police said three people were arrested after the protest in central Paris on Saturday.",
    "Germany's exports dropped 1.2 percent in May compared with the previous month.",
    "More than 40,000 people have been displaced by the floods, the United Nations said.",
    "The minister told parliament that the hospital waiting list had grown to 7.6 million cases.",
    "Russia earned £136 billion from oil and gas exports last year.",
    "Inflation in the eurozone slowed to 2.9 percent in October, down from 4.3 percent in September.",
    "The senator voted against the bill in 2019, congressional records show.",
    "Wildfires have burned more than 18 million hectares of forest in Canada this year.",
    "The city council approved a budget of $4.2 billion for the coming fiscal year.",
    "Car sales in China rose by a fifth last year, making it the largest market for electric vehicles.",
    "The governor claimed that crime in the state had fallen by 30 percent since he took office.",
    "Only 12 percent of the country's electricity came from coal in 2022, compared with 40 percent a decade earlier.",
    "The drug reduced the risk of hospitalisation by 89 percent in a trial of 2,250 patients, the manufacturer said.",
    "Average house prices in London have doubled since 2010, according to the Land Registry.",
    "The president said the country had created 800,000 manufacturing jobs during his first term.",
    "Thirty-two countries have now ratified the treaty, the foreign ministry said.",
    "The airline carried 14 million passengers in July, a record for a single month.",
]
# Opinions, questions, predictions, calls to action and teaser headlines: not check-worthy.
NEWS_OTHER = [
    "This is a shameful decision that will be remembered for years.",
    "I think the government has completely lost touch with ordinary people.",
    "Frankly, the new stadium is an eyesore.",
    "It is time we had an honest conversation about the future of our schools.",
    "The minister's speech was long on promises and short on substance.",
    "What happens next?",
    "Can the coalition survive another winter of strikes?",
    "Is this the end of cheap air travel?",
    "Why does nobody talk about the cost of doing nothing?",
    "Markets are likely to remain nervous in the weeks ahead.",
    "I expect the talks to drag on well into the summer.",
    "Whoever wins, the next few months will be difficult for the party.",
    "Sign up for our newsletter to get the latest stories every morning.",
    "Share your views in the comments below.",
    "Please check your local council's website before travelling.",
    "Voters must make their voices heard on polling day.",
    "You won't believe what happened next at the town hall meeting.",
    "Five things to watch at this weekend's summit",
    "Inside the race to build a better battery",
    "The surprising secret behind the world's happiest city",
]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _meta() -> dict:
    return json.loads(claims.META_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def minilm(monkeypatch):
    monkeypatch.setenv(claims.MODEL_ENV, "minilm")


@pytest.fixture(params=["minilm", "minilm-l3", "minilm-v1", "tfidf"])
def each_model(request, monkeypatch):
    monkeypatch.setenv(claims.MODEL_ENV, request.param)
    return request.param


def test_scores_are_probabilities_and_rank_claims_higher(each_model):
    scores = score_claims(SENTENCES)
    assert len(scores) == len(SENTENCES)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > scores[1]
    assert scores[2] > scores[3]
    assert score_claims([]) == []


def test_a_score_does_not_depend_on_the_rest_of_the_batch(each_model):
    # Replays must reproduce the same claim_score whatever the batching.
    alone = score_claims([NEWS_CLAIMS[0]])[0]
    assert score_claims(NEWS_OTHER[:7] + [NEWS_CLAIMS[0]] + NEWS_CLAIMS[5:9])[7] == alone


def test_default_model_is_the_documented_one(monkeypatch):
    monkeypatch.delenv(claims.MODEL_ENV, raising=False)
    assert claims.model_kind() == claims.DEFAULT_KIND


def test_model_metadata_and_files(minilm):
    meta = _meta()
    assert isinstance(claims.MODEL_VERSION, str) and claims.MODEL_VERSION == claims.model_version()
    assert claims.model_version() == meta["model_version"]
    assert 0.0 < claims.DEFAULT_THRESHOLD < 1.0 and claims.DEFAULT_THRESHOLD == meta["threshold"]
    assert 0.0 < claims.DEFAULT_CHECKWORTHY_THRESHOLD < 1.0
    assert claims.DEFAULT_CHECKWORTHY_THRESHOLD == meta["threshold_checkworthy"]
    assert meta["outputs"] == ["claim", "checkworthy"]
    assert meta["calibration"]["method"] == meta["calibration_checkworthy"]["method"] == "platt"
    figures = meta["figures"]
    assert {"heldout", "claimbuster_groundtruth_checkworthy", "checkthat2021_1b_dev",
            "checkthat2022_1b_dev"} <= set(figures)
    assert all(f["kind"] for k, f in figures.items() if k != "heldout")  # dev / out-of-domain / in-domain
    onnx = claims.MODELS_DIR / meta["onnx"]
    assert onnx.stat().st_size < 40 * 1024 * 1024
    assert (claims.MODELS_DIR / meta["tokenizer"]).exists()


def test_two_scores_per_sentence(minilm):
    pairs = claims.score_sentences(NEWS_CLAIMS[:3] + NEWS_OTHER[:3])
    assert len(pairs) == 6 and all(0.0 <= c <= 1.0 and 0.0 <= w <= 1.0 for c, w in pairs)
    assert [c for c, _ in pairs] == claims.score_claims(NEWS_CLAIMS[:3] + NEWS_OTHER[:3])
    assert [w for _, w in pairs] == claims.score_checkworthy(NEWS_CLAIMS[:3] + NEWS_OTHER[:3])
    assert claims.score_sentences([]) == []
    # A figure from a minister is check-worthy; a scene detail is a claim but not worth checking.
    minister, scene = claims.score_sentences([
        "The health minister said waiting lists had fallen by 40 percent since 2022.",
        "The meeting took place in a small room on the third floor of the town hall.",
    ])
    assert minister[1] > scene[1]
    assert minister[1] >= claims.DEFAULT_CHECKWORTHY_THRESHOLD


def test_single_output_models_give_one_score_twice(monkeypatch):
    for kind in ("minilm-v1", "tfidf"):
        monkeypatch.setenv(claims.MODEL_ENV, kind)
        pairs = claims.score_sentences(SENTENCES[:2])
        assert all(c == w for c, w in pairs)
        assert claims.DEFAULT_CHECKWORTHY_THRESHOLD == claims.DEFAULT_THRESHOLD


def test_checkworthy_threshold_is_a_setting(monkeypatch, minilm):
    from services.processors.settings import ProcessorSettings

    assert ProcessorSettings().checkworthy() == claims.DEFAULT_CHECKWORTHY_THRESHOLD
    monkeypatch.setenv("PROCESSORS_CHECKWORTHY_THRESHOLD", "0.7")
    assert ProcessorSettings().checkworthy() == 0.7
    monkeypatch.setenv("PROCESSORS_CHECKWORTHY_THRESHOLD", "1.5")
    with pytest.raises(ValueError):
        ProcessorSettings()


@pytest.mark.parametrize("kind", ["minilm", "minilm-l3"])
def test_news_sentences(kind, monkeypatch):
    monkeypatch.setenv(claims.MODEL_ENV, kind)
    threshold = claims.DEFAULT_THRESHOLD
    scores = score_claims(NEWS_CLAIMS + NEWS_OTHER)
    expected = [True] * len(NEWS_CLAIMS) + [False] * len(NEWS_OTHER)
    failures = [(s, t, e) for s, t, e in zip(scores, NEWS_CLAIMS + NEWS_OTHER, expected, strict=True)
                if (s >= threshold) != e]
    for score, text, want in failures:
        print(f"\n  {'missed claim' if want else 'false claim '} {score:.3f}  {text}", end="")
    rate = 1 - len(failures) / len(expected)
    print(f"\nnews sentences: {rate:.0%} right at threshold {threshold}")
    assert rate >= 0.85


def _groundtruth_checkworthy_counts() -> tuple[int, int, int]:
    """(true positives, predicted, gold) of the loaded model's check-worthy output on ClaimBuster
    groundtruth.csv at its default threshold; skips without the file."""
    path = DATA / "claimbuster" / "groundtruth.csv"
    if not path.exists():
        pytest.skip(f"ClaimBuster groundtruth not found at {path}")
    texts, y = _load_script("train_claim_model").read_claimbuster(path)
    pred = [s >= claims.DEFAULT_CHECKWORTHY_THRESHOLD for s in claims.score_checkworthy(texts)]
    return sum(p and t for p, t in zip(pred, y, strict=True)), sum(pred), sum(y)


def test_f1_on_groundtruth(minilm):
    """In-domain (the training set's debates): the check-worthy output on ClaimBuster's check-worthy class."""
    tp, predicted, gold = _groundtruth_checkworthy_counts()
    precision, recall = tp / predicted, tp / gold
    f1 = 2 * precision * recall / (precision + recall)
    print(f"\ngroundtruth.csv check-worthy class: P={precision:.3f} R={recall:.3f} F1={f1:.3f}")
    # The runtime reproduces what the training script measured on the same int8 graph.
    assert abs(f1 - _meta()["figures"]["claimbuster_groundtruth_checkworthy"]["f1"]) < 0.005
    assert f1 >= 0.8


def test_services_do_not_need_torch():
    code = ("import sys; from services.nlp import claims, embeddings; claims.score_claims(['x']); "
            "embeddings.embed(['x']); bad = {'torch', 'transformers'} & set(sys.modules); assert not bad, bad")
    env = {**os.environ, claims.MODEL_ENV: "minilm"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def test_thread_setting_is_validated(monkeypatch):
    from services.nlp import embeddings

    monkeypatch.setenv(embeddings.THREADS_ENV, "0")
    with pytest.raises(ValueError):
        embeddings.nlp_threads()
    monkeypatch.setenv(embeddings.THREADS_ENV, "2")
    assert embeddings.nlp_threads() == 2
    monkeypatch.delenv(embeddings.THREADS_ENV)
    assert embeddings.nlp_threads() == 1


def test_tfidf_fallback(monkeypatch):
    monkeypatch.setenv(claims.MODEL_ENV, "tfidf")
    assert claims.model_version().startswith("claimbuster-tfidf")
    scores = score_claims(SENTENCES)
    assert scores[0] > scores[1] and all(0.0 <= s <= 1.0 for s in scores)
    monkeypatch.setenv(claims.MODEL_ENV, "bogus")
    with pytest.raises(ValueError):
        claims.model_version()


def test_tfidf_runtime_matches_sklearn(tmp_path):
    pytest.importorskip("sklearn")
    if not (DATA / "claimbuster" / "crowdsourced.csv").exists():
        pytest.skip(f"ClaimBuster data not found under {DATA}")
    train = _load_script("train_claim_model")
    x, y = train.read_claimbuster(DATA / "claimbuster" / "crowdsourced.csv")
    pipe = train.build_pipeline().fit(x, y)
    path = tmp_path / "m.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(train.export(pipe, 0.5, {}), f)
    runtime = ClaimModel.load(path).score(SENTENCES + x[:200])
    expected = pipe.predict_proba(SENTENCES + x[:200])[:, 1]
    # Export rounds weights to 6 decimals, hence the tolerance.
    assert max(abs(a - b) for a, b in zip(runtime, expected, strict=True)) < 1e-4


def test_three_layer_model_is_selectable_and_described(monkeypatch):
    # The L3 claim model (half the CPU per sentence) ships beside the default, with its own figures.
    monkeypatch.setenv(claims.MODEL_ENV, "minilm-l3")
    meta = json.loads(claims.L3_META_PATH.read_text(encoding="utf-8"))
    assert claims.model_version() == meta["model_version"] != json.loads(claims.META_PATH.read_text())["model_version"]
    assert meta["training"]["trained_layers"].startswith("all (embeddings + 3 encoder layers")
    assert "devset" not in json.dumps(meta["training"]["data"])  # the dev measure is never trained on
    model = claims.get_model()
    assert len(model.model.session.get_inputs()) == 2 and model.outputs == 2
    # The runtime reproduces what the training script measured on the same int8 graph.
    tp, predicted, gold = _groundtruth_checkworthy_counts()
    f1 = 2 * tp / (predicted + gold)
    assert abs(f1 - meta["figures"]["claimbuster_groundtruth_checkworthy"]["f1"]) < 0.005


def test_figures_name_what_each_set_is():
    figures = _meta()["figures"]
    assert figures["claimbuster_groundtruth_checkworthy"]["kind"] == "in-domain"
    assert figures["checkthat2022_1b_dev_test"]["output"] == "claim"
    assert "evaluation only" in figures["checkthat2022_1b_dev_test"]["kind"]
    assert figures["checkthat2021_1a_dev"]["kind"].startswith("dev")
