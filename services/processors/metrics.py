"""Processor metrics (claimstream_processor_*).

Every known label value is created at zero when the module loads (`init_labels`),
so dashboards and alert rules see `0` for a stage or reason that has not
happened yet instead of no series at all.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.common.liveness import loop_lag_metrics
from services.common.metrics import init_labels, stage_metrics

# The `stage` label values used by services/processors/agents.py; add a new stage here too.
STAGES = ("split", "annotate", "match", "cluster", "revise")
# Dead-letter reasons: the codec's DecodeError reasons, the size check and the NLP failure.
REASONS = ("empty", "not_json", "schema_mismatch", "oversized", "processing_error")

MESSAGES_IN, MESSAGES_OUT, ERRORS, STAGE_DURATION = stage_metrics("processor")
DEADLETTERS = Counter("claimstream_processor_deadletters_total", "Messages sent to the dead-letter topic",
                      ["stage", "reason"])
CLAIMS = Counter("claimstream_processor_claims_detected_total", "Sentences scored as claims")
SEND_RETRIES = Counter("claimstream_processor_send_retries_total",
                       "Failed output sends, by what was done next (retry, recreate the producer, raise)",
                       ["action"])
SENTENCES = Counter("claimstream_processor_sentences_total", "Sentences annotated")

# Filled by services/processors/lag.py from the broker's view of the consumer group.
CONSUMER_LAG = Gauge("claimstream_processor_consumer_lag_messages",
                     "Messages in a partition not yet committed by the processors' consumer group",
                     ["topic", "partition"])
CONSUMER_COMMITTED = Gauge("claimstream_processor_consumer_committed_offset",
                           "Offset committed by the processors' consumer group (the log start when none yet)",
                           ["topic", "partition"])
LAG_POLL_ERRORS = Counter("claimstream_processor_consumer_lag_poll_errors_total",
                          "Failed attempts to read the consumer group's offsets from the broker")

# Filled by the watchdog (services/processors/lag.py) and the loop probe (services/processors/web.py).
STALLED_PARTITIONS = Gauge("claimstream_processor_watchdog_stalled_partitions",
                           "Partitions of this worker with lag whose committed offset has not moved for the "
                           "watchdog's interval")
WATCHDOG_TRIPS = Counter("claimstream_processor_watchdog_trips_total",
                         "Times the watchdog found a stalled partition and stopped the worker")
SKIPPED_OFFSETS = Counter("claimstream_processor_skipped_offsets_total",
                          "Input records faust's fetch loop jumped past after a seek; the worker stops and "
                          "replays them instead of committing past them (services/processors/gaps.py)",
                          ["topic"])
HEAD_GAPS = Counter("claimstream_processor_commit_head_gaps_total",
                    "Commits held back because the record at the committed offset was not acked yet while "
                    "later ones were (faust would have committed past it; services/processors/gaps.py)",
                    ["topic"])
STALE_ACKS = Counter("claimstream_processor_stale_acks_total",
                     "Acks of input records from an earlier consumer generation, not recorded for the commit "
                     "(the records are replayed; services/processors/gaps.py)", ["topic"])
STALE_FETCHES = Counter("claimstream_processor_stale_fetches_total",
                        "Fetch results dropped because a rebalance or seek happened while they were read")
LOOP_LAG, LOOP_LAG_MAX = loop_lag_metrics("processor")

# The matching window's memory, kept by design (claims stay PROCESSORS_MATCH_WINDOW_DAYS): scripts/soak.py
# reads these to tell the window's growth apart from a leak.
MATCH_CLAIMS = Gauge("claimstream_processor_match_window_claims", "Claims in the matching window (ANN index)")
MATCH_INDEX_BYTES = Gauge("claimstream_processor_match_index_bytes",
                          "Memory of the matching window's nearest-neighbour index (usearch)")
MATCH_CACHED = Gauge("claimstream_processor_match_cache_claims",
                     "Decoded claims the matcher keeps on the heap (PROCESSORS_MATCH_CACHE_CLAIMS at most)")

for _metric in (MESSAGES_IN, MESSAGES_OUT, STAGE_DURATION):
    init_labels(_metric, STAGES)
init_labels(SEND_RETRIES, ("retry", "recreate", "raise"))
for _metric in (ERRORS, DEADLETTERS):
    init_labels(_metric, STAGES, REASONS)
