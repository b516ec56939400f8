"""``tracklet server``'s own routes for copying into its store (``tracklet migrate`` with a
server as destination): the wire is :mod:`tracklet_http.imports_wire`'s.

They are served like the trace routes, as built-in :class:`tracklet.routes.Route` objects
(:mod:`tracklet_http.server.contributed`): fields checked by the same parser, Host, Origin
and Content-Type checked by the same middleware, handlers run in the store thread pool,
never on the event loop. With ``--auth``, only admins may import: an import writes what
the ordinary calls refuse (given ids, deleted objects, ended runs' times, changed params)
and may overwrite any experiment. Reading a run's histories needs READ on its experiment,
as ``metrics/get-history`` does.
"""

from __future__ import annotations

from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, PERMISSION_DENIED, TrackletException
from tracklet.routes import Field, Route, RoutePermission
from tracklet_http import imports_wire as w

__all__ = ["import_routes"]


def _require_admin(request: Any, what: str) -> None:
    authorizer = getattr(request, "authorizer", None)
    username = getattr(request, "username", None)
    if authorizer is None or username is None:
        return
    if not authorizer.caller(username).is_admin:
        raise TrackletException(
            f"Permission denied: only admins may call {what} (an import may overwrite any "
            f"experiment or run); user '{username}' is not an admin. Ask an admin to run "
            "`tracklet migrate`, or to make you one.",
            PERMISSION_DENIED,
        )


def import_experiment(request: Any) -> dict[str, Any]:
    _require_admin(request, "experiments/import")
    experiment = w.experiment_from_wire(request.params["experiment"])
    request.tracking_store.import_experiment(experiment)
    return {}


def import_run(request: Any) -> dict[str, Any]:
    _require_admin(request, "runs/import")
    request.tracking_store.import_run(w.run_from_wire(request.params["run"]))
    return {}


def import_metric_history(request: Any) -> dict[str, Any]:
    """One chunk of a history (see the offset rule in :mod:`tracklet_http.imports_wire`)."""
    _require_admin(request, "metrics/import-history")
    params = request.params
    run_id, key = params["run_id"], params["key"]
    offset = params.get("offset") or 0
    points = params.get("metrics") or []
    store = request.tracking_store
    if offset < 0:
        raise TrackletException(
            f"Invalid value {offset} for 'offset': it must be 0 or more.", INVALID_PARAMETER_VALUE
        )
    if offset:
        stored = list(store.get_metric_history(run_id, key))
        # A store that keeps exact repeats once (capability idempotent_metrics) may hold
        # fewer points than were sent; elsewhere fewer means a chunk went missing.
        if len(stored) < offset and "idempotent_metrics" not in store.capabilities:
            raise TrackletException(
                f"Cannot import points {offset}+ of metric '{key}' of run {run_id}: only "
                f"{len(stored)} are stored, so a chunk is missing. Send the history again from "
                "offset 0.",
                INVALID_PARAMETER_VALUE,
            )
        points = stored[:offset] + points
    store.import_metric_history(run_id, key, points)
    return {}


def get_metric_histories(request: Any) -> dict[str, Any]:
    run_id = request.params["run_id"]
    return w.histories_to_wire(request.tracking_store.get_metric_histories(run_id))


def import_routes() -> list[Route]:
    """The four routes, at ``/api/2.0/tracklet/…``."""
    paths = w.PATHS
    return [
        Route(
            "import_experiment",
            "POST",
            paths["import_experiment"],
            import_experiment,
            (Field("experiment", "object", required=True, doc="an Experiment, every field kept"),),
            summary="Create or overwrite an experiment with its id, times, stage and tags (admins).",
        ),
        Route(
            "import_run",
            "POST",
            paths["import_run"],
            import_run,
            (Field("run", "object", required=True, doc="a Run: info, data.params, data.tags, inputs"),),
            summary="Create or overwrite a run with its id and info; params, tags, inputs replaced (admins).",
        ),
        Route(
            "import_metric_history",
            "POST",
            paths["import_metric_history"],
            import_metric_history,
            (
                Field("run_id", "RunId", required=True),
                Field("key", required=True),
                Field("metrics", "Metric", repeated=True, doc="the points, in order"),
                Field("offset", "int64", doc="place of the first point in the history; 0 replaces it"),
            ),
            summary="Replace a metric history, or its points from offset on (admins).",
        ),
        Route(
            "get_metric_histories",
            "GET",
            paths["get_metric_histories"],
            get_metric_histories,
            (Field("run_id", "RunId", required=True),),
            summary="Every metric history of a run, key by key.",
            permission=RoutePermission("run", "run_id", "READ"),
        ),
    ]
