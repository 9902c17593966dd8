from services.nlp.clean import clean_text
from services.nlp import furniture as fur
from services.nlp.clean import body_lines, layout
P = "The city council approved a budget of 4.2 billion dollars on Thursday, an increase of 6% over last year, after a long debate in the chamber."
Q = "Opposition members said the plan relied on optimistic revenue forecasts and would force cuts to libraries and parks next year."
R = "The mayor, who took office in January, said the spending was needed to repair roads damaged by winter storms."
docs = {
"mid_teaser": f"By Anna Berg, Political Correspondent\n\n{P}\n\nMore on this story\nCouncil tax to rise by 5% in April\nMayor faces no-confidence vote\n\n{Q}\n\n{R}\n\nThis story will be updated.",
"trending": f"{P}\n\nTrending\nStar, 45, reveals secret wedding\nSupermarket slashes milk price\n\n{Q}\n\n{R}\n\nLike\nComments (12)",
"blog": f"Posted by Jo Smith · 4 min read\n\n{P}\n\n{Q}\n\nTags: budget, council\n\n{R}\n\nAdvertisement\n\n© 2026 Daily Thing. All rights reserved.",
"video": f"WATCH: The mayor explains the budget (1:42)\n\n{P}\n\nPhoto: The council chamber on Thursday. (John Doe/City Times)\n\n{Q}\n\n{R}\n\nCorrection: An earlier version of this story misstated the size of the budget.\n\nSign up for our morning newsletter",
"subhead": f"{P}\n\nWhat happens next\n\n{Q}\n\nA long road\n\n{R}",
"callout": f"{P}\n\n{Q}\n\n{R}\n\nHave you been affected by the cuts? Email us at news@citytimes.com\nRelated\nSchools budget frozen for third year",
"short_story": "The bank raised rates to 5%.\n\nIt was the tenth rise in a row.\n\nMarkets fell.",
}
for name, text in docs.items():
    l, _ = body_lines(text); i, r = layout(l)
    sc = fur.furniture_scores(r, None)
    dec = fur.decide(r, sc, 0.5)
    print("==", name)
    for x, s, d in zip(r, sc, dec):
        print(f"  {'DROP' if d else 'keep'} {s:.2f} {x.text[:90]}")
