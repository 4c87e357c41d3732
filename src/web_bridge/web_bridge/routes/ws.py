"""Route: the one WebSocket per client, ``/api/v1/ws`` (the hub does the work).

Protocol version 1, JSON text messages:

- Authenticate with ``?ticket=<POST /api/v1/auth/ws-ticket>`` (single use), or send
  ``{"type":"auth","token":<access token>}`` as the first message within 5 s. Send it again
  with a fresh token before ``expires_at`` to stay connected; past it the server closes
  with 1008 "token expired".
- The server starts with ``hello`` (session, protocol, instance, capabilities, channels,
  ``seq``, ``mode``: shared through Redis or local), and ``auth_ok`` after an auth message.
- ``{"type":"subscribe","channel":C,"since":S?}`` with C one of ``fleet``, ``vehicle/<id>``,
  ``missions``, ``mission/<id>``, ``events``, ``zones``, ``charging``: answered with
  ``snapshot`` (``data``, ``seq``), then ``update`` messages (``channel``, ``kind``, ``seq``,
  ``data``). With ``since`` (the last ``seq`` seen) on a logged channel (all but fleet and
  vehicle/<id>, which are states), the answer is ``resumed`` followed by the missed updates,
  or a fresh ``snapshot`` when they are no longer kept. Vehicle states arrive as
  ``kind: "vehicles"`` lists, coalesced to the newest per vehicle.
- ``unsubscribe`` → ``unsubscribed``; ``ping`` → ``pong``. ``status`` tells how many updates
  were dropped for reading too slowly, or that delivery became local or shared.
- Close codes: 1008 malformed, unknown or unauthenticated (with the reason), 1013 a client
  stuck past the deadline, 1001 server shutting down.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from web_bridge.hub import hub_of

router = APIRouter(tags=["ws"])


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    """Serve one client's WebSocket session (live fleet, missions, events, zones, charging)."""
    await hub_of(ws.app.state.bridge).serve(ws)
