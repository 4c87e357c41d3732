"""Prometheus metrics of one bridge instance (its own registry: two apps in one process,
as in the tests, must not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Requests, latencies, WebSocket clients, dropped updates, ingest counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fleet_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "fleet_http_request_seconds", "HTTP request latency", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r)
        self.ws_clients = Gauge("fleet_ws_clients", "WebSocket clients connected", registry=r)
        self.ws_messages = Counter("fleet_ws_messages_sent", "WebSocket messages sent",
                                   registry=r)
        self.ws_dropped = Counter("fleet_ws_dropped_updates",
                                  "Updates dropped for slow WebSocket clients", ["kind"],
                                  registry=r)
        self.ws_closed_slow = Counter("fleet_ws_closed_slow",
                                      "WebSocket clients closed for staying stuck", registry=r)
        self.ingest_samples = Counter("fleet_ingest_samples", "Ingested samples by outcome",
                                      ["outcome"], registry=r)
        self.redis_up = Gauge("fleet_redis_up", "1 when Redis answers", registry=r)
        self.audit_failures = 0

    def observe(self, method: str, route: str, seconds: float) -> None:
        """Record one request's latency."""
        self.latency.labels(method, route).observe(seconds)

    def count_status(self, method: str, route: str, status: int) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()

    def render(self) -> bytes:
        """Return the Prometheus text exposition."""
        return generate_latest(self.registry)
