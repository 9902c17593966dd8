"""`python -m services.query`: serve on the configured host and port (QUERY_HOST, QUERY_PORT)."""

from __future__ import annotations

import uvicorn

from services.query.settings import QuerySettings


def main() -> None:
    settings = QuerySettings()
    # Live streams never end by themselves: give them a few seconds on shutdown, then close them.
    uvicorn.run("services.query.main:app", host=settings.host, port=settings.port, proxy_headers=False,
                timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
