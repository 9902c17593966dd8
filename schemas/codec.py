"""The one codec used by every producer and consumer: pydantic models as JSON bytes."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


# Every `DecodeError.reason`, for metrics created at zero before the first bad message.
DECODE_REASONS = ("empty", "not_json", "schema_mismatch")


class DecodeError(ValueError):
    """The bytes are not a valid message of the expected model.

    `reason` is a short, bounded label (for metrics and dead letters):
    `not_json`, `schema_mismatch` or `empty`.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode("utf-8")


def decode(model_type: type[M], data: bytes | str | None) -> M:
    if data is None or len(data) == 0:
        raise DecodeError("empty", "message has no value")
    try:
        return model_type.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0].get("type") == "json_invalid":
            raise DecodeError("not_json", str(errors[0].get("msg"))) from exc
        raise DecodeError("schema_mismatch", _summarise(errors)) from exc


def _summarise(errors: list) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {err.get('msg')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more
