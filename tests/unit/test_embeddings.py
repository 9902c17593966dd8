"""Sentence embeddings: int8 all-MiniLM-L6-v2 (the default) and paraphrase-MiniLM-L3-v2 on onnxruntime."""

import json

import numpy as np

from services.nlp import embeddings
from services.nlp.embeddings import embed, embedding_version

PARAPHRASE = ("Russia earned £136 billion from oil", "Oil sales brought Russia 136bn pounds")
UNRELATED = [
    "The striker scored twice as United won 3-1 at home.",
    "Heavy rain flooded hundreds of homes across the north of England.",
    "The museum reopened on Tuesday after a two-year renovation.",
    "Scientists say the vaccine cut hospital admissions by 90 percent.",
]


def test_shape_dtype_and_unit_norm():
    vectors = embed(["One sentence.", "Another, longer sentence about the price of oil in 2023.", ""])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_paraphrases_are_closer_than_unrelated_sentences():
    vectors = embed([*PARAPHRASE, *UNRELATED])
    sims = vectors @ vectors.T
    paraphrase = sims[0, 1]
    unrelated = [sims[i, j] for i in range(2) for j in range(2, len(vectors))]
    print(f"\nparaphrase cosine {paraphrase:.3f}; unrelated max {max(unrelated):.3f}")
    assert paraphrase > max(unrelated) + 0.2


def test_an_embedding_does_not_depend_on_the_batch():
    alone = embed([PARAPHRASE[0]])[0]
    assert np.array_equal(embed([*UNRELATED, PARAPHRASE[0]])[-1], alone)


def test_version_and_recorded_self_check():
    meta = json.loads(embeddings.EMBED_META_PATH.read_text(encoding="utf-8"))
    assert embedding_version() == meta["model_version"] and meta["dim"] == 384
    # Written by the export scripts after comparing the int8 graph with the torch model.
    assert (meta.get("self_check") or meta["figures"])["int8_vs_torch_cosine_min"] >= 0.98
    assert (embeddings.MODELS_DIR / meta["onnx"]).stat().st_size < 40 * 1024 * 1024


def test_the_l3_encoder_is_selectable_and_self_checked(monkeypatch):
    monkeypatch.setenv(embeddings.ENCODER_ENV, "minilm-l3")
    path = embeddings.embed_meta_path()
    meta = json.loads(path.read_text(encoding="utf-8"))
    assert meta["layers"] == 3 and meta["self_check"]["int8_vs_torch_cosine_min"] >= 0.98
    vectors = embeddings.SentenceEmbedder(path).embed([*PARAPHRASE, *UNRELATED])
    sims = vectors @ vectors.T
    assert sims[0, 1] > max(sims[i, j] for i in range(2) for j in range(2, len(vectors))) + 0.2
    monkeypatch.setenv(embeddings.ENCODER_ENV, "")
    assert embeddings.embed_meta_path() == embeddings.EMBED_META_PATH
