"""Pydantic models shared by several routers (each router keeps its own bodies beside it)."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from web_bridge.errors import InvalidInputError

T = TypeVar("T")


class Problem(BaseModel):
    """An error answer: what is wrong, in words."""

    detail: str


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = None


class GeoPoint(BaseModel):
    """A WGS-84 position."""

    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    altitude: float | None = None


def encode_cursor(key: Any) -> str:
    """Return an opaque cursor for the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """Return the sort key of a cursor; raise ValueError naming it when it is garbage."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"cursor {cursor[:40]!r} is not one this API returned") from None


def string_cursor(cursor: str | None) -> str | None:
    """Return the id a page's cursor points after; raise InvalidInputError (422) on garbage."""
    try:
        after = decode_cursor(cursor)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if after is not None and not isinstance(after, str):
        raise InvalidInputError("cursor is not one this route returned")
    return after


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503, 504)
}
