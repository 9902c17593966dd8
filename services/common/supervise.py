"""`python -m services.common.supervise CMD...`: run CMD, start it again when it fails.

What compose (`restart: unless-stopped`), k8s and `scripts/stack.sh` do for a processors
worker, for scripts that start workers themselves (`scripts/chaos.py`). A worker exits with
code 1 when its watchdog trips or when it refuses to commit past records it never processed;
a fresh worker resumes from the committed offsets. A clean exit, or SIGTERM/SIGINT to the
supervisor (passed on to CMD), ends the loop.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

RESTART_DELAY_S = 2.0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m services.common.supervise CMD [ARGS...]", file=sys.stderr)
        return 2
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        child = subprocess.Popen(argv)
        code = child.wait()
        if code == 0 or stopping:
            return code
        print(f"supervise: {argv[0]} exited with code {code}; restarting in {RESTART_DELAY_S:.0f} s",
              file=sys.stderr, flush=True)
        time.sleep(RESTART_DELAY_S)
        if stopping:
            return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
