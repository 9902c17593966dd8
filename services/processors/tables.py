"""Tables: the matching index and the propagation ledgers, changelog-backed.

A killed or rebalanced worker restores them from their changelog topics (and
from local RocksDB files when PROCESSORS_STORE=rocksdb://), so every cluster
survives a restart. Each table partition is its own RocksDB database; settings.rocksdb_options()
caps its memtables and block cache (faust's defaults let each grow to gigabytes).
"""

from __future__ import annotations

from schemas import TOPICS
from services.processors.app import app, settings

# claim id -> matching record (features + decision), and "merged:<cluster id>" -> the surviving cluster;
# written from the candidates partition the claim came in on (ClaimIndex rebuilds its ANN index from it).
claim_records = app.Table("claim_records", default=None, partitions=TOPICS["candidates"].partitions,
                          options=settings.rocksdb_options())

# article id -> claims of its newest complete version (see nlp/revisions.py); written by annotate_articles
# from the article's own partition (articles and annotations share the article id key bytes).
article_versions = app.Table("article_versions", default=None, partitions=TOPICS["articles"].partitions,
                             options=settings.rocksdb_options())

# cluster id -> ClusterUpdated as a JSON dict, written by match_claims next to the index (same partition),
# so that merging two clusters folds two ledgers held by the same worker.
cluster_ledgers = app.Table("cluster_ledgers", default=None, partitions=TOPICS["candidates"].partitions,
                            options=settings.rocksdb_options())
