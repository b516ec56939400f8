"""The copy primitives of :class:`~tracklet_http.client.RestStore` (capability ``import``),
through ``tracklet server``'s own routes (:mod:`tracklet_http.imports_wire`).

MLflow's server has no such routes. Its answer to them (404 or 405, an HTML page or
``ENDPOINT_NOT_FOUND``) becomes ``NOT_IMPLEMENTED`` naming what to do instead: migrate
into that server's backend database. Reading every history of a run falls back on
MLflow's own API there (one ``metrics/get-history`` per key), so such a server can be
the source of a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracklet.entities import Experiment, Metric, Run
from tracklet.exceptions import (
    ENDPOINT_NOT_FOUND,
    NOT_IMPLEMENTED,
    RestException,
    TrackletException,
)
from tracklet_http import imports_wire as w
from tracklet_http.transport import HttpTransport, redacted

__all__ = ["RestImports", "not_a_tracklet_server"]


def _route_missing(exc: TrackletException) -> bool:
    """Whether ``exc`` says the server has no such route (rather than refusing the call)."""
    if exc.error_code == ENDPOINT_NOT_FOUND:
        return True
    # a non-JSON 404/405 (MLflow's Flask page) is not a refusal naming a missing run
    return getattr(exc, "http_status", None) in (404, 405) and not isinstance(exc, RestException)


def not_a_tracklet_server(url: str) -> TrackletException:
    """The refusal of an import into a server without tracklet's import routes."""
    return TrackletException(
        f"The tracking server at {redacted(url)} does not accept imports (MLflow's server has no "
        "such API): migrate into its backend database URI instead, e.g. `tracklet migrate SRC "
        "postgresql://user@host/db` (or sqlite:///path/to/mlflow.db), while the server is stopped "
        "or idle.",
        NOT_IMPLEMENTED,
    )


class RestImports:
    """Mixin: ``_import_*`` and ``_get_metric_histories`` over HTTP."""

    transport: HttpTransport
    #: None until known: whether the server answers ``get-histories``.
    _has_histories_route: bool | None = None

    def _import_call(self, name: str, payload: dict[str, Any], idempotent: bool = True) -> dict[str, Any]:
        try:
            return self.transport.call_json("POST", w.PATHS[name], payload, idempotent)
        except TrackletException as exc:
            if _route_missing(exc):
                raise not_a_tracklet_server(self.transport.base_url) from None
            raise

    def _import_experiment(self, experiment: Experiment, experiment_id: str) -> None:
        self._import_call("import_experiment", {"experiment": w.experiment_to_wire(experiment)})

    def _import_run(self, run: Run) -> None:
        self._import_call("import_run", {"run": w.run_to_wire(run)})

    def _import_metric_history(self, run_id: str, key: str, metrics: list[Metric]) -> None:
        from tracklet_http.protocol import metric_to_request

        for offset, chunk in w.chunks(metrics):
            payload: dict[str, Any] = {"run_id": run_id, "key": key, "offset": offset}
            if chunk:
                payload["metrics"] = [metric_to_request(m) for m in chunk]
            # A later chunk is not retried after an unknown outcome: if the server took it,
            # sending it again is harmless only when the store keeps the order it was given
            # (see imports_wire); the copy starts the history again from offset 0 instead.
            self._import_call("import_metric_history", payload, idempotent=offset == 0)

    def _get_metric_histories(self, run_id: str) -> dict[str, list[Metric]]:
        if self._has_histories_route is not False:
            try:
                answer = self.transport.call_json("GET", w.PATHS["get_metric_histories"], {"run_id": run_id})
            except TrackletException as exc:
                if not _route_missing(exc):
                    raise
                self._has_histories_route = False
            else:
                self._has_histories_route = True
                return w.histories_from_wire(answer, run_id)
        return self._histories_one_by_one(run_id)

    def _histories_one_by_one(self, run_id: str) -> dict[str, list[Metric]]:
        """MLflow's server: one ``metrics/get-history`` per key of the run."""
        run: Run = self._get_run(run_id)  # type: ignore[attr-defined]
        out: dict[str, list[Metric]] = {}
        for key in sorted(run.data.metrics):
            points: Sequence[Metric] = self._get_metric_history(run_id, key, None, None)  # type: ignore[attr-defined]
            out[key] = [Metric(m.key, m.value, m.timestamp, m.step, run_id=run_id) for m in points]
        return out
