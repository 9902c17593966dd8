import pytest
from pydantic import ValidationError

from services.ingest.models import ArticleIn
from services.ingest.prepare import EmptyArticleError, article_id_for, canonical_url, prepare_article


def test_client_id_wins_then_url_then_content():
    with_id = ArticleIn(id="mine-1", url="https://a.example/x", outlet="A", body="Text here.")
    assert prepare_article(with_id).article_id == "mine-1"
    by_url = prepare_article(ArticleIn(url="https://A.example/x/?utm_source=t#top", outlet="A", body="Text."))
    same_url = prepare_article(ArticleIn(url="https://a.example/x", outlet="B", body="Other text."))
    assert by_url.article_id == same_url.article_id and by_url.article_id.startswith("u-")
    by_content = prepare_article(ArticleIn(outlet="A", body="Some text."))
    assert by_content.article_id.startswith("h-")
    assert by_content.article_id != prepare_article(ArticleIn(outlet="A", body="Other text.")).article_id


def test_canonical_url_drops_tracking_and_fragment_but_keeps_real_parameters():
    assert canonical_url("HTTPS://News.Example/a/b/?id=7&utm_medium=x#c") == "https://news.example/a/b?id=7"
    assert canonical_url("https://news.example/a?id=7") != canonical_url("https://news.example/a?id=8")


def test_content_hash_changes_with_the_body_only():
    a = prepare_article(ArticleIn(id="x", outlet="A", body="One fact.\n\nShare this article"))
    b = prepare_article(ArticleIn(id="x", outlet="A", body="One fact."))
    c = prepare_article(ArticleIn(id="x", outlet="A", body="Another fact."))
    assert a.content_hash == b.content_hash != c.content_hash


def test_html_goes_through_main_text_extraction():
    html = ("<html><body><nav>Home | World | Sport</nav><article><h1>Budget</h1>"
            "<p>The council approved a budget of $4.2 billion on Thursday, an increase of 6% over last year, "
            "after a long debate in the chamber.</p></article><footer>All rights reserved.</footer></body></html>")
    draft = prepare_article(ArticleIn(id="h1", outlet="A", title="Budget", html=html))
    assert "approved a budget of $4.2 billion" in draft.body
    assert "Home | World" not in draft.body and "rights reserved" not in draft.body


def test_body_that_is_only_boilerplate_is_refused():
    with pytest.raises(EmptyArticleError):
        prepare_article(ArticleIn(id="e", outlet="A", body="Comments are closed.\n\nYou May Also Like\n\nTeaser"))


@pytest.mark.parametrize("fields", [
    dict(outlet="A"),                                   # no body at all
    dict(outlet="A", body="x", html="<p>x</p>"),        # both
    dict(outlet="", body="x"),                          # empty outlet
    dict(outlet="A", body="x", url="ftp://x.example"),  # not http(s)
    dict(outlet="A", body="x", id="has space"),         # unsafe id
    dict(outlet="A", body="x", extra=1),                # unknown field
])
def test_invalid_articles_are_refused(fields):
    with pytest.raises(ValidationError):
        ArticleIn(**fields)


def test_article_id_for_is_stable():
    article = ArticleIn(outlet="A", body="Same.")
    assert article_id_for(article, "Same.") == article_id_for(article, "Same.")
