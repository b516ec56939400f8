"""One function per REST endpoint: checked request fields in, MLflow's response JSON out.

Each handler takes the :class:`ServerState` (the process's store and settings), the
fields :func:`tracklet_http.protocol.parse_request` returned and a :class:`Call` (the
caller's user name with ``--auth``), calls the tracking store and returns the response as a dict
shaped as MLflow's server answers it (empty lists and unset fields left out, as proto3
JSON does). Handlers are plain blocking functions: the app runs every one of them, with
its store call, in a store thread, never on the event loop
(:func:`tracklet_http.server.app._store_executors`). ``artifacts/list`` is the only handler
that reads artifacts, and only where the operator pointed the server
(:mod:`tracklet_http.server.locations`): never a location a client chose.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracklet.entities import FileInfo, Metric, Param, RunTag, ViewType
from tracklet.entities.wire import any_model_id, metrics_within
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.search import parse_filter, parse_order_by
from tracklet.stores.tracking import TrackingStore
from tracklet.uri import append_to_uri_path, get_scheme
from tracklet.validation import (
    MAX_ARTIFACT_PATH_DEPTH,
    MAX_ARTIFACT_PATH_LENGTH,
    SEARCH_MAX_RESULTS_DEFAULT,
    validate_artifact_path,
    validate_max_results,
)
from tracklet_http import protocol as p
from tracklet_http.protocol import ARTIFACTS_PREFIX, Endpoint
from tracklet_http.server.locations import check_readable_location
from tracklet_http.server.sampling import sample_bulk_interval, sample_by_steps
from tracklet_http.server.settings import ServerSettings

__all__ = [
    "HANDLERS",
    "MAX_RESULTS_PER_RUN",
    "MAX_RUNS_BULK",
    "Call",
    "ServerState",
    "check_ranges",
    "proxied_artifact_path",
    "sample_bulk_interval",
]

#: MLflow's limits for ``metrics/get-history-bulk-interval`` (and ``get-history-bulk``).
MAX_RUNS_BULK = 100
MAX_RESULTS_PER_RUN = 2500
#: Most values ``metrics/get-history-bulk`` returns (MLflow's cap).
MAX_HISTORY_BULK = 25000
#: Most experiments one ``experiments/search-datasets`` call may name (MLflow's limit).
MAX_EXPERIMENTS_DATASETS = 20
#: What ``runs/search`` returns when ``max_results`` is absent (MLflow's proto default).
SEARCH_RUNS_DEFAULT = 1000

_INT_BOUNDS = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}


@dataclass
class ServerState:
    """What every handler may use: the settings, the store and the authorizer."""

    settings: ServerSettings
    store: TrackingStore
    authorizer: Any = None
    _model_links: Any = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def logged_model_store(self) -> Any:
        """The logged-model store of the backend store (a registry plugin's
        :class:`tracklet.stores.registry.LoggedModelStore`), which keeps the links between
        runs and logged models; None when no installed plugin serves one (those links are
        then dropped, as before)."""
        if self._model_links is None:
            self._model_links = _build_logged_model_store(str(self.settings.backend_store_uri))
        return self._model_links or None


def _build_logged_model_store(uri: str) -> Any:
    from tracklet.exceptions import FEATURE_DISABLED
    from tracklet.plugins import get_registry_store
    from tracklet.stores.registry import LoggedModelStore

    try:
        store = get_registry_store(uri, tracking_uri=uri)
    except TrackletException as error:
        if error.error_code == FEATURE_DISABLED:
            return False
        raise
    return store if isinstance(store, LoggedModelStore) else False


class Call:
    """One request as a handler sees it beyond its fields: the caller's user name (None
    without ``--auth``), and ``result``, where the handler leaves the store method's
    return value for the authorizer's ``after`` hook."""

    __slots__ = ("result", "user")

    def __init__(self, user: str | None = None) -> None:
        self.user = user
        self.result: Any = None


Handler = Callable[[ServerState, dict[str, Any], Call], dict[str, Any]]


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


# -- range checks the wire format cannot express --------------------------------------------------


def _check_int(value: int, name: str, kind: str) -> None:
    low, high = _INT_BOUNDS[kind]
    if not low <= value <= high:
        raise _bad(
            f"Invalid value {value} for parameter '{name}' supplied: it must fit in a "
            f"{kind} ({low} to {high})."
        )


#: Searches whose filter and order-by are parsed (and their size limits checked) with the
#: request's fields, before authorization and any store work.
_SEARCH_KINDS = {"search_runs": "run", "search_experiments": "experiment"}


def check_ranges(endpoint: Endpoint, params: dict[str, Any]) -> None:
    """Refuse integers that do not fit their 64/32-bit field (a database would fail on
    them with an internal error instead), including each metric's timestamp and step;
    and a search over the core's limits (:mod:`tracklet.search`'s ``MAX_*``, MLflow's
    ``max_results`` of 50,000) or with a bad filter or order-by."""
    for f in endpoint.request:
        value = params.get(f.name)
        if value is None:
            continue
        if f.type in _INT_BOUNDS:
            for v in value if f.repeated else (value,):
                _check_int(v, f.name, f.type)
        elif f.type == "Metric":
            low, high = _INT_BOUNDS["int64"]
            if metrics_within(value, low, high):  # one pass over the slots, in C
                continue
            for m in value:
                timestamp, step = m.timestamp, m.step
                if not (low <= timestamp <= high and low <= step <= high):
                    _check_int(timestamp, f"{f.name}.timestamp", "int64")
                    _check_int(step, f"{f.name}.step", "int64")
    kind = _SEARCH_KINDS.get(endpoint.name)
    if kind is not None:
        validate_max_results(params.get("max_results"))
        parse_filter(params.get("filter") or None, kind)  # type: ignore[arg-type]
        parse_order_by(params.get("order_by") or None, kind)  # type: ignore[arg-type]


# -- small helpers ----------------------------------------------------------------------------------


def _page(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if items:
        out[key] = items
    if token:
        out["next_page_token"] = token
    return out


def _visible(state: ServerState, call: Call) -> set[str] | None:
    if state.authorizer is None or call.user is None:
        return None
    visible = state.authorizer.visible_experiment_ids(call.user)
    return None if visible is None else {str(e) for e in visible}


# -- experiments ------------------------------------------------------------------------------------


def create_experiment(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    experiment_id = state.store.create_experiment(
        a["name"], a.get("artifact_location") or None, a.get("tags")
    )
    call.result = experiment_id
    return {"experiment_id": str(experiment_id)}


def search_experiments(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    page = state.store.search_experiments(
        a.get("view_type", ViewType.ACTIVE_ONLY),
        a.get("max_results", SEARCH_MAX_RESULTS_DEFAULT),
        a.get("filter") or None,
        a.get("order_by") or None,
        a.get("page_token") or None,
    )
    visible = _visible(state, call)
    experiments = page if visible is None else [e for e in page if e.experiment_id in visible]
    return _page("experiments", [p.experiment_to_json(e) for e in experiments], page.token)


def get_experiment(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"experiment": p.experiment_to_json(state.store.get_experiment(a["experiment_id"]))}


def get_experiment_by_name(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    name = a["experiment_name"]
    experiment = state.store.get_experiment_by_name(name)
    if experiment is None:
        raise TrackletException(f"Could not find experiment with name '{name}'", RESOURCE_DOES_NOT_EXIST)
    return {"experiment": p.experiment_to_json(experiment)}


def delete_experiment(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.delete_experiment(a["experiment_id"])
    return {}


def restore_experiment(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.restore_experiment(a["experiment_id"])
    return {}


def update_experiment(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.rename_experiment(a["experiment_id"], a["new_name"])
    return {}


def set_experiment_tag(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    from tracklet.entities import ExperimentTag

    state.store.set_experiment_tag(a["experiment_id"], ExperimentTag(a["key"], a["value"]))
    return {}


def delete_experiment_tag(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.delete_experiment_tag(a["experiment_id"], a["key"])
    return {}


def search_datasets(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    experiment_ids = list(dict.fromkeys(a.get("experiment_ids") or []))
    if not experiment_ids:
        raise _bad("SearchDatasets request must specify at least one experiment_id.")
    if len(experiment_ids) > MAX_EXPERIMENTS_DATASETS:
        raise _bad(
            f"SearchDatasets request cannot specify more than {MAX_EXPERIMENTS_DATASETS} experiment_ids. "
            f"Received {len(experiment_ids)} experiment_ids."
        )
    summaries = []
    for s in state.store.search_datasets(experiment_ids):
        summary = {"experiment_id": str(s.experiment_id), "name": s.name, "digest": s.digest}
        if s.context:
            summary["context"] = s.context
        summaries.append(summary)
    return _page("dataset_summaries", summaries, None)


# -- runs -------------------------------------------------------------------------------------------


def create_run(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    run = state.store.create_run(
        a.get("experiment_id") or "0",
        a.get("user_id") or call.user or "",
        a.get("start_time"),
        a.get("tags") or [],
        a.get("run_name") or None,
    )
    call.result = run
    return {"run": p.run_to_json(run)}


def update_run(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    info = call.result = state.store.update_run_info(
        a["run_id"], a.get("status"), a.get("end_time"), a.get("run_name")
    )
    return {"run_info": p.run_info_to_json(info)}


def delete_run(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.delete_run(a["run_id"])
    return {}


def restore_run(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.restore_run(a["run_id"])
    return {}


def get_run(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    run = state.store.get_run(a["run_id"])
    links = state.logged_model_store()
    if links is not None:
        run = links.with_run_model_links(run)
    return {"run": p.run_to_json(run)}


def _check_model_metrics(state: ServerState, metrics: list[Metric]) -> Any:
    """The store keeping logged models if a metric names one (None otherwise), after checking
    each named model exists, so an unknown model is refused before anything is written."""
    if not any_model_id(metrics):
        return None
    links = state.logged_model_store()
    if links is not None:
        links.require_logged_models(metrics)
    return links


def _log_model_metrics(links: Any, run_id: str, metrics: list[Metric]) -> None:
    """Metrics logged with a model_id are also that logged model's (MLflow 3)."""
    if links is not None:
        links.log_logged_model_metrics(run_id, [m for m in metrics if m.model_id])


def log_metric(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    step = a.get("step", 0)
    _check_int(a["timestamp"], "timestamp", "int64")
    _check_int(step, "step", "int64")
    metric = Metric(
        a["key"],
        a["value"],
        a["timestamp"],
        step,
        model_id=a.get("model_id") or None,
        dataset_name=a.get("dataset_name"),
        dataset_digest=a.get("dataset_digest"),
    )
    links = _check_model_metrics(state, [metric])
    state.store.log_metric(a["run_id"], metric)
    _log_model_metrics(links, a["run_id"], [metric])
    return {}


def log_param(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.log_param(a["run_id"], Param(a["key"], a["value"]))
    return {}


def set_tag(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.set_tag(a["run_id"], RunTag(a["key"], a["value"]))
    return {}


def delete_tag(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.delete_tag(a["run_id"], a["key"])
    return {}


def log_batch(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    metrics = a.get("metrics") or []
    links = _check_model_metrics(state, metrics)
    state.store.log_batch(a["run_id"], metrics, a.get("params") or [], a.get("tags") or [])
    _log_model_metrics(links, a["run_id"], metrics)
    return {}


def log_inputs(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    state.store.log_inputs(a["run_id"], a.get("datasets") or [])
    models = a.get("models") or []
    links = state.logged_model_store() if models else None
    if links is not None:
        from tracklet.entities import LoggedModelInput

        links.log_model_inputs(a["run_id"], [LoggedModelInput(str(m.get("model_id") or "")) for m in models])
    return {}


def search_runs(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    experiment_ids = a.get("experiment_ids") or []
    visible = _visible(state, call)
    if visible is not None:
        experiment_ids = [e for e in experiment_ids if e in visible]
    if not experiment_ids:
        # MLflow's answer to a search over no experiments: no runs (not an error).
        return {}
    page = state.store.search_runs(
        experiment_ids,
        a.get("filter") or "",
        a.get("run_view_type", ViewType.ACTIVE_ONLY),
        a.get("max_results", SEARCH_RUNS_DEFAULT),
        a.get("order_by") or None,
        a.get("page_token") or None,
    )
    return _page("runs", p.runs_to_json(page), page.token)


# -- metrics ----------------------------------------------------------------------------------------


def get_metric_history(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    max_results = a.get("max_results")
    if max_results is not None and max_results <= 0:
        raise _bad(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer."
        )
    page = state.store.get_metric_history(
        a["run_id"], a["metric_key"], max_results=max_results, page_token=a.get("page_token") or None
    )
    return _page("metrics", p.metrics_to_json(page), page.token)


def get_metric_history_bulk(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    """MLflow's UI endpoint: every value of one metric of up to 100 runs, by run id, then
    timestamp, step and value, at most ``max_results`` (25,000) in all."""
    run_ids = sorted(set(a.get("run_id") or []))
    if not run_ids:
        raise _bad("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_RUNS_BULK:
        raise _bad(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_RUNS_BULK} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    if a.get("metric_key") is None:
        raise _bad("GetMetricHistoryBulk request must specify a metric_key.")
    max_results = min(a.get("max_results", MAX_HISTORY_BULK), MAX_HISTORY_BULK)
    points = state.store.get_metric_history_bulk(run_ids, a["metric_key"])
    points = sorted(points, key=lambda m: (m.run_id or "", m.timestamp, m.step, m.value))
    return _page(
        "metrics", [p.metric_to_json(m, with_run_id=True) for m in points[: max(max_results, 0)]], None
    )


def get_metric_history_bulk_interval(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    run_ids = list(dict.fromkeys(a["run_ids"]))
    if len(run_ids) > MAX_RUNS_BULK:
        raise _bad(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_BULK} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    max_results = a.get("max_results", MAX_RESULTS_PER_RUN)
    if not 1 <= max_results <= MAX_RESULTS_PER_RUN:
        raise _bad(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    start, end = a.get("start_step"), a.get("end_step")
    if (start is None) != (end is None):
        raise _bad("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise _bad(f"end_step must be greater than start_step. Found start_step={start} and end_step={end}.")
    points = state.store.get_metric_history_bulk(run_ids, a["metric_key"])
    # MLflow samples a folder store's history by shared steps, a database's run by run
    folder = get_scheme(state.settings.backend_store_uri) in ("", "file")
    sampled = (sample_by_steps if folder else sample_bulk_interval)(points, run_ids, start, end, max_results)
    return _page("metrics", [p.metric_to_json(m, with_run_id=True) for m in sampled], None)


# -- artifacts --------------------------------------------------------------------------------------


def proxied_artifact_path(artifact_uri: str) -> str | None:
    """The path under the proxy's destination that a proxied artifact URI names, or None
    when the URI is not served by a proxy.

    ``mlflow-artifacts:/1/abc/artifacts`` and ``mlflow-artifacts://host:5000/1/abc/artifacts``
    -> ``1/abc/artifacts``; ``http(s)://host/…/api/2.0/mlflow-artifacts/artifacts/1/abc`` ->
    ``1/abc``. The path is checked: it may not climb out of the destination.
    """
    scheme = get_scheme(artifact_uri)
    parsed = urllib.parse.urlparse(artifact_uri)
    if scheme == "mlflow-artifacts":
        rel = parsed.path
    elif scheme in ("http", "https"):
        marker = ARTIFACTS_PREFIX + "/artifacts"
        at = parsed.path.find(marker)
        if at < 0:
            return None
        rel = parsed.path[at + len(marker) :]
    else:
        return None
    return validate_artifact_path(rel.strip("/"))


def _listing_repository(state: ServerState, root: str) -> Any:
    """The repository ``artifacts/list`` reads a run's artifacts from: the proxy's
    destination for a proxied URI, else the run's own location when it lies under an
    artifact root the operator configured (see :mod:`tracklet_http.server.locations`)."""
    from tracklet.plugins import get_artifact_repository

    settings = state.settings
    proxied = proxied_artifact_path(root) if settings.serve_artifacts else None
    if proxied is not None:
        destination = settings.artifacts_destination
        return get_artifact_repository(append_to_uri_path(destination, proxied) if proxied else destination)
    check_readable_location(root, (settings.default_artifact_root,))
    return get_artifact_repository(root)


def run_artifact_path(raw: str | None) -> str | None:
    """A path inside a run's artifacts from a request (None for the root); anything that
    would leave them gets MLflow's answer, ``Invalid path`` (clients match on it). A path
    over tracklet's own size limits keeps the message naming the limit."""
    if raw is not None and (len(raw) > MAX_ARTIFACT_PATH_LENGTH or raw.count("/") >= MAX_ARTIFACT_PATH_DEPTH):
        return validate_artifact_path(raw) or None  # raises, naming the limit
    try:
        return validate_artifact_path(raw) or None
    except TrackletException:
        raise _bad("Invalid path") from None


def list_artifacts(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    path = run_artifact_path(a.get("path"))
    run = state.store.get_run(a["run_id"])
    root = run.info.artifact_uri or ""
    files: list[FileInfo] = _listing_repository(state, root).list_artifacts(path)
    out: dict[str, Any] = {"root_uri": root}
    if files:
        out["files"] = [p.file_info_to_json(f) for f in files]
    return out


def search_logged_models(state: ServerState, a: dict[str, Any], call: Call) -> dict[str, Any]:
    # tracklet keeps no MLflow 3 logged models: an empty page, not an error, so MLflow 3's
    # client (which asks on every run page) keeps working.
    return {"models": []}


#: Endpoint name -> handler; an endpoint in the protocol without a handler here fails at
#: import (KeyError), not at the first request.
HANDLERS: dict[str, Handler] = {name: globals()[name] for name in p.ENDPOINTS_BY_NAME}
