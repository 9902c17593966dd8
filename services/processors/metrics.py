"""Processor metrics (claimstream_processor_*)."""

from __future__ import annotations

from prometheus_client import Counter

from services.common.metrics import stage_metrics

MESSAGES_IN, MESSAGES_OUT, ERRORS, STAGE_DURATION = stage_metrics("processor")
DEADLETTERS = Counter("claimstream_processor_deadletters_total", "Messages sent to the dead-letter topic",
                      ["stage", "reason"])
CLAIMS = Counter("claimstream_processor_claims_detected_total", "Sentences scored as claims")
SENTENCES = Counter("claimstream_processor_sentences_total", "Sentences annotated")
