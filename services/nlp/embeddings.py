"""Sentence embeddings with all-MiniLM-L6-v2 (or another encoder), run as an int8 ONNX model.

The encoder is exported by scripts/train_claim_transformer.py: the plain
sentence-transformers recipe (mean of the last hidden states over the real
tokens, then L2 normalisation) baked into one ONNX graph and quantised to
int8. Here it runs on onnxruntime with the `tokenizers` library, so the
services need neither PyTorch nor transformers.

`OnnxTextModel` is the shared runner: the check-worthiness model in
services/nlp/claims.py uses it too, with its own graph and the same tokenizer.

Other encoders come from scripts/export_sentence_encoder.py with the same graph
recipe; scripts/compare_encoders.py measures them side by side (issue 14). Each is
described by its metadata file: files, sha256s, max_length, dim, and an optional
`prefix` put before every input (e5 expects "query: ").

Environment:
    CLAIMSTREAM_NLP_THREADS   onnxruntime intra-op threads per model (default 1:
                              the processors run the NLP in one executor thread)
    CLAIMSTREAM_EMBEDDER      the sentence encoder: "minilm" / "minilm-l6" (default: all-MiniLM-L6-v2),
                              "minilm-l3" (paraphrase-MiniLM-L3-v2: half the CPU, better
                              same-claim AP, see minilm-l3-embed.json),
                              "e5-small" (multilingual-e5-small, English vocabulary), or
                              the path of an encoder's metadata JSON. Vectors of different
                              encoders must not be mixed in one index, and the pair model
                              (models/pair_model.json) was trained on the default encoder's cosines.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np

MODELS_DIR = Path(__file__).parent / "models"
EMBED_META_PATH = MODELS_DIR / "minilm-embed.json"  # the default encoder's
DIM = 384
THREADS_ENV = "CLAIMSTREAM_NLP_THREADS"
ENCODER_ENV = "CLAIMSTREAM_EMBEDDER"
ENCODERS = {"minilm-l3": "minilm-l3-embed.json", "minilm": "minilm-embed.json", "minilm-l6": "minilm-embed.json",
            "e5-small": "e5-small-embed.json"}
DEFAULT_ENCODER = "minilm"
# Sentences per onnxruntime call. Each sentence is run on its own by default:
# int8 dynamic quantisation picks its activation scales over the whole input
# tensor, so in a batch a sentence's output would depend (slightly) on its
# batch-mates and a replayed article could score differently. On one thread,
# batching buys little for sentence-length inputs (see `benchmark`).
DEFAULT_BATCH_SIZE = 1


def nlp_threads() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, not {raw!r}")
    return value


def embed_meta_path() -> Path:
    """The metadata file of the encoder CLAIMSTREAM_EMBEDDER names (default: MiniLM-L6)."""
    raw = os.environ.get(ENCODER_ENV, "").strip() or DEFAULT_ENCODER
    if raw in ENCODERS:
        return MODELS_DIR / ENCODERS[raw]
    if raw.endswith(".json"):
        return Path(raw)
    raise ValueError(f"{ENCODER_ENV} must be one of {sorted(ENCODERS)} or a metadata .json path, not {raw!r}")


def read_metadata(path: Path) -> dict:
    if not path.exists():
        raise RuntimeError(f"model metadata missing at {path}; run scripts/train_claim_transformer.py")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class OnnxTextModel:
    """A tokenizer plus an ONNX graph taking input_ids/attention_mask, one output row per text.

    Inputs are tokenised without padding, ordered by length and cut into
    batches padded to their own longest member, so little work goes to padding;
    outputs come back in the caller's order.
    """

    def __init__(self, onnx_path: str | Path, tokenizer_path: str | Path, max_length: int,
                 threads: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(f"the MiniLM models need onnxruntime and tokenizers installed ({exc})") from exc
        for path in (onnx_path, tokenizer_path):
            if not Path(path).exists():
                raise RuntimeError(f"model file missing at {path}; run scripts/train_claim_transformer.py")
        self.max_length = int(max_length)
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = nlp_threads() if threads is None else int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads must not spin: the cores are shared with the rest of the processor.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids for enc in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def run(self, texts: list[str]) -> np.ndarray:
        ids = self.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        rows: list[np.ndarray | None] = [None] * len(ids)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(ids[i]) for i in chunk)
            input_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for r, i in enumerate(chunk):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(input_ids)
            with self._lock:  # one run at a time per session keeps the thread budget predictable
                out = self.session.run(None, feeds)[0]
            for r, i in enumerate(chunk):
                rows[i] = out[r]
        # every index is in exactly one chunk: no row is left None
        return np.stack(cast(list[np.ndarray], rows)) if rows else np.zeros((0,), dtype=np.float32)


class SentenceEmbedder:
    def __init__(self, meta_path: Path | None = None, threads: int | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        meta_path = embed_meta_path() if meta_path is None else Path(meta_path)
        meta = read_metadata(meta_path)
        self.version: str = meta["model_version"]
        self.dim: int = int(meta.get("dim", DIM))
        # Some encoders expect every input to start with a fixed text (e5: "query: ").
        self.prefix: str = meta.get("prefix", "")
        self.metadata = meta
        base = Path(meta_path).parent
        self.model = OnnxTextModel(base / meta["onnx"], base / meta["tokenizer"], meta["max_length"],
                                   threads=threads, batch_size=batch_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.prefix:
            texts = [self.prefix + t for t in texts]
        vectors = self.model.run(list(texts)).astype(np.float32, copy=False)
        # The graph already normalises; int8 rounding leaves norms a hair off 1, so renormalise.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cached_embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def get_embedder() -> SentenceEmbedder:
    """The shipped encoder, loaded on first use and kept for the process."""
    with _load_lock:
        return _cached_embedder()


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised float32 embeddings, shape (len(texts), dim) (384 for both shipped encoders);
    cosine is a dot product."""
    return get_embedder().embed(list(texts))


def embedding_version() -> str:
    return read_metadata(embed_meta_path())["model_version"]


def embedding_dim() -> int:
    """The chosen encoder's vector size, from its metadata (matching.VECTOR_DIM assumes 384)."""
    return int(read_metadata(embed_meta_path()).get("dim", DIM))


def benchmark(texts: list[str], run, seconds: float = 5.0) -> dict:
    """Throughput of `run(texts)`, repeated for about `seconds` after one warm-up.

    Reports wall-clock rates and rates per CPU-second of this process: on a
    shared machine the latter is the fairer "per core" figure (with one
    intra-op thread the process does all its work on one core at a time).
    """
    import time

    run(texts[:8])
    words = sum(len(t.split()) for t in texts)
    done, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        run(texts)
        done += 1
        wall = time.perf_counter() - wall0
        if wall >= seconds:
            break
    cpu = time.process_time() - cpu0
    return {"sentences": len(texts) * done, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "sentences_per_s": round(len(texts) * done / wall, 1), "words_per_s": round(words * done / wall),
            "sentences_per_cpu_s": round(len(texts) * done / cpu, 1), "words_per_cpu_s": round(words * done / cpu)}


def sample_sentences(path: str | None = None) -> list[str]:
    """Benchmark input: lines of `path`, else the sentences of samples/articles.jsonl."""
    if path:
        return [t for t in Path(path).read_text(encoding="utf-8").splitlines() if t.strip()]
    from services.nlp.split import split_sentences

    articles = Path(__file__).resolve().parents[2] / "samples" / "articles.jsonl"
    out: list[str] = []
    with open(articles, encoding="utf-8") as f:
        for line in f:
            body = json.loads(line).get("body", "")
            out.extend(span.text for span in split_sentences(body) if len(span.text.split()) >= 3)
    return out


if __name__ == "__main__":  # python -m services.nlp.embeddings [sentences.txt]: throughput on this machine
    import sys

    sample = sample_sentences(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"{len(sample)} sentences, {sum(len(t.split()) for t in sample) / len(sample):.1f} words each on average")
    for bs in (1, 16):
        embedder = SentenceEmbedder(batch_size=bs)
        print(f"embed, batch {bs}, {embedder.model.session.get_session_options().intra_op_num_threads} thread(s):",
              benchmark(sample, embedder.embed))
