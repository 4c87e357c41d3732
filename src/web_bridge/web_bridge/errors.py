"""The bridge's error types; routers map them to HTTP status codes (app.py), nothing else does."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class GraphUnavailableError(BridgeError):
    """A node the bridge needs (its service or action) is not on the graph: 503."""


class GraphTimeoutError(BridgeError, TimeoutError):
    """The graph did not answer, or a vehicle did not acknowledge, in time: 504."""


class RefusedError(BridgeError):
    """A node refused the request; the message is its reason: 409 (or 422, see ``status``)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(BridgeError, LookupError):
    """The named object does not exist or is not visible to the caller: 404."""


class InvalidInputError(BridgeError, ValueError):
    """A request is well-formed JSON but says something impossible: 422."""
