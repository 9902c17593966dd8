"""Number words, for the parts that read spelled-out figures (enrichment and the matching signature)."""

from __future__ import annotations

# "zero" .. "nineteen" -> 0 .. 19
UNITS: dict[str, int] = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
# "twenty" .. "ninety" -> 20 .. 90
TENS: dict[str, int] = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
