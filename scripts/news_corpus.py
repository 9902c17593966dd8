"""Read an annotated news corpus in the shared devset's format: `gold.json` and `articles.jsonl`.

One reader for the scripts that train on or measure with these corpora (`train_pair_model.py`,
`eval_dedup.py`); the files are the ones `../shared/devset/src/build.py` writes.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_corpus(folder: Path) -> tuple[dict, dict[str, dict]]:
    """(gold, articles by id) of the corpus in `folder`."""
    gold = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    articles = {}
    for line in (folder / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            article = json.loads(line)
            articles[article["id"]] = article
    return gold, articles
