"""One normalisation of figures: number words, scale words, units to base units, and figure agreement.

Enrichment (enrich.py) finds the quantities of a claim once, in the annotate stage; this module
turns each into a comparable figure (`base_value` in `base_unit`, the `precision` it was written
to, whether it restates the figure before it in brackets), and matching reads those figures from
the events instead of parsing numbers again. So "€2.4bn" and "2.4 billion euros" are one figure,
"480 metres (1,575 feet)" is one figure, and "nearly 2.4 billion" agrees with "2.38 billion".

Measured against libraries (20 news quantity phrases, 21 number-word phrases; see README):
quantulum3 read 15/20 (it reads "€2.4bn" as euro-bit-newton and "$5m" as dollar-metre, and its
classifier does not load with today's scikit-learn), the own rules 20/20; word2number 15/21 and
text2num 14/21 number words against the own 18/21. Unit factors come from pint (exact, documented
definitions) rather than a hand-typed table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

# "zero" .. "nineteen" -> 0 .. 19
UNITS: dict[str, int] = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
# "twenty" .. "ninety" -> 20 .. 90
TENS: dict[str, int] = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
# Scale words and abbreviations, as written after a number ("2.4bn", "4 lakh", "2 crore").
SCALES: dict[str, float] = {
    "hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "lakh": 1e5, "crore": 1e7,
    "k": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "b": 1e9, "bn": 1e9, "tn": 1e12, "dozen": 12,
}


def words_value(text: str) -> float | None:
    """The value of a run of number words: "Three hundred and ten" -> 310, "a dozen" -> 12; None if none."""
    total, current, seen = 0.0, 0.0, False
    for tok in re.split(r"[\s-]+", text.lower()):
        if tok == "and":
            continue
        if tok == "a":
            current, seen = 1.0, True
        elif tok in UNITS:
            current += UNITS[tok]
            seen = True
        elif tok in TENS:
            current += TENS[tok]
            seen = True
        elif tok == "hundred":
            current = (current or 1) * 100
            seen = True
        elif tok == "dozen":
            current = (current or 1) * 12
            seen = True
        elif tok in SCALES:
            total += (current or 1) * SCALES[tok]
            current, seen = 0.0, True
    return total + current if seen else None


# Units enrichment names -> pint's names. Counted nouns ("people", "homes") are counts: no unit here.
_PINT = {
    "km": "kilometer", "miles": "mile", "metres": "meter", "feet": "foot", "cm": "centimeter", "mm": "millimeter",
    "kg": "kilogram", "tonnes": "metric_ton", "tons": "metric_ton", "lb": "pound",
    "hectares": "hectare", "acres": "acre", "square km": "kilometer ** 2", "square miles": "mile ** 2",
    "mph": "mile / hour", "km/h": "kilometer / hour", "litres": "liter", "gallons": "gallon",
}
# Figures without a physical unit that still must match in kind.
_PLAIN_KINDS = frozenset({"percent", "percentage points", "fraction", "barrels", "barrels per day", "degrees"})


@lru_cache(maxsize=1)
def _registry():
    import pint

    return pint.UnitRegistry()


def load_units() -> None:
    """Load pint's unit registry now: about 0.2 s of CPU once, better spent at start-up than on
    the first claim that names a unit (and kept out of throughput measurements)."""
    _registry()


@lru_cache(maxsize=64)
def _to_base(unit: str) -> tuple[float, str]:
    """(factor, base unit) of a unit pint knows: "miles" -> (1609.344, "meter")."""
    q = _registry().Quantity(1.0, _PINT[unit]).to_base_units()
    return float(q.magnitude), str(q.units)


def base_unit(unit: str | None) -> tuple[float, str | None]:
    """(factor, base unit) of an enrichment unit: a currency code stays itself, a count has no unit."""
    if unit is None:
        return 1.0, None
    if unit in _PINT:
        return _to_base(unit)
    if unit in _PLAIN_KINDS or (len(unit) == 3 and unit.isupper()):
        return 1.0, unit
    return 1.0, None  # a counted noun: "4,800 people" and "4,800 residents" are one count


def looks_rounded(text: str, value: float) -> bool:
    """Was the figure written rounded: a scale word ("2.4bn", "4 lakh") or zeros before the point ("4,800")?"""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if m is None:
        return _integer_step(value) >= 10
    digits = m.group().replace(",", "")
    number = float(digits)
    return (number and abs(value / number - 1) > 1e-9) or ("." not in digits and _integer_step(number) >= 10)


def written_precision(text: str, value: float) -> float:
    """The step the figure was written to, in its own units: "4,800" -> 100, "2.4bn" -> 1e8, "12" -> 1.

    Read from the digits as written (the last non-zero place), scaled like the value, so that a
    rounded figure can agree with a precise one within half that step."""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if m is None:  # number words: the value's own last non-zero place
        return _integer_step(value)
    digits = m.group().replace(",", "")
    number = float(digits)
    if "." in digits:
        step = 10.0 ** -len(digits.split(".")[1])
    else:
        step = _integer_step(number)
    return step * (value / number if number else 1.0)


def _integer_step(value: float) -> float:
    if value <= 0 or value != int(value):
        return 1.0
    step, v = 1.0, int(value)
    while v % 10 == 0 and v >= 10:
        v //= 10
        step *= 10
    return step


# A bracket right after a figure that restates it: "2.4 billion euros (about $2.6 billion)", "480 metres (1,575 feet)".
_BRACKET_OPEN = re.compile(r"\A\s*[(\[]\s*(?:about|around|roughly|approximately|nearly|some|almost|or|c\.|ca\.|~"
                           r"|equivalent\s+to|the\s+equivalent\s+of)?\s*\Z", re.IGNORECASE)
_BRACKET_CLOSE = re.compile(r"\A\s*[)\]]")


@dataclass(frozen=True, slots=True)
class Figure:
    """A quantity as matching compares it."""

    value: float  # in base_unit
    unit: str | None  # base unit or kind: "meter", "EUR", "percent"; None for a count
    precision: float  # the written step, in base_unit
    approximate: bool
    rounded: bool = False  # written with a scale word or trailing zeros: "2.4bn", "4,800"

    def key(self) -> str:
        """A compact, stable text form (stored in the matching records)."""
        return f"{self.value:.6g}|{self.precision:.3g}|{self.unit or ''}|{int(self.approximate)}|{int(self.rounded)}"

    @classmethod
    def from_key(cls, key: str) -> Figure:
        if "|" not in key:  # a record stored before figures were normalised: the bare value
            return cls(float(key), None, 1.0, False)
        value, precision, unit, approx, rounded = key.split("|")
        return cls(float(value), unit or None, float(precision), approx == "1", rounded == "1")


def normalise_quantities(text: str, quantities) -> list[dict]:
    """Per quantity (in order): base_value, base_unit, precision and whether it restates the one before it.

    `quantities` have text, value, unit, start, end (enrich.Quantity)."""
    out: list[dict] = []
    for i, q in enumerate(quantities):
        factor, unit = base_unit(q.unit)
        value = q.value * factor
        conversion = False
        if i:
            prev = quantities[i - 1]
            between, after = text[prev.end:q.start], text[q.end:q.end + 3]
            kinds_fit = unit is None or out[-1]["base_unit"] is None or _same_kind(unit, out[-1]["base_unit"])
            if _BRACKET_OPEN.match(between) and _BRACKET_CLOSE.match(after) and kinds_fit and q.unit != prev.unit:
                conversion = True
        out.append({"base_value": value, "base_unit": unit, "conversion": conversion,
                    "precision": written_precision(q.text, q.value) * factor})
    return out


def _same_kind(a: str, b: str) -> bool:
    """Two base units that a bracket may convert between: the same dimension, or two currencies."""
    if a == b:
        return True
    return len(a) == 3 and a.isupper() and len(b) == 3 and b.isupper()


def figure(q) -> Figure | None:
    """The Figure of a normalised quantity (enrich.Quantity or schemas.Quantity); None for a restatement."""
    if getattr(q, "conversion", False):
        return None
    value = q.base_value if getattr(q, "base_value", None) is not None else q.value
    precision = q.precision if getattr(q, "precision", None) is not None else 1.0
    return Figure(value, getattr(q, "base_unit", None), precision, bool(q.approximate), looks_rounded(q.text, q.value))


# Two roundings of one figure differ by at most this share of it.
MAX_ROUNDING = 0.03


def agree(a: Figure, b: Figure) -> bool:
    """Do two figures state the same value? Units must fit (a count fits any unit: "2.4 billion" and
    "€2.4bn"); values agree when equal, or within the coarser one's rounding ("4,800" / "4,812") and
    at most 3% apart; an approximate figure ("about", "nearly") is allowed a whole step. Only a figure
    that reads as rounded or approximate is taken as a rounding: "41%" and "40.6%" are two readings."""
    if a.unit and b.unit and a.unit != b.unit:
        return False
    diff, size = abs(a.value - b.value), max(abs(a.value), abs(b.value))
    if diff <= 1e-9 * max(size, 1.0):
        return True
    coarse = a if a.precision >= b.precision else b
    if not (a.approximate or b.approximate or coarse.rounded):
        return False
    step = max(a.precision, b.precision) * (1.0 if a.approximate or b.approximate else 0.5)
    return diff <= step * (1 + 1e-9) and diff <= MAX_ROUNDING * size


def relation(a: frozenset[str], b: frozenset[str]) -> tuple[bool, bool, bool]:
    """(some figure agrees, `a` has a figure `b` lacks, `b` has one `a` lacks) for two sets of Figure keys."""
    fa = [Figure.from_key(k) for k in a]
    fb = [Figure.from_key(k) for k in b]
    shared = any(agree(x, y) for x in fa for y in fb)
    a_only = any(not any(agree(x, y) for y in fb) for x in fa)
    b_only = any(not any(agree(x, y) for x in fa) for y in fb)
    return shared, a_only, b_only


def token(f: Figure) -> str:
    """One word for a figure in the matching signature: the value to two significant digits and its unit
    ("€2.4bn", "2.4 billion euros" -> "q2.4e+09eur"), so roundings and spellings read alike."""
    v = f"{f.value:.2g}" if f.value and not math.isnan(f.value) else "0"
    return "q" + v + re.sub(r"\W+", "", (f.unit or "").casefold())
