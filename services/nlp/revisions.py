"""Two versions of an article compared claim by claim: unchanged, edited, withdrawn, added.

services/stages/revisions.py tracks versions as their annotations arrive and calls `compare`
once a version is complete.
"""

from __future__ import annotations

from services.nlp import dedup
from services.nlp.types import Revision

EDIT_SIMILARITY = 0.5  # word-set Jaccard above which a changed claim is an edit, not a withdrawal plus a new claim


def _words(text: str) -> set[str]:
    return set(dedup.claim_signature(text, []).split())


def _similarity(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def compare(old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[Revision],
                                                                   list[Revision], list[Revision]]:
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
            edited.append(Revision(old_claim_id=ok, new_claim_id=nk, old_text=gone.pop(ok),
                                        new_text=fresh.pop(nk)))
    withdrawn = [Revision(old_claim_id=k, old_text=v) for k, v in sorted(gone.items())]
    added = [Revision(new_claim_id=k, new_text=v) for k, v in sorted(fresh.items())]
    return unchanged, sorted(edited, key=lambda r: r.new_claim_id or ""), withdrawn, added
