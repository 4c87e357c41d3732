"""Routes: telemetry of vehicles without ROS, over HTTP and WebSocket, by API key.

``POST /ingest`` takes ``{"samples": [...]}`` (at most 500) and answers which samples were
accepted (published on the graph) and which were not, by index and problem.
``/ingest/ws`` does the same for one batch per message; the key comes in a header or in the
first message (``{"api_key": "..."}``). Garbage closes the socket with 1008 and a reason.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.websockets import WebSocketDisconnect, WebSocketState

from web_bridge import ingest
from web_bridge.app import Bridge
from web_bridge.deps import BridgeDep
from web_bridge.errors import GraphUnavailableError
from web_bridge.ingest import (
    MAX_BATCH,
    BatchTooLargeError,
    IngestResult,
    KeyRefusedError,
    RateLimitedError,
    SampleIn,
    audit_ingest,
)
from web_bridge.schemas import ERRORS
from web_bridge.security import Principal

router = APIRouter(prefix="/ingest", tags=["ingest"], responses=ERRORS)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="a vehicle's API key (POST /api/v1/keys)")
AUTH_TIMEOUT_S = 10.0


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    # The sample's schema goes into the batch's inline, so its $defs must be resolved here.
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


# Samples are checked one by one (a bad one must not sink the batch), so the body takes any
# JSON values while the documentation shows what a sample must be.
Samples = Annotated[list[Any], WithJsonSchema({
    "type": "array", "items": _inline(SampleIn.model_json_schema()),
    "description": f"at most {MAX_BATCH} samples, oldest first"})]


class BatchIn(BaseModel):
    """A batch of samples of the key's vehicle."""

    model_config = ConfigDict(extra="forbid")
    samples: Samples


class RejectionOut(BaseModel):
    """A sample that was not accepted."""

    index: int = Field(description="its position in the batch, from 0")
    problem: str


class IngestOut(BaseModel):
    """What became of a batch: accepted samples are published on the graph."""

    accepted: int
    rejected: list[RejectionOut]
    last_stamp: float | None = Field(description="POSIX time of the vehicle's newest "
                                                 "accepted sample; send newer ones")


def _out(result: IngestResult) -> IngestOut:
    return IngestOut(accepted=result.accepted, last_stamp=result.last_stamp,
                     rejected=[RejectionOut(index=r.index, problem=r.problem)
                               for r in result.rejected])


def key_of(headers: Any) -> str | None:
    """Return the API key of a request's headers (X-API-Key, or Authorization: ApiKey)."""
    key = headers.get("x-api-key")
    if key:
        return str(key).strip()
    scheme, _, value = str(headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "apikey" and value.strip():
        return value.strip()
    return None


async def key_principal(request: Request, bridge: BridgeDep,
                        _: Annotated[str | None, Depends(api_key_header)]) -> Principal:
    """Authenticate an ingest request by its API key (401/429 audited here)."""
    address = request.client.host if request.client else "unknown"
    key = key_of(request.headers)
    svc = ingest.service(bridge)
    try:
        principal = await svc.authenticate(key, address)
    except KeyRefusedError as exc:
        await audit_ingest(bridge, principal=None, status_code=401, method="POST",
                           address=address, key=key, reason=str(exc))
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "ApiKey"}) from None
    except RateLimitedError as exc:
        prefix = _prefix(key)
        if prefix is None or svc.should_audit_limit(prefix):
            await audit_ingest(bridge, principal=None, status_code=429, method="POST",
                               address=address, key=key, reason=str(exc))
        raise HTTPException(429, str(exc),
                            headers={"Retry-After": str(int(exc.retry_after))}) from None
    request.state.principal = principal
    return principal


def _prefix(key: str | None) -> str | None:
    return key.partition(".")[0] if key else None


KeyPrincipal = Annotated[Principal, Depends(key_principal)]


@router.post("", response_model=IngestOut)
async def ingest_batch(body: BatchIn, request: Request, principal: KeyPrincipal,
                       bridge: BridgeDep) -> IngestOut:
    """Publish a batch of samples of the key's vehicle; bad samples are answered by index.

    Authenticate with `X-API-Key: <key>` (or `Authorization: ApiKey <key>`).
    """
    address = request.client.host if request.client else None
    try:
        result = await ingest.service(bridge).ingest(principal, body.samples)
    except BatchTooLargeError as exc:
        await audit_ingest(bridge, principal=principal, status_code=413, method="POST",
                           address=address, samples=len(body.samples))
        raise HTTPException(413, str(exc)) from None
    await audit_ingest(bridge, principal=principal, status_code=200, method="POST",
                       address=address, transport="http", accepted=result.accepted,
                       rejected=len(result.rejected),
                       problems=[r.problem for r in result.rejected[:5]])
    return _out(result)


# --- WebSocket ----------------------------------------------------------------------------


class _CloseError(Exception):
    """The socket must close with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _reason(text: str) -> str:
    # A close reason is at most 123 bytes of UTF-8.
    raw = text.encode()[:123]
    return raw.decode(errors="ignore")


async def _receive_json(websocket: WebSocket, what: str) -> Any:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise _CloseError(1008, f"{what} is binary; send JSON text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _CloseError(1008, f"{what} is not JSON ({exc})") from None


async def _first_key(websocket: WebSocket) -> str:
    try:
        first = await asyncio.wait_for(_receive_json(websocket, "the first message"),
                                       AUTH_TIMEOUT_S)
    except TimeoutError:
        raise _CloseError(1008, f"no API key within {AUTH_TIMEOUT_S:g} s: send X-API-Key or "
                            '{"api_key": "..."} first') from None
    if not isinstance(first, dict) or not isinstance(first.get("api_key"), str) \
            or set(first) != {"api_key"}:
        raise _CloseError(1008, 'the first message must be {"api_key": "<key>"}')
    return str(first["api_key"])


def _batch_of(message: Any) -> tuple[Any, list[Any]]:
    """Return (the client's id, the samples) of a batch message; raise _CloseError on garbage."""
    if not isinstance(message, dict) or not isinstance(message.get("samples"), list):
        raise _CloseError(1008, 'a message must be {"samples": [...]} (with an optional "id")')
    unknown = set(message) - {"samples", "id"}
    if unknown:
        raise _CloseError(1008, f"unknown fields in a batch: {', '.join(sorted(unknown))[:60]}")
    batch_id = message.get("id")
    if batch_id is not None and (isinstance(batch_id, bool)
                                 or not isinstance(batch_id, str | int)):
        raise _CloseError(1008, "a batch's id must be a string or an integer")
    return batch_id, list(message["samples"])


async def _authenticate_ws(bridge: Bridge, key: str, address: str) -> Principal:
    svc = ingest.service(bridge)
    try:
        return await svc.authenticate(key, address)
    except KeyRefusedError as exc:
        await audit_ingest(bridge, principal=None, status_code=401, method="WS",
                           address=address, key=key, reason=str(exc))
        raise _CloseError(1008, str(exc)) from None
    except RateLimitedError as exc:
        prefix = _prefix(key)
        if prefix is None or svc.should_audit_limit(prefix):
            await audit_ingest(bridge, principal=None, status_code=429, method="WS",
                               address=address, key=key, reason=str(exc))
        raise


@router.websocket("/ws")
async def ingest_socket(websocket: WebSocket) -> None:
    """Stream batches of samples over a WebSocket: one JSON batch per message, one answer
    per message (`{"id", "accepted", "rejected", "last_stamp"}`, or `{"id", "error",
    "status"}` for a batch refused whole). Authenticate with the `X-API-Key` header or a
    first message `{"api_key": "<key>"}`; garbage closes the socket with 1008 and a reason."""
    bridge: Bridge = websocket.app.state.bridge
    address = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    try:
        key = key_of(websocket.headers)
        in_message = key is None
        if key is None:
            key = await _first_key(websocket)
        try:
            principal = await _authenticate_ws(bridge, key, address)
        except RateLimitedError as exc:
            raise _CloseError(1013, f"{exc}; retry in {int(exc.retry_after)} s") from None
        if in_message:
            await websocket.send_json({"authenticated": True,
                                       "vehicle_id": principal.vehicle_id})
        while True:
            batch_id, samples = _batch_of(await _receive_json(websocket, "a message"))
            await websocket.send_json(await _ws_batch(bridge, key, address, batch_id,
                                                      samples))
    except _CloseError as closed:
        if websocket.client_state == WebSocketState.CONNECTED:
            await websocket.close(closed.code, _reason(closed.reason))
    except WebSocketDisconnect:
        pass


async def _ws_batch(bridge: Bridge, key: str, address: str, batch_id: Any,
                    samples: list[Any]) -> dict[str, Any]:
    """Answer one batch of a socket (each message is authenticated and rate-limited)."""
    try:
        principal = await _authenticate_ws(bridge, key, address)
    except RateLimitedError as exc:
        return {"id": batch_id, "error": str(exc), "status": 429,
                "retry_after": int(exc.retry_after)}
    try:
        result = await ingest.service(bridge).ingest(principal, samples)
    except BatchTooLargeError as exc:
        await audit_ingest(bridge, principal=principal, status_code=413, method="WS",
                           address=address, samples=len(samples))
        return {"id": batch_id, "error": str(exc), "status": 413}
    except GraphUnavailableError as exc:
        return {"id": batch_id, "error": str(exc), "status": 503}
    await audit_ingest(bridge, principal=principal, status_code=200, method="WS",
                       address=address, transport="ws", accepted=result.accepted,
                       rejected=len(result.rejected),
                       problems=[r.problem for r in result.rejected[:5]])
    return {"id": batch_id, **_out(result).model_dump()}
