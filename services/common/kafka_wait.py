"""`python -m services.common.kafka_wait --bootstrap HOST:PORT --timeout S`: exit 0 once Kafka answers."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.common.kafka import wait_for_broker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    try:
        asyncio.run(wait_for_broker(args.bootstrap, args.timeout))
    except TimeoutError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
