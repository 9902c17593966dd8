"""The optional X-API-Key on writes, shared by ingest and query.

A server without a configured key accepts anonymous writes, so the header is read with
`auto_error=False` and `check_api_key` decides. The OpenAPI document states what this
server needs: with no key configured, each secured operation also lists the empty
(anonymous) alternative, so clients and schemathesis know a missing header is fine.
"""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import FastAPI, HTTPException, Request
from fastapi.security import APIKeyHeader

API_KEY_SCHEME = "ApiKey"


def api_key_header(description: str) -> APIKeyHeader:
    # A security scheme, so /docs shows the lock and an "Authorize" box.
    return APIKeyHeader(name="X-API-Key", scheme_name=API_KEY_SCHEME, auto_error=False, description=description)


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1, localhost and a Unix socket (no host)."""
    if not host:
        return True
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def open_writes_refusal(service: str, host: str | None, api_key: str | None, allow_open_writes: bool) -> str | None:
    """Why anonymous writes must not be served on `host`, or None when they may (or a key is set)."""
    if api_key or allow_open_writes or is_loopback(host):
        return None
    prefix = service.upper()
    return (f"{service} listens on {host}, a non-loopback address, without an API key: anyone who reaches it "
            f"could write. Set {prefix}_API_KEY (clients then send X-API-Key), or {prefix}_ALLOW_OPEN_WRITES=true "
            "on a network you trust")


def check_write_access(service: str, request: Request, expected: str | None, given: str | None,
                       allow_open_writes: bool) -> None:
    """The key when one is configured; without one, writes only over a loopback address (unless allowed)."""
    if not expected and not allow_open_writes:
        server = request.scope.get("server")
        reason = open_writes_refusal(service, server[0] if server else None, expected, allow_open_writes)
        if reason:
            raise HTTPException(status_code=401, detail=f"writes refused: {reason}",
                                headers={"WWW-Authenticate": API_KEY_SCHEME})
    check_api_key(expected, given)


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

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
