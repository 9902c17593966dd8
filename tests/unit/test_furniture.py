"""Page furniture: the learned line decision, teaser blocks, the per-outlet repetition memory, metadata."""

from services.ingest.models import ArticleIn
from services.ingest.prepare import prepare_article
from services.nlp import furniture as fur
from services.nlp.clean import body_lines, clean_text, layout

STORY = [
    "The city council approved a budget of 4.2 billion dollars on Thursday, an increase of 6% over last year, "
    "after a long debate in the chamber.",
    "Opposition members said the plan relied on optimistic revenue forecasts and would force cuts to libraries "
    "and parks next year.",
    "The mayor, who took office in January, said the spending was needed to repair roads damaged by winter storms.",
    "Property taxes will rise by 3.1% for the average household, according to figures published by the finance "
    "department on Friday.",
]


def _body(*parts: str) -> str:
    return "\n\n".join(parts)


def test_model_ships_and_scores():
    m = fur.model()
    assert m is not None and 0 < m.threshold < 1
    lines = [fur.Line(x) for x in STORY]
    scores = fur.furniture_scores(lines, None)
    assert all(s < 0.5 for s in scores)


def test_furniture_at_top_middle_and_end():
    text = _body("By Anna Berg, Political Correspondent", "Posted 2 Mar 2026 · 4 min read", STORY[0],
                 "Image: Councillors vote in the chamber on Thursday (Getty Images)", STORY[1], "Advertisement",
                 STORY[2], STORY[3], "Reporting by Anna Berg; Editing by Tom Reed", "© 2026 City Times",
                 "Comments (12)")
    c = clean_text(text, title="Council approves budget")
    assert c.body == _body(*STORY)
    assert "Advertisement" in c.removed and "Comments (12)" in c.removed
    assert c.captions == ["Image: Councillors vote in the chamber on Thursday (Getty Images)"]
    assert "Reporting by Anna Berg; Editing by Tom Reed" in c.credits
    assert "By Anna Berg, Political Correspondent" in c.credits


def test_teaser_block_mid_article_keeps_the_story_after_it():
    for marker in ("More on this story", "Trending", "Related"):
        block = f"{marker}\nCouncil tax to rise by 5% in April\nMayor faces no-confidence vote"
        text = _body(STORY[0], STORY[1], block, STORY[2], STORY[3])
        c = clean_text(text, title="Council approves budget")
        assert c.body == _body(*STORY), marker
        assert "Council tax to rise by 5% in April" in c.removed


def test_teaser_block_rule_stops_at_a_story_paragraph():
    lines = [fur.Line(STORY[0]), fur.Line("Most read"), fur.Line("Who are the rebels?", own_paragraph=False,
                                                                  attached_prev=True),
             fur.Line("Star, 45, reveals secret debt", own_paragraph=False, attached_prev=True),
             fur.Line(STORY[1]), fur.Line("Short unpunctuated line after the story")]
    flags = fur.teaser_block_ends(lines, [False, True, False, False, False, False])
    assert flags == [False, True, True, True, False, False]


def test_long_prose_paragraph_is_never_furniture():
    long_line = " ".join([STORY[0], STORY[1]])
    assert fur.decide([fur.Line(long_line)], [0.99], 0.5) == [False]


def test_outlet_memory_counts_other_articles_only():
    mem = fur.OutletMemory()
    line = "Reporting by Anna Berg; Editing by Tom Reed"
    assert mem.counts("City Times", "a1", [line]) == [(0, 0, 0)]
    mem.remember("City Times", "a1", [line])
    assert mem.counts("City Times", "a1", [line]) == [(0, 0, 0)]  # a new version of the same article
    assert mem.counts("Other Outlet", "a2", [line]) == [(0, 0, 0)]  # per outlet
    exact, shape, prefix = mem.counts("city times", "a2", [line])[0]
    assert exact == 1 and shape == 1 and prefix == 1
    # digits are masked, names too in the shape key
    assert mem.counts("City Times", "a3", ["Reporting by Jo Smith; Editing by Al Bee"])[0][1] == 1


def test_outlet_memory_is_bounded():
    mem = fur.OutletMemory(max_outlets=2, max_keys=6)
    for i in range(5):
        mem.remember(f"outlet {i}", f"a{i}", [f"line number {i} of many", f"another line {i} here"])
    assert len(mem._outlets) == 2
    mem.remember("outlet 4", "b", [f"fresh line {k} with words" for k in range(10)])
    assert all(len(t) <= 6 for t in mem._outlets.values())


def test_repetition_raises_the_furniture_score():
    line = "Stay with us for the latest on this developing story."
    lines, _ = body_lines(_body(*STORY, line), "Budget")
    _, recs = layout(lines)
    alone = fur.furniture_scores(recs, None)[-1]
    repeated = fur.furniture_scores(recs, [(0, 0, 0)] * (len(recs) - 1) + [(3, 3, 3)])[-1]
    assert repeated > alone and repeated >= 0.5


def test_memory_across_articles_of_an_outlet():
    mem = fur.OutletMemory()
    fixed = "City Times: all the news that matters to you, every morning, free."
    for k in range(3):
        clean_text(_body(STORY[k], STORY[(k + 1) % 4], fixed), "Title", outlet="City Times", memory=mem,
                   article=f"a{k}")
    c = clean_text(_body(STORY[3], STORY[0], fixed), "Title", outlet="City Times", memory=mem, article="a9")
    assert fixed in c.removed and c.body == _body(STORY[3], STORY[0])


def test_prepare_article_keeps_captions_and_credits_as_metadata():
    mem = fur.OutletMemory()
    draft = prepare_article(ArticleIn(id="m1", outlet="City Times", title="Budget", body=_body(
        STORY[0], "Photo: The council chamber on Thursday. (John Doe/City Times)", STORY[1], STORY[2],
        "Source: City Wire")), mem)
    assert draft.body == _body(STORY[0], STORY[1], STORY[2])
    assert draft.captions == ["Photo: The council chamber on Thursday. (John Doe/City Times)"]
    assert draft.credit == "City Wire" and draft.credits == ["Source: City Wire"]
    assert len(mem) > 0
