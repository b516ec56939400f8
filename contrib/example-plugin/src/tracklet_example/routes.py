"""A REST route this plugin adds to ``tracklet server``: the worked example of the
``tracklet_server_routes`` hook.

``GET /api/2.0/tracklet-example/experiments/summary?experiment_id=<id>`` answers
``{"experiment_id", "name", "runs", "active_runs"}``. The route is described with
:mod:`tracklet.routes` alone: the plugin never imports the server. The server checks
the field (a missing ``experiment_id`` is refused in MLflow's words), asks for READ on
the experiment when it runs with ``--auth``, runs the handler in its store thread pool
and answers a :class:`~tracklet.exceptions.TrackletException` as MLflow's error JSON.
"""

from __future__ import annotations

from typing import Any

from tracklet.entities import ViewType
from tracklet.routes import Field, Route, RoutePermission, RouteRequest

__all__ = ["SUMMARY_PATH", "experiment_summary", "routes"]

#: Where the route is served (a path of its own: a route may not take a built-in one).
SUMMARY_PATH = "/api/2.0/tracklet-example/experiments/summary"


def experiment_summary(request: RouteRequest) -> dict[str, Any]:
    """How many runs an experiment has, and how many are active (not deleted)."""
    store = request.tracking_store
    experiment_id = request.params["experiment_id"]
    experiment = store.get_experiment(experiment_id)  # RESOURCE_DOES_NOT_EXIST -> 404
    every = store.search_runs([experiment_id], "", ViewType.ALL, max_results=50_000)
    active = [run for run in every if run.info.lifecycle_stage == "active"]
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "runs": len(every),
        "active_runs": len(active),
    }


def routes() -> list[Route]:
    """The routes of this plugin."""
    return [
        Route(
            "example_experiment_summary",
            "GET",
            SUMMARY_PATH,
            experiment_summary,
            fields=(
                Field("experiment_id", "ExperimentId", required=True, doc="the experiment to summarise"),
            ),
            summary="How many runs an experiment has (tracklet-example).",
            permission=RoutePermission("experiment", "experiment_id", "READ"),
        )
    ]
