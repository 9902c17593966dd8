"""Request field types shared by the two APIs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def iso_datetime(value: object) -> object:
    """Only what the schema says: an ISO 8601 date-time string (or a datetime from our own code).

    pydantic would also take a number or a numeric string as Unix time, and a bare date.
    """
    if value is None or isinstance(value, datetime):
        return value
    if not (isinstance(value, str) and _ISO_DATETIME.match(value)):
        raise ValueError("must be an ISO 8601 date-time with a UTC offset, e.g. 2026-03-02T10:00:00Z")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(iso_datetime)]
