"""clean_text / html_to_text: boilerplate removal on a real scraped page and small cases."""

from pathlib import Path

import pytest

from services.nlp.clean import clean_text, html_to_text

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "scraped_article_north_korea.txt"


def test_real_scraped_article():
    if not SEED.exists():
        pytest.skip(f"seed article not found at {SEED}")
    c = clean_text(SEED.read_text(encoding="utf-8"))
    assert c.title == "North Korea"
    assert c.credit == "BBC"
    assert c.body.startswith("North Korea is selling military equipment")
    assert c.body.endswith("gain control of lost areas.")
    for teaser in ("Fitness Club Shut Due To Coronavirus Fears",
                   "Taiwan to Impose Health Declaration Forms on All Visitors",
                   "Comments are closed", "You May Also Like", "Credits"):
        assert teaser not in c.body
    assert "Credits: BBC" in c.removed and "Fitness Club Shut Due To Coronavirus Fears" in c.removed
    assert "\n\n" in c.body and "\n\n\n" not in c.body  # paragraphs kept, normalised


def test_given_title_dropped_case_insensitively():
    c = clean_text("  NORTH   korea \n\nFirst paragraph here.\n", title="North Korea")
    assert c.body == "First paragraph here."
    assert c.title == "North Korea"


def test_first_sentence_not_taken_as_title():
    c = clean_text("Prices rose 5% in May.\n\nAnalysts expected less.")
    assert c.title is None
    assert c.body == "Prices rose 5% in May.\n\nAnalysts expected less."


def test_share_newsletter_comment_lines_removed():
    text = ("Body one.\n\nShare this article\nShare on Facebook\n\nBody two.\n\n"
            "Subscribe to our newsletter\nSign up for our daily briefing\nFollow us on Twitter\n"
            "Click here to read the report\n3 comments\nLeave a comment\nSource: Reuters\n")
    c = clean_text(text)
    assert c.body == "Body one.\n\nBody two."
    assert c.credit == "Reuters"
    assert len(c.removed) == 9


def test_read_more_inside_paragraph_survives():
    text = "Officials said people should read more about the risks before travelling.\n\nRelated articles\nOther story"
    c = clean_text(text)
    assert c.body == "Officials said people should read more about the risks before travelling."
    assert "Other story" in c.removed


def test_long_line_starting_like_boilerplate_survives():
    line = "Share prices fell sharply on Monday after the central bank raised rates by half a point."
    assert clean_text(line).body == line


def test_deterministic():
    text = "Title\n\nA.\n\nRead more\nX"
    assert clean_text(text) == clean_text(text)


def test_html_to_text_paragraphs():
    html = ("<html><body><nav>Home</nav><article><h1>Headline</h1>"
            + "<p>" + "Russia bought shells from North Korea, officials said. " * 4 + "</p>"
            + "<p>" + "The deal was confirmed by two intelligence sources on Monday. " * 4 + "</p>"
            + "</article></body></html>")
    text = html_to_text(html)
    paras = text.split("\n\n")
    assert any(p.startswith("Russia bought shells") for p in paras)
    assert "<p>" not in text


def test_html_to_text_fallback_on_tiny_page():
    # Too little text for trafilatura's precision mode: the tag-stripped fallback still returns it.
    text = html_to_text("<p>One &amp; two</p><script>var x = 1;</script><p>Three</p>")
    assert "One & two" in text and "var x" not in text
