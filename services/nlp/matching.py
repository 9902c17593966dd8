"""Cross-outlet claim matching: candidate search, hard constraints, syndication.

A claim is routed by a *blocking key* so that candidate search never compares
it with every earlier claim: claims that share the key land on the same Kafka
partition and in the same index bucket. Inside a bucket, candidates are scored
by sentence-vector cosine (paraphrase) and by MinHash of word shingles
(near-verbatim copies), then verified by hard constraints that text similarity
cannot see: numbers, years, places, negation and direction.

Everything here is plain Python over mappings, so the faust tables, the
`claimstream annotate` command and the tests drive the very same code.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash

from services.nlp import dedup
from services.nlp.types import EntityMention

_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_NAME_LABELS = frozenset({"PERSON", "ORG", "NORP", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"})
_YEAR = re.compile(r"^(19|20)\d\d$")
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|without|denied|denies|deny|denying|"
                       r"rejected|refused|cannot)\b|n't\b", re.IGNORECASE)
# Idioms that say "not" without negating the claim ("a level not seen since 1995", "no fewer than 40").
_NOT_NEGATION = re.compile(r"\bnot seen since\b|\bno (?:fewer|less|more) than\b|\bnot only\b", re.IGNORECASE)
_UP = re.compile(r"\b(rose|rise|rises|risen|rising|increased?|increases|increasing|grew|grow|grows|growing|"
                 r"higher|climbed|climbs|jumped|jumps|surged|surges|gained|gains|soared|up|raised?|raises|"
                 r"hiked?|hikes|lifted|lifts)\b", re.IGNORECASE)
_DOWN = re.compile(r"\b(fell|fall|falls|fallen|falling|dropped|drops|drop|decreased?|decreases|declined?|"
                   r"declines|lower|lowered|lowers|reduced?|reduces|slashed|eased|eases|halved|shrank|shrinks|"
                   r"slumped|plunged|plunges|tumbled|down|cut|cuts)\b",
                   re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}\b")
_CALENDAR = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december""".split())
NUM_PERM = 32  # MinHash permutations: enough to tell a reprint (J≈1) from a paraphrase (J≈0.3)
VECTOR_DIM = 384


@dataclass(frozen=True)
class MatchPolicy:
    paraphrase_cosine: float = 0.62  # vectors at or above this may be the same claim
    copy_jaccard: float = 0.8  # shingle Jaccard at or above this is a near-verbatim copy
    update_cosine: float = 0.75  # same wording but a different figure: an update of the earlier claim
    max_bucket: int = 1000  # newest claims kept per blocking key
    window_s: float = 14 * 24 * 3600.0  # older candidates are evicted


@dataclass(frozen=True)
class ClaimFeatures:
    claim_id: str
    outlet: str
    seen_at: float  # epoch seconds
    tokens: frozenset[str]
    numbers: frozenset[str]
    years: frozenset[str]
    places: frozenset[str]
    names: frozenset[str]
    negated: bool
    direction: int  # +1 rose, -1 fell, 0 neither or both
    context: frozenset[str]  # names in the attribution ("The mayor of Vellmar said ..."): routing only
    minhash: np.ndarray = field(repr=False, compare=False)  # uint64, NUM_PERM
    vector: np.ndarray = field(repr=False, compare=False)  # int8, VECTOR_DIM, ~unit length * 127


@dataclass(frozen=True)
class Match:
    cluster_id: str
    copy_of: str | None = None  # claim id of the original this claim copies
    update_of: str | None = None  # cluster whose figure this claim updates
    matched_claim: str | None = None
    score: float = 0.0


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def hashed_vector(tokens: frozenset[str]) -> np.ndarray:
    """A cheap bag-of-words sentence vector (feature hashing); the fallback when no encoder is given."""
    vec = np.zeros(VECTOR_DIM, dtype=np.float32)
    for tok in tokens:
        h = _stable_hash(tok)
        vec[h % VECTOR_DIM] += 1.0 if (h >> 20) & 1 else -1.0
    return vec


def quantise(vec: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vec)) or 1.0
    return np.clip(np.round(vec / norm * 127.0), -127, 127).astype(np.int8)


def _shingles(text: str) -> set[str]:
    words = _WORDS.findall(dedup.claim_core(text).casefold())
    return {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))} if words else {""}


def _minhash(text: str) -> np.ndarray:
    mh = MinHash(num_perm=NUM_PERM, seed=7)
    mh.update_batch([s.encode() for s in _shingles(text)])
    return mh.hashvalues.copy()


def features(claim_id: str, text: str, entities: list[EntityMention], outlet: str, seen_at: float,
             vector: np.ndarray | None = None) -> ClaimFeatures:
    tokens = frozenset(dedup.claim_signature(text, entities).split())
    numbers = frozenset(t for t in tokens if t.replace(".", "", 1).isdigit() and not _YEAR.match(t))
    years = frozenset(t for t in tokens if _YEAR.match(t))
    core = dedup.claim_core(text)
    kept = [e for e in entities if core[e.start:e.end] == text[e.start:e.end]]  # not in the attribution
    up, down = bool(_UP.search(core)), bool(_DOWN.search(core))
    return ClaimFeatures(
        claim_id=claim_id, outlet=outlet, seen_at=seen_at, tokens=tokens, numbers=numbers, years=years,
        places=frozenset(e.canonical for e in kept if e.label in _PLACE_LABELS) | _unlabelled_propers(core, kept),
        names=frozenset(e.canonical for e in kept if e.label in _NAME_LABELS),
        negated=bool(_NEGATION.search(_NOT_NEGATION.sub(" ", core))), direction=int(up) - int(down),
        context=frozenset(e.canonical for e in entities if e not in kept
                          and e.label in _PLACE_LABELS | _NAME_LABELS),
        minhash=_minhash(text), vector=quantise(hashed_vector(tokens) if vector is None else vector),
    )


def _unlabelled_propers(core: str, entities: list[EntityMention]) -> frozenset[str]:
    """Capitalised words inside the sentence that NER missed or mislabelled ("near Corinth" as ORDINAL).

    They count with the places: a claim about Corinth is not the same claim about Patras.
    """
    covered = [(e.start, e.end) for e in entities if e.label in _PLACE_LABELS | _NAME_LABELS]
    found = set()
    for m in _CAPITALISED.finditer(core):
        before = core[:m.start()].rstrip()
        if not before or before[-1] in '.!?"\u201c:-\u2013\u2014':
            continue  # sentence-initial or after a dateline: capitalised anyway
        if m.group().casefold() in _CALENDAR or any(s <= m.start() < e for s, e in covered):
            continue
        found.add(m.group())
    return frozenset(found)


def blocking_key(f: ClaimFeatures) -> str:
    """The routing key: claims that could be the same claim almost always share it.

    A figure is what outlets change least when they rewrite a claim, and two
    claims can only match if they share it, so the largest figure routes
    numeric claims. Only its magnitude and leading digit count, so that an
    updated figure (12 dead, later 19) still meets the first report. Without a
    figure, a one-permutation MinHash of the named entities routes (two claims
    share it with probability = Jaccard of their entity sets; names that sit in
    the attribution count too, since they still say what the claim is about);
    without either, a MinHash of the words.
    """
    if f.numbers:
        top = max(float(t) for t in f.numbers)
        magnitude = int(math.floor(math.log10(top))) if top >= 1 else 0
        return f"n:{magnitude}:{str(int(top))[0] if top >= 1 else '0'}"
    named = f.names | f.places | f.context
    if named:
        return "e:" + min(named, key=_stable_hash)
    return "w:" + min(f.tokens or frozenset({""}), key=_stable_hash)


def conflicts(a: ClaimFeatures, b: ClaimFeatures) -> list[str]:
    """Hard constraints that keep look-alike claims apart; empty when compatible."""
    found = []
    if a.negated != b.negated:
        found.append("negation")
    if a.direction and b.direction and a.direction != b.direction:
        found.append("direction")
    if a.numbers and b.numbers and not (a.numbers <= b.numbers or b.numbers <= a.numbers):
        found.append("number")
    if a.years and b.years and a.years != b.years:
        found.append("year")
    if a.places and b.places and not (a.places <= b.places or b.places <= a.places):
        found.append("place")  # as with figures: one report may name fewer places, not other ones
    return found


def cosine(a: ClaimFeatures, matrix: np.ndarray) -> np.ndarray:
    return (matrix.astype(np.float32) @ a.vector.astype(np.float32)) / (127.0 * 127.0)


def jaccard(a: ClaimFeatures, b: ClaimFeatures) -> float:
    return float(np.mean(a.minhash == b.minhash))


def new_cluster_id(claim_id: str) -> str:
    return "c_" + hashlib.sha1(claim_id.encode()).hexdigest()[:16]


# --- storage: JSON-friendly records, so faust tables (changelog-backed) can hold them -------------

def to_record(f: ClaimFeatures, m: Match) -> dict:
    return {
        "o": f.outlet, "t": f.seen_at, "k": sorted(f.tokens), "n": sorted(f.numbers), "y": sorted(f.years),
        "p": sorted(f.places), "e": sorted(f.names), "neg": f.negated, "dir": f.direction, "x": sorted(f.context),
        "mh": base64.b64encode(f.minhash.astype("<u8").tobytes()).decode(),
        "v": base64.b64encode(f.vector.tobytes()).decode(),
        "c": m.cluster_id, "cp": m.copy_of, "up": m.update_of,
    }


def from_record(claim_id: str, r: dict) -> tuple[ClaimFeatures, Match]:
    f = ClaimFeatures(
        claim_id=claim_id, outlet=r["o"], seen_at=r["t"], tokens=frozenset(r["k"]), numbers=frozenset(r["n"]),
        years=frozenset(r["y"]), places=frozenset(r["p"]), names=frozenset(r["e"]), negated=r["neg"],
        direction=r["dir"], context=frozenset(r.get("x", [])), minhash=np.frombuffer(base64.b64decode(r["mh"]), dtype="<u8").astype(np.uint64),
        vector=np.frombuffer(base64.b64decode(r["v"]), dtype=np.int8),
    )
    return f, Match(cluster_id=r["c"], copy_of=r["cp"], update_of=r["up"])


class ClaimIndex:
    """Blocking-key buckets of recent claims over two mappings (dicts offline, faust tables in the stream).

    `buckets`: key -> list of claim ids, newest last, bounded by policy.max_bucket.
    `records`: claim id -> to_record(...). A decoded cache keeps lookups cheap.
    """

    def __init__(self, buckets: MutableMapping, records: MutableMapping, policy: MatchPolicy | None = None,
                 cache_size: int = 100_000) -> None:
        self.buckets, self.records = buckets, records
        self.policy = policy or MatchPolicy()
        self._cache: OrderedDict[str, tuple[ClaimFeatures, Match]] = OrderedDict()
        self._cache_size = cache_size

    def _load(self, claim_id: str) -> tuple[ClaimFeatures, Match] | None:
        hit = self._cache.get(claim_id)
        if hit is not None:
            self._cache.move_to_end(claim_id)
            return hit
        record = self.records.get(claim_id)
        if record is None:
            return None
        hit = from_record(claim_id, record)
        self._cache[claim_id] = hit
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return hit

    def candidates(self, key: str, now: float) -> list[tuple[ClaimFeatures, Match]]:
        horizon = now - self.policy.window_s
        out = []
        for claim_id in self.buckets.get(key) or []:
            hit = self._load(claim_id)
            if hit is not None and hit[0].seen_at >= horizon:
                out.append(hit)
        return out

    def match(self, f: ClaimFeatures, key: str | None = None) -> Match:
        """Decide the claim's cluster and add it to the index; a replayed claim gets its first decision."""
        known = self._load(f.claim_id)
        if known is not None:
            return known[1]
        key = key or blocking_key(f)
        found = decide(f, self.candidates(key, f.seen_at), self.policy)
        self.records[f.claim_id] = to_record(f, found)
        self._cache[f.claim_id] = (f, found)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        bucket = [c for c in (self.buckets.get(key) or []) if c != f.claim_id] + [f.claim_id]
        self.buckets[key] = bucket[-self.policy.max_bucket:]
        return found


def decide(f: ClaimFeatures, candidates: list[tuple[ClaimFeatures, Match]], policy: MatchPolicy) -> Match:
    """Join the most similar compatible candidate's cluster, else start one; mark copies and updates."""
    if not candidates:
        return Match(cluster_id=new_cluster_id(f.claim_id))
    matrix = np.stack([c.vector for c, _ in candidates])
    scores = cosine(f, matrix)
    best: tuple[float, ClaimFeatures, Match] | None = None
    update: tuple[float, Match] | None = None
    for score, (cand, cand_match) in zip(scores.tolist(), candidates):
        near_copy = jaccard(f, cand) >= policy.copy_jaccard
        if score < policy.paraphrase_cosine and not near_copy:
            continue
        found = conflicts(f, cand)
        if not found:
            if best is None or score > best[0]:
                best = (score, cand, cand_match)
        elif found == ["number"] and score >= policy.update_cosine and cand.seen_at <= f.seen_at:
            if update is None or score > update[0]:
                update = (score, cand_match)
    if best is None:
        return Match(cluster_id=new_cluster_id(f.claim_id), update_of=update[1].cluster_id if update else None)
    score, cand, cand_match = best
    copy_of = None
    if cand.outlet != f.outlet and jaccard(f, cand) >= policy.copy_jaccard and cand.seen_at <= f.seen_at:
        copy_of = cand_match.copy_of or cand.claim_id  # point at the original, not at another copy
    return Match(cluster_id=cand_match.cluster_id, copy_of=copy_of, matched_claim=cand.claim_id, score=score)
