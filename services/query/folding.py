"""Text as free-text search compares it: lower case, diacritics removed.

One definition for the three places that search claim texts: the live matcher (filters.py), the
SQLite FTS5 index (whose unicode61 tokenizer with remove_diacritics 2 folds the same way) and the
folded copy of each claim's text that PostgreSQL searches through a trigram index (db.py).
"""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    """Lower case without diacritics, as FTS5's unicode61 tokenizer with remove_diacritics 2 sees it."""
    decomposed = unicodedata.normalize("NFD", value.lower())  # simple lower case, as FTS5: ß stays ß
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
