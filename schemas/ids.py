"""Deterministic ids shared by every service: a replay yields the same ids, so writes are idempotent upserts."""

from __future__ import annotations

import hashlib


def sentence_id(article_id: str, version: int, index: int) -> str:
    digest = hashlib.sha1(f"{article_id}\x00{version}\x00{index}".encode()).hexdigest()[:20]
    return f"s-{digest}"


def claim_id(article_id: str, text: str) -> str:
    # By wording, not position: an unchanged sentence in a new article version
    # is the same claim, so it is neither repeated in the feed nor counted twice.
    digest = hashlib.sha1(f"{article_id}\x00{' '.join(text.split())}".encode()).hexdigest()[:20]
    return f"k-{digest}"
