"""JSON text that must hold an object (a request's spec, an event's details)."""

from __future__ import annotations

import json
from typing import Any


def json_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object; ValueError says which ``what`` is wrong and how."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not an object")
    return data
