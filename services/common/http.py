"""ASGI pieces shared by the two FastAPI services.

- `BodySizeLimit`: 413 for request bodies over a limit, with or without Content-Length.
- `RequestTimeout`: 504 for requests that take longer than a limit; streams are exempt.
- `install_error_handlers`: every error is `{"detail": ...}` as `application/json`, validation
  errors never echo the client's input, and `<`, `>`, `&` never appear raw in a JSON body.
- `error_responses`: the OpenAPI `responses=` entries for those errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logging import get_logger
from services.common.metrics import metrics_payload

log = get_logger("http")

TIMEOUTS = Counter("claimstream_http_request_timeouts_total", "Requests cut off by the request timeout (504)")

# --------------------------------------------------------------------------------------------------
# Error bodies


class ErrorItem(BaseModel):
    """One problem with the request, without the offending value."""

    loc: list[str | int] = Field(description="Where: e.g. ['body', 'outlet'] or ['body', 3, 'url'] in a batch")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error response: a message, or the list of problems for 422."""

    detail: str | list[ErrorItem]


_DESCRIPTIONS = {
    400: "Bad request",
    401: "API key missing or wrong",
    404: "Not found",
    413: "Request body too large",
    422: "Invalid request",
    503: "A dependency (Kafka, the database) is unavailable; retry",
    504: "The request took longer than the server's limit; retry",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code documented with the `ErrorBody` model.

    `descriptions` override the default text, keyed `e422="..."`.
    """
    return {code: {"model": ErrorBody, "description": descriptions.get(f"e{code}", _DESCRIPTIONS.get(code, "Error"))}
            for code in codes}


class SafeJSONResponse(JSONResponse):
    """JSON in which `<`, `>`, `&` and the JS line separators are \\u-escaped.

    The decoded value is unchanged, but no byte sequence of the body can be read as
    markup, whatever a client sent in and whatever is echoed back.
    """

    def render(self, content: Any) -> bytes:
        return safe_json_dumps(content).encode("utf-8")


_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                         "\u2028": "\\u2028", "\u2029": "\\u2029"})


def safe_json_dumps(content: Any) -> str:
    # Inside JSON these characters can only occur in strings, where the escapes mean the same.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).translate(_UNSAFE)


def clean_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors reduced to loc, msg and type: no `input`, `ctx` or `url`."""
    return [{"loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
             "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
            for error in errors]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if not isinstance(detail, (str, list)):
        detail = str(detail)
    return SafeJSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": clean_errors(exc.errors())}, status_code=422)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette still re-raises after this answer, so the server logs the traceback.
    return SafeJSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """JSON error bodies everywhere: HTTP errors, 422 without echoed input, 500 as JSON."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)


async def send_json_error(send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Answer from an ASGI middleware with the same body every handler uses."""
    body = safe_json_dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------------------------------
# Middleware


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0
        responded = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not responded:
                await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    await send_json_error(send, 413, f"request body larger than {limit} bytes")


class RequestTimeout:
    """Cut off a request that takes longer than `seconds` with 504 and a JSON error.

    The clock covers reading the body, the handler and sending the answer. Exempt:
    paths in `exempt_paths` (exact match), and any response that starts as
    `text/event-stream` (the deadline is lifted when its headers go out), so live
    streams can stay open. When the deadline passes after the answer has started,
    the connection is closed with the body cut short. A handler running in a worker
    thread cannot be interrupted; its answer is replaced by the 504 once it returns.
    """

    def __init__(self, app: ASGIApp, seconds: float, exempt_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.seconds = seconds
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0 or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        responded = False
        deadline: asyncio.Timeout | None = None

        async def tracking_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                if _is_event_stream(message) and deadline is not None:
                    deadline.reschedule(None)
            await send(message)

        try:
            async with asyncio.timeout(self.seconds) as deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if deadline is None or not deadline.expired():
                raise  # the handler's own TimeoutError: a server error, not ours
            TIMEOUTS.inc()
            log.warning("request timed out", path=scope.get("path"), method=scope.get("method"),
                        limit_s=self.seconds, answered=responded)
            if not responded:
                await send_json_error(send, 504, f"the request took longer than {self.seconds:g} s; retry")


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers") or ():
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"text/event-stream"
    return False


def add_metrics_route(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        payload, content_type = metrics_payload()
        return Response(payload, media_type=content_type)


# --------------------------------------------------------------------------------------------------
# Interactive docs without a CDN

# FastAPI's /docs and /redoc load their JavaScript and CSS from a CDN: offline, or behind a
# proxy that blocks it, the page stays blank. Swagger UI is served from the `swagger-ui-bundle`
# package instead, under /docs/assets/; ReDoc (CDN only) is not served. /openapi.json is unchanged.
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
               "favicon-32x32.png": "image/png"}
NO_CDN_DOCS: dict[str, Any] = {"docs_url": None, "redoc_url": None}


def add_offline_docs(app: FastAPI) -> bool:
    """Serve /docs from local files; False (and no /docs) when the swagger-ui-bundle package is missing."""
    from fastapi import HTTPException
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import FileResponse

    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.warning("swagger-ui-bundle is not installed: /docs is off, /openapi.json stays")
        return False
    from pathlib import Path

    root = Path(swagger_ui_path)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, "no such file")
        return FileResponse(root / name, media_type=DOCS_ASSETS[name], headers={"Cache-Control": "max-age=86400"})

    return True
