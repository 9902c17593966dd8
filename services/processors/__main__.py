"""`python -m services.processors [faust worker args]`: create the topics, then run the worker."""

from __future__ import annotations

import asyncio
import sys

from services.common.kafka import ensure_topics, wait_for_broker
from services.common.settings import CommonSettings, KafkaSettings


def main() -> None:
    kafka, common = KafkaSettings(), CommonSettings()
    asyncio.run(wait_for_broker(kafka.bootstrap_servers, 60))
    asyncio.run(ensure_topics(kafka.bootstrap_servers, common.namespace))
    from services.processors.app import app

    # faust's own CLI parses the rest: `worker -l info` by default.
    sys.argv = [sys.argv[0], *(sys.argv[1:] or ["worker", "-l", "info"])]
    app.main()


if __name__ == "__main__":
    main()
