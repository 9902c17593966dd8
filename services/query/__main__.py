"""`python -m services.query`: serve on the configured host and port (QUERY_HOST, QUERY_PORT)."""

from __future__ import annotations

import uvicorn

from services.query.settings import QuerySettings


def main() -> None:
    settings = QuerySettings()
    uvicorn.run("services.query.main:app", host=settings.host, port=settings.port, proxy_headers=False)


if __name__ == "__main__":
    main()
