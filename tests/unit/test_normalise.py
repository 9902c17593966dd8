"""One normalisation: figures (number words, scales, currencies, percent, units), roundings, restatements."""

from datetime import datetime, timezone

import pytest

from services.nlp import matching, normalise
from services.nlp.enrich import enrich_claim


def _figures(text):
    return [normalise.figure(q) for q in enrich_claim(text, [], None).quantities]


def _one(text):
    found = [f for f in _figures(text) if f is not None]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("text, value, unit", [
    ("The fund is worth €2.4bn.", 2.4e9, "EUR"),
    ("The fund is worth 2.4 billion euros.", 2.4e9, "EUR"),
    ("The deal is worth £136bn.", 136e9, "GBP"),
    ("He paid $5m for it.", 5e6, "USD"),
    ("The fine was ₹4 lakh.", 4e5, "INR"),
    ("The fine was 400,000 rupees.", 4e5, "INR"),
    ("The bill came to Rs 2 crore.", 2e7, "INR"),
    ("Prices rose 5.2% in May.", 5.2, "percent"),
    ("Prices rose 5.2 per cent in May.", 5.2, "percent"),
    ("Rates rose 0.5 percentage points.", 0.5, "percentage points"),
    ("The bank cut rates by 25 basis points.", 0.25, "percentage points"),
    ("The bank cut rates by 25bps.", 0.25, "percentage points"),
    ("The road is 12 km long.", 12_000, "meter"),
    ("The road is 7.5 miles long.", 12_070.08, "meter"),
    ("The tower is 1,575 feet tall.", 480.06, "meter"),
    ("It carried 3 tonnes of aid.", 3_000, "kilogram"),
    ("It weighed 40 kg.", 40, "kilogram"),
    ("Fire burned 2,000 hectares.", 2e7, "meter ** 2"),
    ("The lake covers 40 sq km.", 4e7, "meter ** 2"),
    ("Winds reached 120 km/h.", 33.333, "meter / second"),
    ("Three hundred and ten people died.", 310, None),
    ("Eleven miners were rescued.", 11, None),
    ("A colony of roughly nine thousand penguins was found.", 9_000, None),
])
def test_a_quantity_becomes_a_value_in_its_base_unit(text, value, unit):
    f = _one(text)
    assert f.value == pytest.approx(value, rel=1e-4) and f.unit == unit


@pytest.mark.parametrize("text", [
    "The fund is worth 2.4 billion euros (about $2.6 billion).",
    "The tower is 480 metres (1,575 feet) tall.",
    "Fire burned 2,000 hectares (4,942 acres) of forest.",
])
def test_a_bracketed_conversion_is_the_same_figure_not_an_extra_one(text):
    figures = _figures(text)
    assert len(figures) == 2 and figures[0] is not None and figures[1] is None


def test_a_bracket_that_is_not_a_conversion_is_a_figure():
    # Another count in brackets ("12 (of them 3 children)") is a figure of its own.
    figures = _figures("Twelve people (three of them children) died.")
    assert all(f is not None for f in figures) and len(figures) == 2


@pytest.mark.parametrize("a, b", [
    ("The fund is worth €2.4bn.", "The fund is worth 2.4 billion euros (about $2.6 billion)."),
    ("Nearly 2.4 billion people lack safe water.", "2.38 billion people lack safe water."),
    ("About 4,800 residents fled.", "4,812 residents fled."),
    ("The tower is 480 metres tall.", "The tower is 1,575 feet tall."),
    ("The fine was ₹4 lakh.", "The fine was 400,000 rupees."),
    ("Three hundred and ten people died.", "310 people died."),
    ("Fire burned 2,000 hectares.", "Fire burned 4,942 acres."),
])
def test_the_same_figure_written_differently_agrees(a, b):
    assert normalise.agree(_figures(a)[0], _figures(b)[0])


@pytest.mark.parametrize("a, b", [
    ("12 people died.", "19 people died."),
    ("About 20 people died.", "24 people died."),
    ("The fund is worth €2.4bn.", "The fund is worth $2.4bn."),
    ("Prices rose 3.5% in May.", "Prices rose 3.6% in May."),
    ("Unemployment fell to 4.1%.", "Unemployment fell 4.1 percentage points."),
    ("The road is 12 km long.", "The road is 12 miles long."),
    ("Some 1,200 homes lost power.", "Some 1,250 homes lost power."),
])
def test_other_figures_do_not_agree(a, b):
    assert not normalise.agree(_figures(a)[0], _figures(b)[0])


def test_written_precision():
    assert normalise.written_precision("4,800", 4800) == 100
    assert normalise.written_precision("4,812", 4812) == 1
    assert normalise.written_precision("2.4bn", 2.4e9) == pytest.approx(1e8)
    assert normalise.written_precision("2.38 billion", 2.38e9) == pytest.approx(1e7)


def test_figure_keys_round_trip_and_old_records_still_read():
    f = _one("About 4,800 residents fled.")
    assert normalise.Figure.from_key(f.key()) == f
    assert normalise.Figure.from_key("1950").value == 1950.0  # a record stored before this change


@pytest.mark.parametrize("words, value", [
    ("Three hundred and ten", 310), ("eleven", 11), ("forty-six", 46), ("twelve million", 12e6),
    ("a dozen", 12), ("three million five hundred thousand", 3.5e6), ("fourteen hundred", 1400),
])
def test_number_words(words, value):
    assert normalise.words_value(words) == value


def test_matching_compares_values_not_strings():
    pub = datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()
    a = matching.features("a", "The lender approved €2.4bn for the dam.", [], "A", pub)
    b = matching.features("b", "The lender approved 2.4 billion euros (about $2.6 billion) for the dam.", [], "B", pub)
    c = matching.features("c", "The lender approved nearly 2.38 billion euros for the dam.", [], "C", pub)
    d = matching.features("d", "The lender approved €3.1bn for the dam.", [], "D", pub)
    assert matching.conflicts(a, b) == [] and matching.conflicts(a, c) == [] and len(b.numbers) == 1
    assert "number" in matching.conflicts(a, d)
    assert "q2.4e+09eur" in a.tokens and "q2.4e+09eur" in b.tokens  # one word for one figure


def test_dates_are_resolved_once_against_the_publication_time():
    pub = datetime(2026, 3, 2, tzinfo=timezone.utc)
    dates = enrich_claim("Exports rose 8% last year and fell in January.", [], pub).dates
    assert [(d.text, d.resolved) for d in dates] == [("last year", "2025-01-01"), ("January", "2026-01-01")]
    f = matching.features("k", "Exports rose 8% last year.", [], "A", pub.timestamp())
    assert f.years == {"2025"}


def test_a_figure_that_is_not_written_rounded_is_no_rounding():
    # "41 per cent on Monday" / "40.6% by Tuesday": two readings, not one figure rounded.
    assert not normalise.agree(_one("The reservoir was 41 per cent full."), _one("The reservoir was 40.6% full."))
    assert normalise.agree(_one("The reservoir was about 41 per cent full."), _one("The reservoir was 40.6% full."))
    assert normalise.agree(_one("The fund holds 2.4 billion euros."), _one("The fund holds 2.38 billion euros."))


@pytest.mark.parametrize("phrase, resolved", [
    ("on Tuesday", "2026-03-03"), ("on Monday", "2026-03-02"), ("last week", "2026-02-23"), ("last year", "2025-01-01"),
    ("in January", "2026-01-01"), ("in November", "2025-11-01"), ("on 12 May 2024", "2024-05-12"),
    ("yesterday", "2026-03-02"), ("in 2019", "2019-01-01"), ("last month", "2026-02-01"), ("next year", "2027-01-01"),
    ("earlier this month", "2026-03-01"), ("on Friday", "2026-02-27"),
])
def test_dates_resolve_against_a_tuesday_publication(phrase, resolved):
    # The phrases the README's date measurement used (dateparser alone gets "on Tuesday" and "last week" wrong).
    pub = datetime(2026, 3, 3, 9, tzinfo=timezone.utc)
    [d] = enrich_claim(f"Exports rose {phrase}.", [], pub).dates
    assert d.resolved == resolved


def test_units_load_once_up_front():
    # The processors load pint's table when they start, so no claim pays the 0.2 s of loading.
    normalise.load_units()
    assert normalise._registry.cache_info().currsize == 1
    assert normalise.base_unit("miles") == pytest.approx((1609.344, "meter"))
