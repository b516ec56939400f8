"""RestStore: a tracking store that is a tracking server, over MLflow's REST API 2.0.

Serves ``http://`` and ``https://`` tracking URIs. It talks to ``tracklet server`` and
to MLflow's own ``mlflow server`` alike: every call is one request of
:data:`tracklet_http.protocol.ENDPOINTS`, encoded and decoded by the same functions the
server uses. Connections are pooled and kept alive; credentials, TLS, timeouts and
retries are :class:`~tracklet_http.transport.HttpTransport`'s (its docstring lists the
environment variables). It writes the primitives of
:class:`~tracklet.stores.TrackingStore`, so arguments are checked here, with the
server's own rules, before a request is sent (JSON would blur a wrong type into a right
one: 1 -> "1"); what depends on stored state the server refuses, and its
``{"error_code", "message"}`` is raised as a :class:`~tracklet.exceptions.RestException`
carrying that code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import TrackingStore
from tracklet_http import protocol as p
from tracklet_http.client_imports import RestImports
from tracklet_http.client_traces import RestTraceStore
from tracklet_http.transport import HttpTransport

__all__ = ["RestStore"]

#: Page size used when the caller asks for a whole metric history.
HISTORY_PAGE = 25_000


class RestStore(RestImports, RestTraceStore, TrackingStore):
    """The tracking store behind the server at ``store_uri`` (``http(s)://host:port[/prefix]``).

    ``artifact_uri`` is ignored: the server decides where artifacts go. Traces go
    through MLflow 3's trace endpoints and the server's OTLP receiver
    (:class:`~tracklet_http.client_traces.RestTraceStore`); copies (capability ``import``)
    through tracklet server's own routes (:class:`~tracklet_http.client_imports.RestImports`),
    which MLflow's server refuses with ``NOT_IMPLEMENTED``.
    """

    #: What any tracking server offers. ``idempotent_metrics`` depends on the server's
    #: backend, so it is not declared here (a caller that knows may set it per instance).
    #: ``import`` is declared though only ``tracklet server`` has the routes: against
    #: MLflow's server the first import call is refused with ``NOT_IMPLEMENTED``, naming
    #: the alternative.
    capabilities: ClassVar[frozenset[str]] = frozenset({"datasets", "concurrent_processes", "import"})

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        if not store_uri:
            raise TrackletException("RestStore needs the tracking server's URL, e.g. http://localhost:5000.")
        super().__init__(store_uri, artifact_uri)
        self.transport = HttpTransport(store_uri)

    def _call(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        endpoint = p.ENDPOINTS_BY_NAME[name]
        return self.transport.call_json(endpoint.method, endpoint.url_path, payload, endpoint.idempotent)

    # -- experiments -------------------------------------------------------------------------

    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: list[ExperimentTag | RunTag]
    ) -> str:
        payload: dict[str, Any] = {"name": name}
        if artifact_location:
            payload["artifact_location"] = artifact_location
        if tags:
            payload["tags"] = [p.kv_to_request(t) for t in tags]
        return str(self._call("create_experiment", payload)["experiment_id"])

    def _get_experiment(self, experiment_id: str) -> Experiment:
        answer = self._call("get_experiment", {"experiment_id": experiment_id})
        return p.experiment_from_json(answer["experiment"])

    def _get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        try:
            answer = self._call("get_experiment_by_name", {"experiment_name": experiment_name})
        except TrackletException as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            raise
        return p.experiment_from_json(answer["experiment"])

    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Experiment]:
        payload = _search_payload(filter_string, order_by, page_token)
        payload.update(view_type=ViewType.to_string(view_type).upper(), max_results=max_results)
        answer = self._call("search_experiments", payload)
        experiments = [p.experiment_from_json(e) for e in answer.get("experiments") or []]
        return PagedList(experiments, answer.get("next_page_token") or None)

    def _delete_experiment(self, experiment_id: str) -> None:
        self._call("delete_experiment", {"experiment_id": experiment_id})

    def _restore_experiment(self, experiment_id: str) -> None:
        self._call("restore_experiment", {"experiment_id": experiment_id})

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call("update_experiment", {"experiment_id": experiment_id, "new_name": new_name})

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        self._call("set_experiment_tag", {"experiment_id": experiment_id, "key": tag.key, "value": tag.value})

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call("delete_experiment_tag", {"experiment_id": experiment_id, "key": key})

    # -- runs --------------------------------------------------------------------------------

    def _create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag],
        run_name: str,
    ) -> Run:
        payload: dict[str, Any] = {"experiment_id": experiment_id}
        if user_id:
            payload["user_id"] = user_id
        if start_time is not None:
            payload["start_time"] = start_time
        if run_name:
            payload["run_name"] = run_name
        if tags:
            payload["tags"] = [p.kv_to_request(t) for t in tags]
        return p.run_from_json(self._call("create_run", payload)["run"])

    def _get_run(self, run_id: str) -> Run:
        return p.run_from_json(self._call("get_run", {"run_id": run_id})["run"])

    def _update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        # run_uuid too: servers older than MLflow 1.x's run_id field read only that one.
        payload: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if run_status is not None:
            payload["status"] = run_status
        if end_time is not None:
            payload["end_time"] = end_time
        if run_name is not None:
            payload["run_name"] = run_name
        return p.run_info_from_json(self._call("update_run", payload)["run_info"])

    def _delete_run(self, run_id: str) -> None:
        self._call("delete_run", {"run_id": run_id})

    def _restore_run(self, run_id: str) -> None:
        self._call("restore_run", {"run_id": run_id})

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        payload: dict[str, Any] = {"run_id": run_id}
        if metrics:
            payload["metrics"] = [p.metric_to_request(m) for m in metrics]
        if params:
            payload["params"] = [p.kv_to_request(x) for x in params]
        if tags:
            payload["tags"] = [p.kv_to_request(t) for t in tags]
        self._call("log_batch", payload)

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        self._call("log_metric", {"run_id": run_id, **p.metric_to_request(metric)})

    def _log_param(self, run_id: str, param: Param) -> None:
        self._call("log_param", {"run_id": run_id, "key": param.key, "value": param.value})

    def _set_tag(self, run_id: str, tag: RunTag) -> None:
        self._call("set_tag", {"run_id": run_id, "key": tag.key, "value": tag.value})

    def _delete_tag(self, run_id: str, key: str) -> None:
        self._call("delete_tag", {"run_id": run_id, "key": key})

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None:
        payload: dict[str, Any] = {"run_id": run_id}
        if datasets:
            payload["datasets"] = [p.dataset_input_to_json(d) for d in datasets]
        self._call("log_inputs", payload)

    # -- reading -----------------------------------------------------------------------------

    def _get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        """One page when ``max_results`` or ``page_token`` is given; else every page."""
        if max_results is not None or page_token is not None:
            return self._history_page(run_id, metric_key, max_results, page_token)
        out: list[Metric] = []
        token: str | None = None
        while True:
            page = self._history_page(run_id, metric_key, HISTORY_PAGE, token)
            out.extend(page)
            token = page.token
            if not token:
                return PagedList(out, None)

    def _history_page(
        self, run_id: str, key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        query: dict[str, Any] = {"run_id": run_id, "metric_key": key}
        if max_results is not None:
            query["max_results"] = max_results
        if page_token:
            query["page_token"] = page_token
        answer = self._call("get_metric_history", query)
        metrics = [p.metric_json_to_entity(m) for m in answer.get("metrics") or []]
        return PagedList(metrics, answer.get("next_page_token") or None)

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        run_view_type: int,
        max_results: int,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Run]:
        payload = _search_payload(filter_string, order_by, page_token)
        payload.update(
            experiment_ids=experiment_ids,
            run_view_type=ViewType.to_string(run_view_type).upper(),
            max_results=max_results,
        )
        answer = self._call("search_runs", payload)
        runs = [p.run_from_json(r) for r in answer.get("runs") or []]
        return PagedList(runs, answer.get("next_page_token") or None)


def _search_payload(
    filter_string: str | None, order_by: Sequence[str] | None, page_token: str | None
) -> dict[str, Any]:
    """The fields both searches share, each left out when empty (as MLflow's client does)."""
    payload: dict[str, Any] = {}
    if filter_string:
        payload["filter"] = filter_string
    if order_by:
        payload["order_by"] = list(order_by)
    if page_token:
        payload["page_token"] = page_token
    return payload
