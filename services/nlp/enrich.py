"""What a fact-checker needs to know about a claim sentence, by rules.

`enrich_claim` returns the kind of claim (statistic, event, quote, causal,
comparison, other), who asserts it and through whom, the quantities it states
(each with its comparable figure from normalise.py) and the dates it mentions
resolved against the publication time. This is the one place figures and dates
are read: the events carry them and matching reads them from there.

Everything here is regexes compiled once at import plus small loops over
their matches; dateparser is imported lazily and only sees short DATE entity
spans that the own date rules did not already cover (cached), because it
costs about a millisecond per call and reads "Tuesday" on a Tuesday as a week
earlier, which is wrong for news.

Date conventions (news reports mostly the recent past):
- `resolved` is always a full ISO date (YYYY-MM-DD), the first day of the
  period; `granularity` says how much of it is meant: "day", "month", "year",
  or "relative" for rolling spans and weeks ("last week" -> the Monday of the
  previous ISO week; "over the past year" -> publication day minus one year).
- A weekday or month without a year is the most recent one on or before the
  publication day ("on Tuesday" published on a Tuesday is that day; "in
  October" published in November is last month) unless the clause before it
  looks ahead ("will", "expect", "may keep", "next"): then the nearest one on
  or after the publication day ("until Friday" in "officials expect ...").
- Dates are taken in the publication timestamp's own timezone (UTC in the
  stream); without a publication time only absolute dates are resolved.
- A four-digit year (1500-2099) is a date, not a quantity, after a time
  preposition ("since 1960", "in 2023") or when no plural noun follows; "2000
  people" stays a quantity.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

from services.nlp import normalise
from services.nlp.normalise import SCALES, TENS, UNITS, words_value
from services.nlp.types import EntityMention

CLAIM_TYPES = ("statistic", "event", "quote", "causal", "comparison", "other")


@dataclass(frozen=True, slots=True)
class Attribution:
    source: str | None  # who asserts the claim: "US official", "national weather service"
    via: str | None  # through whom it reached the outlet: "Associated Press"
    hedged: bool  # "reportedly", "allegedly", "according to", "is said to", "claimed", ...
    cue: str | None  # the words that marked the attribution or hedge ("told", "according to")


@dataclass(frozen=True, slots=True)
class Quantity:
    text: str  # the whole mention, with its qualifier and unit: "about 3,100 hectares"
    value: float  # 136bn pounds -> 1.36e11; 3.5% -> 3.5; "millions of" -> 1e6
    unit: str | None  # GBP, USD, EUR, percent, percentage points, km, ... or the counted noun
    scale: str | None  # the scale word as written: "billion", "bn", "millions"
    start: int
    end: int
    approximate: bool  # about, nearly, more than, up to, "millions of" ...
    # The one normalisation (normalise.py), computed here and carried in the events for matching:
    base_value: float | None = None  # value in base_unit: "7.5 miles" -> 12070.08
    base_unit: str | None = None  # "meter", "kilogram", "meter ** 2", a currency code, "percent"; None: a count
    precision: float | None = None  # the step it was written to, in base_unit: "4,800" -> 100
    conversion: bool = False  # restates the figure before it in brackets: "480 metres (1,575 feet)"


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str  # without a leading preposition: "Tuesday", "last week", "1960"
    start: int
    end: int
    resolved: str | None  # ISO date, first day of the period; None when it cannot be placed
    granularity: str  # day, month, year, relative


@dataclass(frozen=True, slots=True)
class Enrichment:
    claim_type: str
    attribution: Attribution
    quantities: tuple[Quantity, ...]
    dates: tuple[DateMention, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quantities"], d["dates"] = list(d["quantities"]), list(d["dates"])
        return d


# ---------------------------------------------------------------- numbers

_UNITS, _TENS, _SCALES = UNITS, TENS, SCALES
_VAGUE = {"dozens": 12, "scores": 20, "hundreds": 100, "thousands": 1e3, "millions": 1e6, "billions": 1e9,
          "trillions": 1e12}
_FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1, "thirds": 2 / 3,
              "quarters": 0.75}
_NUMWORD = "|".join(sorted([*_UNITS, *_TENS, "hundred", "thousand", "million", "billion", "trillion"], key=len,
                           reverse=True))
_CORE = re.compile(
    r"(?P<vague>\b(?:(?:tens|hundreds)\s+of\s+(?:thousands|millions|billions)|dozens|scores|hundreds|thousands"
    r"|millions|billions|trillions)(?=\s+of\b))"
    r"|(?P<frac>\b(?:half|(?:a|one)\s+(?:third|quarter|fifth|tenth)|two[\s-]thirds|three[\s-]quarters)(?=\s+of\b))"
    r"|(?P<digits>(?:(?<![\w.,/:-])|(?<=\bR)|(?<=\bRs))(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d|[,.:]\d))"
    rf"|(?P<words>\b(?:a\s+(?:hundred|thousand|million|billion|trillion|dozen)|(?:{_NUMWORD})"
    rf"(?:(?:\s+|-)(?:and\s+)?(?:{_NUMWORD}))*)\b)",
    re.IGNORECASE,
)
_CUR_SYMBOL = {"Rs": "INR", "R": "ZAR", "£": "GBP", "$": "USD", "US$": "USD", "U.S.$": "USD", "€": "EUR", "¥": "JPY",
               "₹": "INR",
               "₽": "RUB", "₴": "UAH", "₩": "KRW", "NT$": "TWD", "HK$": "HKD", "A$": "AUD", "AU$": "AUD",
               "C$": "CAD", "CA$": "CAD", "S$": "SGD", "R$": "BRL"}
_CODES = "ZAR USD GBP EUR JPY CNY RMB INR RUB UAH CHF KRW TWD AUD CAD HKD SGD BRL".split()
_BEFORE_CUR = re.compile(r"(?P<cur>\bRs\.?|\bR|U\.?S\.?\$|NT\$|HK\$|AU?\$|CA?\$|S\$|R\$|[£$€¥₹₽₴₩]|\b(?:"
                         + "|".join(_CODES)
                         + r"))\s?\Z")
_CUR_WORDS = {"dollar": "USD", "pound": "GBP", "sterling": "GBP", "euro": "EUR", "yen": "JPY", "yuan": "CNY",
              "renminbi": "CNY", "rupee": "INR", "rouble": "RUB", "ruble": "RUB", "hryvnia": "UAH", "won": "KRW",
              "franc": "CHF", "rand": "ZAR", "pence": "GBP", "penny": "GBP", "cent": "USD"}
_DOLLAR_KIND = {"australian": "AUD", "canadian": "CAD", "hong kong": "HKD", "singapore": "SGD",
                "new taiwan": "TWD", "taiwan": "TWD", "us": "USD", "u.s.": "USD", "american": "USD"}
_AFTER = re.compile(
    r"(?P<glued>(?<=\d)(?:bn|mn|mln|tn|k|m|b|thousand|million|billion|trillion)\b|\s(?:bn|mn|mln|tn)\b)?"
    r"(?:\s+(?P<scale>hundred|thousand|million|billion|trillion|lakh|crore)s?\b)?"
    r"(?P<pct>\s?%|\s+per\s?cent\b|\s+percentage\s+points?\b|\s+basis\s+points?\b|\s?bps\b|\s+pct\b|\s+points?\b(?=\s+(?:higher|lower|up|down)))?"
    r"(?:\s+(?P<kind>Australian|Canadian|Hong Kong|New Taiwan|Taiwan|Singapore|US|U\.S\.|American)"
    r"(?=\s+dollars?))?"
    r"(?:\s+(?P<curword>dollars?|pounds?(?:\s+sterling)?|sterling|euros?|yen|yuan|renminbi|rupees?|roubles?"
    r"|rubles?|hryvnias?|won|rand|(?:swiss\s+)?francs?|pence|penny|cents?)\b)?"
    r"(?:\s?(?P<code>" + "|".join(_CODES) + r")\b)?",
    re.IGNORECASE,
)
_APPROX = re.compile(
    r"(?:\b(?:about|around|approximately|roughly|nearly|almost|some|more\s+than|over|less\s+than|fewer\s+than"
    r"|under|up\s+to|at\s+least|at\s+most|as\s+many\s+as|as\s+much\s+as|as\s+few\s+as|close\s+to|an\s+estimated"
    r"|estimated|upwards\s+of|just\s+over|just\s+under|well\s+over|well\s+above|in\s+excess\s+of|almost|nearly"
    r"|circa|c\.|roughly)|~)\s*\Z",
    re.IGNORECASE,
)
_WORD_AFTER = re.compile(r"\s+([A-Za-z][A-Za-z-]*)")
# Words that end a counted-noun run: function words, auxiliaries, frequent verbs and adverbs.
_NOT_UNIT = frozenset(
    """a an the of to in on at by for from with and or but as than that which who whom whose this these those
    there here it its is are was were be been being has have had do does did will would shall should can could
    may might must not no nor so if then when where while also just only even still about over under into onto
    per each every both either neither more less fewer most least many much few several other another such
    ago ahead away apart long old tall high wide deep earlier later last next before after during since until
    said says say told according reportedly fell rose grew dropped jumped climbed declined increased decreased
    died went came left fled ran saw got took made lost won remain remained remains stood sat held met hit put
    cut set let up down out off against between among across through around per cent percent year years
    month months week weeks day days hour hours minute minutes near inside outside within via toward towards
    beyond behind along amid including like following despite except without across per i you we they he she
    me him her us them my your our their his""".split()
)
_UNIT_NAMES = {
    "km": "km", "kilometres": "km", "kilometers": "km", "kilometre": "km", "kilometer": "km", "miles": "miles",
    "mile": "miles", "hectares": "hectares", "hectare": "hectares", "ha": "hectares", "acres": "acres",
    "acre": "acres", "tonnes": "tonnes", "tonne": "tonnes", "tons": "tons", "ton": "tons", "kg": "kg",
    "kilograms": "kg", "kilos": "kg", "barrels": "barrels", "bpd": "barrels per day", "mph": "mph",
    "metres": "metres", "meters": "metres", "metre": "metres", "meter": "metres", "m": "metres",
    "degrees": "degrees", "persons": "people", "person": "people", "people": "people", "sq": "square",
    "feet": "feet", "foot": "feet", "ft": "feet", "cm": "cm", "centimetres": "cm", "centimeters": "cm", "mm": "mm",
    "millimetres": "mm", "millimeters": "mm", "lbs": "lb", "litres": "litres", "liters": "litres", "gallons": "gallons",
}
_MEASURE_UNITS = frozenset({"feet", "cm", "mm", "lb", "litres", "gallons", "km/h", "km", "miles", "hectares", "acres",
                            "tonnes", "tons", "kg", "barrels",
                            "barrels per day", "mph", "metres", "degrees"})
_ORDINAL_OR_TIME = re.compile(r"\A(?:st|nd|rd|th|s\b|am\b|pm\b|a\.m\.|p\.m\.|[-–]\d|:\d|[A-Za-z])")
_SCORE = re.compile(r"\d\s?[-–]\s?\d")
_IDENT_PREV = re.compile(r"(?:\b(?:No|Nos|Number|Flight|Route|Article|Section|Resolution|Chapter|Level|Phase|Stage|"
                         r"Boeing|Airbus|Windows|iPhone|Covid|COVID|Apollo|Model|Type|Block|Unit|Room|Gate|Terminal"
                         r"|Highway|Interstate|Road|Street)\.?|#)\s*\Z")


def _counted_noun(text: str, pos: int) -> tuple[str | None, int]:
    """The head of the noun run after `pos` ("12 water-dropping aircraft were" -> "aircraft") and its end."""
    words: list[tuple[str, int]] = []
    while len(words) < 3:
        m = _WORD_AFTER.match(text, pos)
        if not m:
            break
        w = m.group(1)
        lw = w.lower()
        if lw in _NOT_UNIT or lw in _MONTHS or lw in _WEEKDAYS:
            break
        if words and (lw.endswith(("ed", "ly")) or w[0].isupper()):
            break  # "3 people died", "5 residents reportedly ...", "villages Patras"
        words.append((w, m.end()))
        pos = m.end()
    while words and words[-1][0].lower().endswith(("ing", "ed", "ly")) and len(words) > 1:
        words.pop()
    if not words or words[-1][0].lower().endswith(("ing", "ly")):
        return None, -1
    w = words[-1][0]
    return _UNIT_NAMES.get(w.lower(), w if not w.isupper() else w), words[-1][1]


_SPEED = re.compile(r"\s?(?:km/h|kph|kmh|km\s+an\s+hour|(?:kilometres|kilometers)\s+(?:per|an)\s+hour)\b", re.I)
_SQUARE = re.compile(r"\s+(?:sq\.?|square)\s+(km|kilometres|kilometers|miles?|mi)\b", re.I)


def _currency_after(a: re.Match, text: str, value: float, scaled: bool) -> tuple[str | None, float]:
    """Unit (and value, for cents/pence) from a currency word or code after the number."""
    if a.group("code"):
        code = a.group("code").upper()
        return ("CNY" if code == "RMB" else code), value
    word = a.group("curword").lower().split()[-1]
    word = word[:-1] if word.endswith("s") else word  # dollars -> dollar, "pence" stays
    unit = _CUR_WORDS.get(word, "USD")
    if word in ("pence", "penny", "cent"):
        value /= 100
    if word == "pound" and not scaled and re.match(r"\s+of\b", text[a.end():]):
        unit = "lb"  # "5 pounds of sugar"
    if a.group("kind"):
        unit = _DOLLAR_KIND.get(a.group("kind").lower(), unit)
    return unit, value


def _number(text: str, m: re.Match) -> tuple[float, str | None, str | None, int, int] | None:
    """(value, unit, scale text, start, end) for a number in digits or words; None when it is not a quantity."""
    start, end = m.span()
    if m.lastgroup == "digits":
        follow = text[end:end + 4]
        if _ORDINAL_OR_TIME.match(follow) and not re.match(r"(?:bn|mn|mln|tn|k|m|b|bps)\b|thou|mill|bill|trill",
                                                           follow, re.I):
            return None  # 3rd, 1990s, 10am, 5G
        if _SCORE.match(text, max(0, start - 2)) or _SCORE.match(text, end - 1):
            return None  # 3-1
        if _IDENT_PREV.search(text, 0, start):
            return None  # "Article 5", "Flight 17", "No. 10"
        value = float(m.group().replace(",", ""))
        scale = None
    else:
        spelled = words_value(m.group())
        low = m.group().lower()
        if spelled is None or spelled == 1 and not re.search(r"hundred|thousand|million|billion|trillion", low):
            return None  # "one of the", "no one": a pronoun more often than a count
        value = spelled
        scale = next((w for w in re.split(r"[\s-]+", low) if w in ("thousand", "million", "billion", "trillion",
                                                                  "dozen")), None)
    a = _AFTER.match(text, end)
    assert a is not None  # every part of _AFTER is optional
    cur = _BEFORE_CUR.search(text, 0, start)
    glued = (a.group("glued") or "").strip().lower()
    metres = False
    if glued:
        has_cur = bool(cur or a.group("curword") or a.group("code"))
        # "$5m" and "5m people" are millions; "a 5m wall" is metres.
        if glued == "m" and not has_cur and not re.match(r"\s+[a-z]+s\b", text[a.end("glued"):]):
            metres = True
        else:
            value *= _SCALES[glued]
            scale = a.group("glued").strip()
    if a.group("scale"):
        value *= _SCALES[a.group("scale").lower()]
        scale = a.group("scale")
    # The quantity ends after the last part of _AFTER that matched.
    end = max((a.end(g) for g in ("glued", "scale", "pct", "curword", "code") if a.group(g)), default=end)
    unit = None
    if cur:
        sym = cur.group("cur")
        unit = _CUR_SYMBOL.get(sym.replace(".", ""), sym.upper())
        unit = "CNY" if unit == "RMB" else unit
        start = cur.start()
    if a.group("pct"):
        pct = a.group("pct").lower()
        unit = "percentage points" if "point" in pct or "bps" in pct else "percent"
        if "basis" in pct or "bps" in pct:
            value /= 100  # "25 basis points" is 0.25 percentage points
    elif a.group("curword") or a.group("code"):
        unit, value = _currency_after(a, text, value, scale is not None)
    elif metres:
        unit = "metres"
    elif unit is None and (speed := _SPEED.match(text, end)):
        unit, end = "km/h", speed.end()
    elif unit is None and (square := _SQUARE.match(text, end)):
        unit, end = ("square km" if square.group(1).lower().startswith("k") else "square miles"), square.end()
    elif unit is None:
        noun, noun_end = _counted_noun(text, end)
        if noun:
            unit, end = noun, noun_end
    return value, unit, scale, start, end


# A range of percentages: "4.9-5.7%" is two figures, both percent (a score "3-1" has no % after it).
_PERCENT_RANGE = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)\s?[-–]\s?(\d+(?:\.\d+)?)(\s?%|\s+per\s?cent\b|\s+percent\b)",
                            re.IGNORECASE)


def _quantities(text: str, taken: list[tuple[int, int]]) -> list[Quantity]:
    ranges: list[Quantity] = []
    for m in _PERCENT_RANGE.finditer(text):
        if not any(a < m.end() and m.start() < b for a, b in taken):
            ranges += [Quantity(m.group(1), float(m.group(1)), "percent", None, m.start(1), m.end(1), False),
                       Quantity(text[m.start(2):m.end()], float(m.group(2)), "percent", None, m.start(2), m.end(),
                                False)]
    if ranges:
        taken = taken + [(q.start, q.end) for q in ranges]
    out: list[Quantity] = []
    for m in _CORE.finditer(text):
        start, end = m.span()
        if any(a < end and start < b for a, b in taken) or (out and start < out[-1].end):
            continue
        kind = m.lastgroup
        if kind == "vague":  # "millions of rockets", "tens of thousands of people"
            words = m.group().lower().split()
            value = _VAGUE[words[-1]] * (10 if words[0] == "tens" else 100 if len(words) > 1 else 1)
            unit, scale = None, m.group()
            of = re.match(r"\s+of", text[end:])
            assert of is not None  # the "vague" pattern ends with "of"
            noun, noun_end = _counted_noun(text, end + len(of.group()))
            if noun:  # "billions of dollars": the counted noun may be a currency
                unit, end = _CUR_WORDS.get(noun.lower().rstrip("s"), noun), noun_end
        elif kind == "frac":  # "nearly half of the new jobs"
            value, unit, scale = _FRACTIONS[re.split(r"[\s-]+", m.group().lower())[-1]], "fraction", None
        else:
            got = _number(text, m)
            if got is None:
                continue
            value, unit, scale, start, end = got
        approximate = kind == "vague"
        ap = _APPROX.search(text, 0, start)
        if ap:
            approximate, start = True, ap.start()
        out.append(Quantity(text[start:end], float(value), unit, scale, start, end, approximate))
    return sorted(out + ranges, key=lambda q: q.start) if ranges else out


def _normalised(text: str, quantities: list[Quantity]) -> list[Quantity]:
    """The quantities with their comparable figure (normalise.py): base value and unit, precision, restatement."""
    return [replace(q, **n) for q, n in zip(quantities, normalise.normalise_quantities(text, quantities), strict=True)]


# ------------------------------------------------------------------ dates

_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
                "oct": 10, "nov": 11, "dec": 12})
_WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
             r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)")
_FULL_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUM_WORDS_SMALL = "a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\\d+"
_DATE = re.compile(
    r"(?P<iso>\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b)"
    rf"|(?P<mdy>\b(?P<m1>{_MONTH_RE})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:%|,\d))(?:,?\s+(?P<y1>\d{{4}})\b)?)"
    rf"|(?P<dmy>\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH_RE})\b\.?(?:,?\s+(?P<y2>\d{{4}})\b)?)"
    rf"|(?P<my>\b(?P<m3>{_MONTH_RE})\.?,?\s+(?P<y3>\d{{4}})\b)"
    r"|(?P<rel>\b(?i:(?P<rmod>last|this|next|past|coming|previous)\s+(?P<runit>week|month|year|weekend))\b)"
    r"|(?P<early>\b(?i:(?P<emod>earlier|later)\s+this\s+(?P<eunit>week|month|year))\b)"
    rf"|(?P<ago>\b(?i:(?P<an>{_NUM_WORDS_SMALL})\s+(?P<aunit>day|week|month|year)s?\s+ago)\b)"
    rf"|(?P<pastn>\b(?i:(?:past|last|previous)\s+(?P<pn>{_NUM_WORDS_SMALL})\s+(?P<punit>day|week|month|year)s)\b)"
    r"|(?P<day>\b(?i:today|yesterday|tomorrow|tonight|last\s+night|this\s+(?:morning|afternoon|evening))\b)"
    r"|(?P<wd>\b(?:(?i:(?P<wmod>last|next|this|coming|past)\s+))?"
    r"(?P<wname>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"(?:\s+(?i:morning|afternoon|evening|night))?\b)"
    rf"|(?P<month>\b(?:(?i:(?P<mmod>early|late|mid|last|next|this|earlier\s+this|later\s+this))[\s-]+)?"
    rf"(?P<mname>{_FULL_MONTH})\b)"
    r"|(?P<year>(?<![\w$£€.,/-])(?P<yv>1[5-9]\d\d|20\d\d)(?![\w-]|[.,]\d))"
)
_DATE_ANCHOR = re.compile(
    r"(?<![\w$£€.,/-])\d|\b(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday"
    r"|Sunday|(?i:last|this|next|past|coming|previous|earlier|later|today|yesterday|tomorrow|tonight|early|late|mid"
    r"|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve))\b"
)
_YEAR_PREPS = frozenset("in since by from until till of before after during between and to through early late mid "
                        "around circa year the its this".split())
_PREP_BEFORE = re.compile(r"\b(?:on|in|at|since|by|from|until|till|during|before|after|through|of)\s+\Z", re.I)
_FUTURE = re.compile(
    r"\b(?:will|shall|going\s+to|(?<!had\s)expects?|(?<!had\s)expected|plans?\s+to|planned|scheduled|set\s+to"
    r"|due\s+to\s+(?:be|start|begin|take|hold|meet|vote|arrive|open|close|end)|(?:may|might|could)\s+(?!have\b)\w+"
    r"|next|upcoming|forecasts?|predicts?|predicted|aims?\s+to|intends?\s+to)\b|'ll\b",
    re.IGNORECASE,
)
_SMALL_NUM = {"a": 1, "an": 1, **{w: _UNITS[w] for w in "one two three four five six seven eight nine ten eleven "
                                   "twelve".split()}}


def _n(word: str) -> int:
    return int(word) if word.isdigit() else _SMALL_NUM.get(word.lower(), 1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(d.day, last))


def _looks_ahead(text: str, start: int) -> bool:
    clause = re.split(r"[,;:.!?]", text[:start])[-1]
    return bool(_FUTURE.search(clause))


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month_day(pub: date | None, month: int, day: int, year: str | None, ahead: bool) -> date | None:
    if year:
        return _safe_date(int(year), month, day)
    if pub is None:
        return None
    for y in ((pub.year, pub.year + 1) if ahead else (pub.year, pub.year - 1)):
        d = _safe_date(y, month, day)
        if d and ((d >= pub) if ahead else (d <= pub)):
            return d
    return None


def _resolve_date(m: re.Match, text: str, pub: date | None) -> tuple[str | None, str] | None:
    """(ISO date or None, granularity) for one match; None when the match is not a date."""
    g = m.lastgroup
    ahead = _looks_ahead(text, m.start())
    if g == "iso":
        d = _safe_date(int(m["iy"]), int(m["im"]), int(m["id"]))
        return (d.isoformat(), "day") if d else None
    if g in ("mdy", "dmy"):
        month = _MONTHS[(m["m1"] or m["m2"]).lower().rstrip(".")]
        day = int(m["d1"] or m["d2"])
        if not 1 <= day <= 31:
            return None
        d = _month_day(pub, month, day, m["y1"] or m["y2"], ahead)
        return (d.isoformat() if d else None), "day"
    if g == "my":
        return date(int(m["y3"]), _MONTHS[m["m3"].lower()], 1).isoformat(), "month"
    if g == "year":
        return f"{m['yv']}-01-01", "year"
    if g == "month":
        mod = (m["mmod"] or "").lower()
        name = m["mname"]
        if name in ("May", "March") and not mod and not _PREP_BEFORE.search(text, 0, m.start()):
            return None  # "May" the verb, "March" the noun
        month = _MONTHS[name.lower()]
        if pub is None:
            return None, "month"
        if mod == "last":
            year = pub.year - 1 if month >= pub.month else pub.year
        elif mod == "next":
            year = pub.year + 1 if month <= pub.month else pub.year
        elif mod.startswith(("this", "earlier", "later")):
            year = pub.year
        elif ahead:
            year = pub.year if month >= pub.month else pub.year + 1
        else:
            year = pub.year if month <= pub.month else pub.year - 1
        return date(year, month, 1).isoformat(), "month"
    if pub is None:
        return None, "relative" if g in ("rel", "early", "pastn") else "day"
    if g == "day":
        word = m.group().lower()
        offset = -1 if word in ("yesterday", "last night") else 1 if word == "tomorrow" else 0
        return (pub + timedelta(days=offset)).isoformat(), "day"
    if g == "wd":
        target = _WEEKDAYS[m["wname"].lower()]
        mod = (m["wmod"] or "").lower()
        back = (pub.weekday() - target) % 7
        if mod in ("last", "past"):
            back = back or 7
        elif mod in ("next", "coming") or (ahead and mod != "this"):
            fwd = (target - pub.weekday()) % 7
            if mod == "next":
                fwd = fwd or 7
            return (pub + timedelta(days=fwd)).isoformat(), "day"
        elif mod == "this":
            return (pub - timedelta(days=pub.weekday()) + timedelta(days=target)).isoformat(), "day"
        return (pub - timedelta(days=back)).isoformat(), "day"
    if g == "rel":
        mod, unit = m["rmod"].lower(), m["runit"].lower()
        step = -1 if mod in ("last", "previous") else 1 if mod in ("next", "coming") else 0
        if mod == "past":  # rolling: "the past year" = from a year before publication
            span = {"week": timedelta(days=7), "month": None, "year": None, "weekend": timedelta(days=7)}[unit]
            d = pub - span if span else _add_months(pub, -1 if unit == "month" else -12)
            return d.isoformat(), "relative"
        if unit == "week":
            return (pub - timedelta(days=pub.weekday()) + timedelta(weeks=step)).isoformat(), "relative"
        if unit == "weekend":  # its Saturday: "this" = this week's, "last" = the one before it
            saturday = pub - timedelta(days=pub.weekday()) + timedelta(days=5)
            if step < 0:
                saturday -= timedelta(weeks=1)
            elif step > 0 and saturday <= pub:
                saturday += timedelta(weeks=1)
            return saturday.isoformat(), "relative"
        if unit == "month":
            return _add_months(pub.replace(day=1), step).isoformat(), "month"
        return date(pub.year + step, 1, 1).isoformat(), "year"
    if g == "early":
        unit = m["eunit"].lower()
        if unit == "week":
            return (pub - timedelta(days=pub.weekday())).isoformat(), "relative"
        return (pub.replace(day=1) if unit == "month" else date(pub.year, 1, 1)).isoformat(), (
            "month" if unit == "month" else "year")
    if g in ("ago", "pastn"):
        n = _n(m["an"] or m["pn"])
        unit = (m["aunit"] or m["punit"]).lower()
        if unit == "day":
            d = pub - timedelta(days=n)
        elif unit == "week":
            d = pub - timedelta(weeks=n)
        else:
            d = _add_months(pub, -n if unit == "month" else -12 * n)
        gran = {"day": "day", "week": "relative", "month": "month", "year": "year"}[unit] if g == "ago" else "relative"
        if gran == "month":
            d = d.replace(day=1)
        elif gran == "year":
            d = date(d.year, 1, 1)
        return d.isoformat(), gran
    return None


def _year_is_date(text: str, m: re.Match) -> bool:
    before = text[max(0, m.start() - 20):m.start()].split()
    prev = before[-1].lower().strip("(") if before else ""
    if prev in _YEAR_PREPS or prev.rstrip(".").lower() in _MONTHS or prev.endswith(("'s", "’s")):
        return True
    if _APPROX.search(text, 0, m.start()):
        return False
    nxt = re.match(r"\s+([a-z][a-z-]*)", text[m.end():])
    # "2000 people", "1500 troops": a plural noun after it makes it a count.
    if not nxt:
        return True
    word = nxt.group(1)
    plural = (word.endswith("s") and word not in ("was", "is", "has", "as", "this", "its", "his", "plus")) or (
        word in _PLURALS_WITHOUT_S)
    return not plural


_PLURALS_WITHOUT_S = frozenset("people children men women police staff personnel cattle sheep fish aircraft "
                               "feet teeth mice geese".split())


# "11 days", "three weeks": a length of time (a quantity), not a date; "11 days ago" is a date.
_DURATION = re.compile(r"\A(?:(?:about|some|nearly|almost|more\s+than|over|up\s+to|at\s+least|the\s+last|"
                       r"the\s+past)\s+)?"
                       r"[\w.,-]+\s+(?:days?|weeks?|months?|years?|hours?|minutes?)\Z", re.IGNORECASE)
_DATEPARSER_WORTHY = re.compile(r"\d|" + _MONTH_RE)


def _dates(text: str, entities: list[EntityMention], published_at: datetime | None) -> list[DateMention]:
    pub = published_at.date() if published_at else None
    out: list[DateMention] = []
    pos = 0
    # The full pattern is tried only where a date can start (a cheap scan), not at every character.
    for a in _DATE_ANCHOR.finditer(text):
        if a.start() < pos:
            continue
        m = _DATE.match(text, a.start())
        if m is None:
            continue
        pos = m.end()
        if m.lastgroup == "year" and not _year_is_date(text, m):
            continue
        r = _resolve_date(m, text, pub)
        if r is None:
            continue
        out.append(DateMention(m.group(), m.start(), m.end(), r[0], r[1]))
    # Dates the own rules missed ("10/03/2025", "the 3rd of March 2025"): dateparser on the entity span only.
    if pub is not None:
        for e in entities:
            if e.label != "DATE" or any(d.start < e.end and e.start < d.end for d in out):
                continue
            if not _DATEPARSER_WORTHY.search(e.text) or len(e.text) > 40 or _DURATION.match(e.text):
                continue
            r = _dateparser_date(e.text, pub)
            if r:
                out.append(DateMention(e.text, e.start, e.end, r[0], r[1]))
    return sorted(out, key=lambda d: d.start)


@lru_cache(maxsize=4096)
def _dateparser_date(span: str, pub: date) -> tuple[str | None, str] | None:
    """dateparser on one short DATE entity span, relative to the publication day (cached)."""
    try:
        from dateparser.date import DateDataParser
    except ImportError:
        return None
    parser = DateDataParser(languages=["en"], settings={
        # the noqa: dateparser compares RELATIVE_BASE with naive datetimes (the publication day)
        "PREFER_DATES_FROM": "past", "RELATIVE_BASE": datetime(pub.year, pub.month, pub.day)})  # noqa: DTZ001
    data = parser.get_date_data(span)
    if data is None or data.date_obj is None:
        return None
    d = data.date_obj.date()
    period = data.period or "day"
    if period == "month":
        d = d.replace(day=1)
    elif period == "year":
        d = date(d.year, 1, 1)
    return d.isoformat(), {"day": "day", "month": "month", "year": "year"}.get(period, "relative")


# ------------------------------------------------------------ attribution

_SPEECH = (r"(?:said|says|say|told|tells|tell|stated|states|announced|announces|claimed|claims|confirmed"
           r"|confirms|reported|warned|warns|warn|insisted|insists|argued"
           r"|argues|alleged|alleges|denied|denies|deny|admitted|admits|acknowledged|acknowledges|explained|explains"
           r"|wrote|writes|tweeted|posted|declared|declares|mentioned|mentions|revealed|reveals|disclosed|discloses"
           r"|asserted|asserts)")
# At the head of a sentence these need "that" to be attribution: "the report shows that ..." but not
# "Russia buying weapons shows ..." or "Employers added 210,000 jobs". At the tail (", he added.") they count.
_FINDING = (r"(?:shows?|showed|found|finds|suggests?|suggested|concluded|concludes|indicates?|indicated|added|adds"
            r"|noted|notes|estimated|estimates|predicted|predicts|believes?|maintained|maintains|stressed|stresses"
            r"|emphasi[sz]ed|emphasi[sz]es)")
_ADV = (r"(?:(?:also|previously|later|repeatedly|reportedly|again|publicly|officially|earlier|has|have|had"
        r"|on\s+\w+day)\s+)*")
_SUBJ = r"(?P<src>[A-Za-z\"“][\w'’.&-]*(?:\s+[\w'’.&-]+){0,7}?)"
_OPENER = (r"\A\s*(?:(?:But|And|However|Meanwhile|Yet|Still|Separately|Earlier|Later|Also|So|Now|Instead|In\s+(?:a|an)"
           r"\s+\w+(?:\s+\w+)?|On\s+\w+|Last\s+\w+|Speaking\s+\w+\s+\w+)\s*,?\s+)?")
_TIME_TAIL = (r"(?:\s+(?:on\s+\w+|last\s+\w+|this\s+\w+|yesterday|today|earlier|late\s+\w+"
              r"|in\s+(?:a|an)\s+[\w\s]{2,30}?"
              r"|at\s+(?:a|an)\s+[\w\s]{2,30}?|on\s+condition\s+of\s+anonymity))*")
_ACCORDING = re.compile(r"\b[Aa]ccording\s+to\s+(?P<src>[^,.;:\"“”()]{2,80}?)(?=\s*(?:[,.;:!?()]|\Z|\s+(?:on|in|which"
                        r"|who|as|at)\s))")
_TOLD = re.compile(
    rf"(?:{_OPENER}|,[\"”]?\s*|[\"”]\s*){_SUBJ}\s+{_ADV}told\s+(?:this\s+to\s+|that\s+to\s+)?"
    r"(?P<via>(?:the\s+)?[A-Za-z][\w'’.&-]*(?:\s+(?!that\b|on\b|in\b|at\b|last\b|this\b|during\b|after\b|before\b"
    r"|yesterday\b|today\b|earlier\b)[\w'’.&-]+){0,5})"
)
_HEAD = re.compile(rf"{_OPENER}{_SUBJ}\s+{_ADV}(?:(?P<verb>{_SPEECH})\b|(?P<find>{_FINDING})\s+that\b)")
_TAIL = re.compile(
    rf"(?:,[\"”]?|[\"”])\s*{_SUBJ}\s+{_ADV}(?P<verb>{_SPEECH}|{_FINDING}){_TIME_TAIL}\s*[.!?\"”']*\s*\Z"
)
_TAIL_INVERTED = re.compile(rf"(?:,[\"”]?|[\"”])\s*(?P<verb>said|says|wrote|added|told)\s+(?P<src>[^,.;:]{{2,60}}?)"
                            rf"(?:,[^.]*)?{_TIME_TAIL}\s*[.!?\"”']*\s*\Z")
_CITING = re.compile(r"\b(?P<via>[A-Z][\w'’.&-]*(?:\s+[A-Z][\w'’.&-]*){0,4})\s+(?:reported|said|says|reports),?\s+"
                     r"citing\s+(?P<src>[^,.;:]{2,60})")
_REPORT_BY = re.compile(r"\A(?:a|an|the)?\s*(?:new\s+|recent\s+|latest\s+)?(?:report|reports|statement|study|survey"
                        r"|data|figures|analysis|estimates?|poll|document|documents|assessment)\s+(?:by|from|in|of"
                        r"|published\s+by|released\s+by)\s+(?P<src>.+)\Z", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:reportedly|allegedly|purportedly|supposedly|reputedly|according\s+to|unconfirmed|unverified"
    r"|(?:is|are|was|were|has\s+been|have\s+been)\s+(?:said|reported|believed|thought|alleged|understood"
    r"|rumou?red|claimed)\s+to|it\s+is\s+(?:understood|believed|alleged|claimed|reported|thought)"
    r"|claim(?:s|ed|ing)?|sources?\s+(?:say|said|says|told|close\s+to)|reports?\s+(?:say|said|says|suggest|suggested"
    r"|claim|claimed)|people\s+familiar\s+with|(?:unnamed|anonymous)\s+(?:officials?|sources?)"
    r"|on\s+condition\s+of\s+anonymity|rumou?rs?)\b",
    re.IGNORECASE,
)
# Audiences that do not relay the claim to readers: "told reporters" has no `via`.
_GENERIC_AUDIENCE = re.compile(r"\A(?:the\s+)?(?:reporters|journalists|the\s+press|press|media|a\s+news\s+conference"
                               r"|a\s+press\s+conference|a\s+briefing|lawmakers|parliament|supporters|an?\s+audience"
                               r"|the\s+audience|a\s+crowd|the\s+crowd|him|her|them|us|me)\Z", re.IGNORECASE)
_NOT_SOURCE = frozenset("this that it these those which what there here such the a an his her their its our my "
                        "your".split())
_SUBJ_STOP = re.compile(r"\b(?:is|was|are|were|will|would|that|which|because|if|when|while|after|before|since"
                        r"|despite|although|though|has\s+been|had\s+been|could|should|can|may|might|must)\b", re.I)
_LEAD_DET = re.compile(r"\A(?:(?:a|an|the|some)\s+)+", re.IGNORECASE)
_TRAIL = re.compile(r"(?:\s+(?:on|in|at|last|this|during)\s+.*|\s+(?:also|again|yesterday|today))\Z", re.IGNORECASE)


def _clean_party(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip(" \"“”'’,;:")
    if text.endswith(".") and not re.search(r"\b[A-Z]\.[A-Z]?\.?\Z", text):
        text = text[:-1]  # the sentence's full stop, not an abbreviation's ("U.S.")
    text = _TRAIL.sub("", text)
    text = _LEAD_DET.sub("", text).strip()
    m = _REPORT_BY.match(text)
    if m:
        text = _LEAD_DET.sub("", m.group("src")).strip()
    return text or None


def _valid_subject(src: str) -> bool:
    cleaned = _clean_party(src)
    words = cleaned.split() if cleaned else []
    return bool(words) and words[0].lower() not in _NOT_SOURCE and not _SUBJ_STOP.search(src) and len(words) <= 8


def _attribution(text: str) -> tuple[Attribution, list[tuple[int, int]]]:
    """The attribution and the character spans of its source and via (their numbers are not the claim's)."""
    hedge = _HEDGE.search(text)
    source = via = cue = None
    spans: list[tuple[int, int]] = []
    if (m := _CITING.search(text)) is not None:
        source, via, cue = _clean_party(m.group("src")), _clean_party(m.group("via")), "citing"
        spans = [m.span("src"), m.span("via")]
    elif (m := _ACCORDING.search(text)) is not None:
        source, cue, spans = _clean_party(m.group("src")), "according to", [m.span("src")]
    if source is None:
        for pattern in (_TOLD, _TAIL, _TAIL_INVERTED, _HEAD):
            for m in pattern.finditer(text):
                if not _valid_subject(m.group("src")):
                    continue
                source, spans = _clean_party(m.group("src")), [m.span("src")]
                if m.groupdict().get("via"):
                    v = _clean_party(m.group("via"))
                    via = None if v is None or _GENERIC_AUDIENCE.match(v) else v
                    cue = "told"
                    spans.append(m.span("via"))
                else:
                    cue = (m.groupdict().get("verb") or m.groupdict().get("find") or "").lower() or None
                break
            if source is not None:
                break
    if cue is None and hedge is not None:
        cue = hedge.group().lower()
    return Attribution(source, via, hedge is not None, cue), spans


# -------------------------------------------------------------- claim type

_DIRECT_QUOTE = re.compile(r"[\"“][^\"“”]*?\w+\W+\w+\W+\w+[^\"“”]*[\"”]")
_CAUSAL = re.compile(
    r"\b(?:because|due\s+to(?!\s+(?:be|arrive|start|begin|meet|hold|take|open|close|end|visit|travel|return|speak"
    r"|vote|announce|publish|release)\b)|owing\s+to|thanks\s+to|as\s+a\s+(?:direct\s+)?result|(?:a|the)\s+result\s+of"
    r"|result(?:ed|s|ing)?\s+in|l(?:ed|eads?|eading)\s+to|caus(?:ed|es|e|ing)|blam(?:ed|es|e)\s+(?:\w+\s+){1,4}for"
    r"|responsible\s+for|contribut(?:ed|es|ing)\s+to|trigger(?:ed|s)|spark(?:ed|s)|fuel(?:l?ed|s)|driven\s+by"
    r"|attributed\s+to|stem(?:s|med)?\s+from|so\s+that|therefore|consequently|hence|in\s+response\s+to)\b",
    re.IGNORECASE,
)
_SUPERLATIVE = (r"(?:most|least|highest|lowest|largest|biggest|smallest|hottest|coldest|warmest|wettest|driest"
                r"|deadliest|worst|best|fastest|slowest|strongest|weakest|longest|shortest|greatest|richest|poorest"
                r"|oldest|youngest|cheapest|heaviest|busiest|costliest|steepest|sharpest|deepest|widest|tallest"
                r"|[a-z]+iest)")
_COMPARISON = re.compile(
    r"\b(?:(?:more|less|fewer)\s+than(?!\s+(?:\d|a\s|an\s|one|two|three|four|five|six|seven|eight|nine|ten|twenty"
    r"|thirty|forty|fifty|hundred|thousand|million|billion|half|double|twice|\$|£|€))"
    r"|(?!(?:rather|other|whether)\b)[a-z]+er\s+than|compared\s+(?:with|to)|in\s+comparison\s+(?:with|to)"
    r"|relative\s+to|versus|vs\.?|outpac\w+|outnumber\w*|outperform\w*|overtook|overtaken|surpass\w*"
    r"|(?:twice|three\s+times|four\s+times|half)\s+as\s+\w+\s+as|higher|lower|record\s+(?:high|low)"
    rf"|all-time\s+(?:high|low)|(?:the|its|their|his|her|our|a)\s+(?:(?:second|third|single)[\s-])?{_SUPERLATIVE})\b",
    re.IGNORECASE,
)
_STAT_WORDS = re.compile(r"\b(?:rate|rates|average|median|per\s+capita|percent|gdp|inflation|unemployment|figures"
                         r"|statistics|survey|poll|census|total|share|majority|proportion|tally|toll)\b", re.I)
_EVENT_VERB = re.compile(
    r"\b(?:[a-z]{3,}ed|sold|sent|met|hit|struck|fled|fell|rose|won|lost|began|held|took|made|went|came|left|shot"
    r"|sank|broke|built|bought|caught|drove|flew|fought|froze|gave|grew|led|ran|saw|spent|spoke|stole|swept|threw"
    r"|burnt|kills?|attacks?|launch(?:es)?|imposes?|signs?|meets?|visits?|opens?|closes?|will\s+[a-z]+)\b"
)
_NOT_VERB_ED = frozenset("hundred red bed need speed seed shed feed breed greed indeed creed united limited "
                         "related based".split())
_REPORTED_SPEECH = re.compile(rf"\b(?:{_SPEECH}|{_FINDING})(?:\s+[\w'’.-]+){{0,6}}?\s+that\b|\b(?:said|says):\s")
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_PLACE_PHRASE = re.compile(r"\b(?:in|near|at|outside|across)\s+(?:the\s+)?[A-Z][a-z]+")


def _has_event_verb(text: str) -> bool:
    return any(m.group() not in _NOT_VERB_ED for m in _EVENT_VERB.finditer(text))


def _strong(q: Quantity) -> bool:
    """A quantity that is itself the checkable point, not incidental ("five companies")."""
    if q.unit in ("percent", "percentage points", "fraction") or (q.unit or "").isupper() or q.unit in _MEASURE_UNITS:
        return True
    return q.approximate or q.scale is not None or q.value >= 100


def _claim_type(text: str, entities: list[EntityMention], attribution: Attribution,
                quantities: list[Quantity], dates: list[DateMention]) -> str:
    # Order matters: the most specific check a fact-checker would run wins.
    if _DIRECT_QUOTE.search(text):
        return "quote"
    if _CAUSAL.search(text):
        return "causal"
    if _COMPARISON.search(text):
        return "comparison"
    strong = any(_strong(q) for q in quantities)
    has_place = any(e.label in _PLACE_LABELS for e in entities) or bool(_PLACE_PHRASE.search(text))
    eventish = (bool(dates) or has_place) and _has_event_verb(text)
    if strong or (quantities and (not eventish or _STAT_WORDS.search(text))):
        return "statistic"
    if attribution.source and _REPORTED_SPEECH.search(text):  # "X said that ...": what X said is the claim
        return "quote"
    if eventish or (quantities and has_place):
        return "event"
    return "other"


# -------------------------------------------------------------------- API

_DAY_TAIL = re.compile(r"(?:\s*[-–]\s*|\s+(?:and|to|or)\s+)\d{1,2}(?:st|nd|rd|th)?\b(?!\s*(?:%|[.,]\d|[A-Za-z]))")


def enrich_claim(text: str, entities: list[EntityMention], published_at: datetime | None) -> Enrichment:
    """Claim type, attribution, quantities and dates of one sentence.

    `entities` are the sentence's mentions (extract_entities); they only help
    (places for "event", DATE spans for unusual date formats), so [] works.
    """
    dates = _dates(text, entities, published_at)
    attribution, parties = _attribution(text)
    # Numbers inside a date or inside the attribution ("citing two officials") are not the claim's.
    # A second day after a date ("April 21-22", "April 21 and 22") belongs to the date, not to the figures.
    spans = [(d.start, m.end() if d.text[-1:].isdigit() and (m := _DAY_TAIL.match(text, d.end)) else d.end)
             for d in dates]
    quantities = _normalised(text, _quantities(text, spans + parties))
    claim_type = _claim_type(text, entities, attribution, quantities, dates)
    return Enrichment(claim_type, attribution, tuple(quantities), tuple(dates))
