"""`python -m services.ingest`: serve on the configured host and port (INGEST_HOST, INGEST_PORT)."""

from __future__ import annotations

import uvicorn

from services.ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    uvicorn.run("services.ingest.main:app", host=settings.host, port=settings.port, proxy_headers=False)


if __name__ == "__main__":
    main()
