"""Revision stage: article versions tracked sentence by sentence as their annotations arrive.

A new version of an article (same id, changed body) is complete once every sentence of it has
been seen; its claims are then compared with the previous complete version's
(services.nlp.revisions.compare) and an ArticleRevised is built.
"""

from __future__ import annotations

from datetime import datetime

from schemas import ArticleRevised, ClaimRevision, SentenceAnnotated
from schemas.ids import claim_id
from services.nlp.revisions import compare
from services.nlp.types import Revision


def _event(r: Revision) -> ClaimRevision:
    return ClaimRevision(old_claim_id=r.old_claim_id, new_claim_id=r.new_claim_id, old_text=r.old_text,
                         new_text=r.new_text)


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
                                      previous_version=previous, unchanged=unchanged,
                                      edited=[_event(r) for r in edited], withdrawn=[_event(r) for r in withdrawn],
                                      added=[_event(r) for r in added], revised_at=now)
    state["versions"][key] = entry
    # Bounded: the newest complete version and anything newer still being filled.
    done = sorted((int(v) for v, e in state["versions"].items() if e["done"]), reverse=True)
    keep = {str(v) for v in done[:1]} | {v for v, e in state["versions"].items() if not e["done"]}
    state["versions"] = {v: e for v, e in state["versions"].items() if v in keep}
    return state, revision
