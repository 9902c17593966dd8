"""split_sentences: offsets, abbreviations, headings, golden rules."""

import json
import time
from pathlib import Path

import pytest

from services.nlp.split import split_sentences

GOLDEN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "golden_rules_en"


def texts(s):
    return [sp.text for sp in split_sentences(s)]


def test_offsets_are_exact():
    s = '  Mr. Smith paid $3.5m.  He said "Yes." Then he left!\n\nNext para?'
    spans = split_sentences(s)
    for sp in spans:
        assert s[sp.start:sp.end] == sp.text == sp.text.strip()
    assert [sp.text for sp in spans] == ["Mr. Smith paid $3.5m.", 'He said "Yes."', "Then he left!", "Next para?"]


def test_heading_and_paragraphs():
    s = "North Korea sells arms\n\nIt sold shells. It sold rockets\n\nEnd"
    assert texts(s) == ["North Korea sells arms", "It sold shells.", "It sold rockets", "End"]


def test_abbreviations_and_initials():
    assert texts("Dr. J. K. Rowling met Gen. Smith on Jan. 5 at No. 10 Downing St. in London.") == [
        "Dr. J. K. Rowling met Gen. Smith on Jan. 5 at No. 10 Downing St. in London."]
    assert texts("The U.S. Senate voted, e.g. on tariffs. It passed.") == [
        "The U.S. Senate voted, e.g. on tariffs.", "It passed."]
    assert texts("Apple Inc. said sales rose 3.5 percent. Analysts agreed.") == [
        "Apple Inc. said sales rose 3.5 percent.", "Analysts agreed."]


def test_urls_emails_ellipsis():
    assert texts("See www.gov.uk/news. Write to a.b@c.org. Done... I think so.") == [
        "See www.gov.uk/news.", "Write to a.b@c.org.", "Done... I think so."]


def test_empty():
    assert split_sentences("") == [] and split_sentences(" \n\n ") == []


def test_am_pm():
    # golden rule 18: a sentence-opening time does not end it, a time after the verb does
    assert texts("At 5 a.m. Mr. Smith went to the bank. "
                 "He left the bank at 6 P.M. Mr. Smith then went to the store.") == [
        "At 5 a.m. Mr. Smith went to the bank.", "He left the bank at 6 P.M.", "Mr. Smith then went to the store."]
    assert texts("The vote starts at 9 a.m. Tuesday and ends at 6 p.m. The count follows.") == [
        "The vote starts at 9 a.m. Tuesday and ends at 6 p.m.", "The count follows."]


def test_single_newlines():
    # a list of short unpunctuated lines: one unit per line (golden rule 42)
    assert texts("features\ncontact manager\nevents, activities\n") == [
        "features", "contact manager", "events, activities"]
    # a newline always ends a sentence (annotation guideline), even a hard wrap or a PDF break
    assert texts("This is a sentence\ncut off in the middle because pdf.") == [
        "This is a sentence", "cut off in the middle because pdf."]
    wrapped = ("The Federal Reserve raised its key interest rate by a quarter point on Wednesday,\n"
               "the tenth increase in a row, and signalled that it may pause. Officials\nsaid inflation was high.")
    assert texts(wrapped) == ["The Federal Reserve raised its key interest rate by a quarter point on Wednesday,",
                              "the tenth increase in a row, and signalled that it may pause.", "Officials",
                              "said inflation was high."]
    assert texts("She met Kim Jong Un and\nPresident Putin in Moscow.") == ["She met Kim Jong Un and",
                                                                            "President Putin in Moscow."]
    # byline and scraped furniture lines before the body
    assert texts("By Jane Doe\nUpdated 5 January 2024\nThe council said it would act.") == [
        "By Jane Doe", "Updated 5 January 2024", "The council said it would act."]
    assert texts("Tweet\nPrint\nEmail\nThe minister resigned on Friday.")[-1] == "The minister resigned on Friday."


def test_newline_ends_a_sentence():
    # a line without terminal punctuation is never glued to the next line
    assert texts("Image: Workers sort scallops at a plant (Getty Images)\nThe ban was lifted on Monday.") == [
        "Image: Workers sort scallops at a plant (Getty Images)", "The ban was lifted on Monday."]
    assert texts("Prices rose 5% in\nMay, the office said. Analysts agreed.") == [
        "Prices rose 5% in", "May, the office said.", "Analysts agreed."]
    # an abbreviation at the end of a line does not carry the sentence over the newline
    assert texts("He moved to the U.S.\nhe said later.") == ["He moved to the U.S.", "he said later."]
    s = "Line one\r\nLine two.\n  Line three"
    spans = split_sentences(s)
    assert [sp.text for sp in spans] == ["Line one", "Line two.", "Line three"]
    for sp in spans:
        assert s[sp.start:sp.end] == sp.text


def test_lists_and_bullets():
    assert texts("The measures include:\n1. an asset freeze;\n2. a port ban;\n3. an insurance ban.\n"
                 "Critics disagree.") == [
        "The measures include:", "1. an asset freeze;", "2. a port ban;", "3. an insurance ban.", "Critics disagree."]
    assert texts("Key points:\n- The U.S. economy grew 2.1%.\n* Inflation fell to 3%.") == [
        "Key points:", "- The U.S. economy grew 2.1%.", "* Inflation fell to 3%."]


def test_news_abbreviations():
    assert texts("The bill (H.R. 1) passed 220-207. It now goes to the Senate.") == [
        "The bill (H.R. 1) passed 220-207.", "It now goes to the Senate."]
    assert texts("He moved to the U.S. in 1990. He lives in Washington, D.C. The city is big.") == [
        "He moved to the U.S. in 1990.", "He lives in Washington, D.C.", "The city is big."]
    assert texts("It opens a plant in Austin, Tex., next year. Shares rose 8.5% to $312.40. Analysts cheered.") == [
        "It opens a plant in Austin, Tex., next year.", "Shares rose 8.5% to $312.40.", "Analysts cheered."]
    assert texts("Some outlets, e.g. The Times, disagreed. Others, i.e. Reuters, did not.") == [
        "Some outlets, e.g. The Times, disagreed.", "Others, i.e. Reuters, did not."]
    assert texts('"Is it true?" she asked. "Yes." The Labor Dept. said so on Jan. 5 at No. 10.') == [
        '"Is it true?" she asked.', '"Yes."', "The Labor Dept. said so on Jan. 5 at No. 10."]


def test_offsets_exact_on_messy_text():
    s = ("Share this article\n\nBy Jane Doe\n"
         "WASHINGTON - The U.S. jobless rate fell to 3.6 percent, the Labor Dept. said.\n"
         "Read more at www.bls.example/news.release/x.htm. It was \ncold. 1. one\n2. two\n\n\n  Comments are closed.  ")
    spans = split_sentences(s)
    assert len(spans) >= 6
    for sp in spans:
        assert s[sp.start:sp.end] == sp.text == sp.text.strip() and sp.text
    assert [sp.start for sp in spans] == sorted(sp.start for sp in spans)


def _norm(sentences):
    return [" ".join(x.split()) for x in sentences]


def _golden(name):
    """Pass rate on a golden-rules file (sentences compared after collapsing whitespace)."""
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"golden rules not found at {path}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    failed = [r["id"] for r in rows if _norm(texts(r["text"])) != _norm(r["expected"])]
    rate = 1 - len(failed) / len(rows)
    print(f"\n{name}: {len(rows) - len(failed)}/{len(rows)} = {rate:.1%} pass; failing ids {failed}")
    return rate


def test_golden_rules_pysbd():
    assert _golden("golden_rules_en.jsonl") >= 0.95  # measured 48/48


def test_golden_rules_pragmatic_segmenter():
    # measured 50/52: rules 40 and 41 join lines across a newline, which the annotation guideline forbids
    assert _golden("golden_rules_en_pragmatic_segmenter.jsonl") >= 0.95


def test_fast():
    para = "Mr. Smith said the U.S. economy grew 3.5 percent in 2019. Was it enough? Yes! " * 50
    text = "\n\n".join([para] * 20)  # ~80 KB
    t = time.perf_counter()
    spans = split_sentences(text)
    assert len(spans) == 3000
    assert time.perf_counter() - t < 1.0


def test_faster_than_pysbd():
    pytest.importorskip("pysbd")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from bench_split import bench, load_articles

    res = bench([body for _, body in load_articles()], repeat=10)
    # target is 5x (measured ~14x); 3x here leaves room for a busy shared machine
    assert res["ratio"] >= 3, res
