"""The optional X-API-Key on writes, shared by ingest and query.

A server without a configured key accepts anonymous writes, so the header is read with
`auto_error=False` and `check_api_key` decides. The OpenAPI document states what this
server needs: with no key configured, each secured operation also lists the empty
(anonymous) alternative, so clients and schemathesis know a missing header is fine.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI, HTTPException
from fastapi.security import APIKeyHeader

API_KEY_SCHEME = "ApiKey"


def api_key_header(description: str) -> APIKeyHeader:
    # A security scheme, so /docs shows the lock and an "Authorize" box.
    return APIKeyHeader(name="X-API-Key", scheme_name=API_KEY_SCHEME, auto_error=False, description=description)


def check_api_key(expected: str | None, given: str | None) -> None:
    """Raise 401 unless no key is configured or the given one matches."""
    if not expected:
        return
    # Compare bytes: compare_digest refuses str with non-ASCII characters, which a header can carry.
    raw = (given or "").encode("utf-8", "surrogateescape")
    if not (raw and secrets.compare_digest(raw, expected.encode("utf-8"))):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header",
                            headers={"WWW-Authenticate": API_KEY_SCHEME})


def document_api_key(app: FastAPI, required: bool) -> None:
    """Make the generated OpenAPI document say whether this server needs the key."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            if not required:
                for operations in schema.get("paths", {}).values():
                    for operation in operations.values():
                        if {API_KEY_SCHEME: []} in operation.get("security", []):
                            operation["security"].append({})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
