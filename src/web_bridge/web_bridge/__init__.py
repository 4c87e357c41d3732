"""The web bridge: the fleet over REST and one WebSocket (FastAPI, uvicorn, Redis)."""
