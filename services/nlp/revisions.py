"""Article versions compared claim by claim: unchanged, edited, withdrawn, added.

A new version of an article (same id, changed body) is tracked sentence by
sentence as its annotations arrive; once every sentence of the version has
been seen, its claims are compared with the previous complete version's.
"""

from __future__ import annotations

from datetime import datetime

from schemas import ArticleRevised, ClaimRevision, SentenceAnnotated
from schemas.ids import claim_id
from services.nlp import dedup

EDIT_SIMILARITY = 0.5  # word-set Jaccard above which a changed claim is an edit, not a withdrawal plus a new claim


def _words(text: str) -> set[str]:
    return set(dedup.claim_signature(text, []).split())


def _similarity(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def compare(old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[ClaimRevision],
                                                                   list[ClaimRevision], list[ClaimRevision]]:
    """(unchanged ids, edited, withdrawn, added) between two {claim_id: text} maps."""
    unchanged = sorted(old.keys() & new.keys())
    gone = {k: v for k, v in old.items() if k not in new}
    fresh = {k: v for k, v in new.items() if k not in old}
    edited = []
    # Greedy best pairs first, so one old claim is matched to at most one new claim.
    pairs = sorted(((_similarity(ot, nt), ok, nk) for ok, ot in gone.items() for nk, nt in fresh.items()),
                   reverse=True)
    for score, ok, nk in pairs:
        if score < EDIT_SIMILARITY:
            break
        if ok in gone and nk in fresh:
            edited.append(ClaimRevision(old_claim_id=ok, new_claim_id=nk, old_text=gone.pop(ok),
                                        new_text=fresh.pop(nk)))
    withdrawn = [ClaimRevision(old_claim_id=k, old_text=v) for k, v in sorted(gone.items())]
    added = [ClaimRevision(new_claim_id=k, new_text=v) for k, v in sorted(fresh.items())]
    return unchanged, sorted(edited, key=lambda r: r.new_claim_id or ""), withdrawn, added


def record(state: dict | None, sentence: SentenceAnnotated, now: datetime) -> tuple[dict, ArticleRevised | None]:
    """Add one annotated sentence to the article's state; returns the new state and, when a
    version completes and an earlier complete version exists, the revision event.

    The state is JSON-friendly (it lives in a faust table): {"versions": {"<v>": {"count": n,
    "seen": [indices], "claims": {claim_id: text}, "done": bool}}}.
    """
    state = {"versions": {}} if state is None else {"versions": {k: dict(v) for k, v in state["versions"].items()}}
    key = str(sentence.version)
    entry = state["versions"].get(key) or {"count": sentence.count, "seen": [], "claims": {}, "done": False}
    if entry["done"] or sentence.index in entry["seen"]:
        return state, None  # a replay
    entry = {**entry, "seen": sorted({*entry["seen"], sentence.index}), "claims": dict(entry["claims"])}
    if sentence.is_claim:
        entry["claims"][claim_id(sentence.article_id, sentence.text)] = sentence.text
    revision = None
    if len(entry["seen"]) >= entry["count"]:
        entry["done"] = True
        earlier = [int(v) for v, e in state["versions"].items() if e["done"] and int(v) < sentence.version]
        if earlier:
            previous = max(earlier)
            unchanged, edited, withdrawn, added = compare(state["versions"][str(previous)]["claims"],
                                                          entry["claims"])
            revision = ArticleRevised(article_id=sentence.article_id, version=sentence.version,
                                      previous_version=previous, unchanged=unchanged, edited=edited,
                                      withdrawn=withdrawn, added=added, revised_at=now)
    state["versions"][key] = entry
    # Bounded: the newest complete version and anything newer still being filled.
    done = sorted((int(v) for v, e in state["versions"].items() if e["done"]), reverse=True)
    keep = {str(v) for v in done[:1]} | {v for v, e in state["versions"].items() if not e["done"]}
    state["versions"] = {v: e for v, e in state["versions"].items() if v in keep}
    return state, revision
