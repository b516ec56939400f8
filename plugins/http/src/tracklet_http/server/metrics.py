"""Prometheus metrics for ``/metrics``: requests counted and timed by endpoint and status.

* ``tracklet_http_requests_total{endpoint, status}`` — a counter;
* ``tracklet_http_request_duration_seconds{endpoint, status}`` — a histogram of the time
  from the request's arrival to the end of its answer.

``endpoint`` is the REST operation's name (``log_batch``, ``search_runs`` …) for the
tracking API, and a coarse family name for everything else (``artifacts``, ``auth``,
``health``, ``version``, ``metrics``, ``openapi``, ``not_found``), so a client cannot
grow the label set by requesting made-up paths.

With ``--workers N`` (N > 1) each worker is its own process; ``tracklet server`` then
sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temporary folder before the workers start,
every worker records into it and ``/metrics`` (answered by whichever worker) adds up
all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["MULTIPROC_ENV", "RequestMetrics", "endpoint_family"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_FAMILIES = (
    ("/api/2.0/mlflow-artifacts/", "artifacts"),
    ("/ajax-api/2.0/mlflow-artifacts/", "artifacts"),
    ("/api/2.0/mlflow/users", "auth"),
    ("/api/2.0/mlflow/experiments/permissions", "auth"),
    ("/ajax-api/2.0/mlflow/users", "auth"),
    ("/ajax-api/2.0/mlflow/experiments/permissions", "auth"),
)
_EXACT = {"/health": "health", "/version": "version", "/metrics": "metrics", "/openapi.json": "openapi"}


def endpoint_family(path: str) -> str:
    """The ``endpoint`` label of a path outside the tracking API's table."""
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    for prefix, family in _FAMILIES:
        if path.startswith(prefix):
            return family
    return "other"


class RequestMetrics:
    """The server's two metrics, in a registry of their own (several apps may live in one
    test process without clashing in prometheus_client's global registry)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self._requests = Counter(
            "tracklet_http_requests",
            "HTTP requests answered, by endpoint and status.",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "tracklet_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint and status.",
            ("endpoint", "status"),
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and record how long it took."""
        key = (endpoint, status)
        children = self._children.get(key)
        if children is None:
            labels = (endpoint, str(status))
            children = (self._requests.labels(*labels), self._duration.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type (all workers' sums in multiprocess mode)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
