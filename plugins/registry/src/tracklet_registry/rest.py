"""RestRegistryStore: a model registry (and logged-model store) that is a tracking server.

Serves ``http://`` and ``https://`` registry URIs, against ``tracklet server`` and MLflow's
own ``mlflow server`` alike, over MLflow's REST endpoints
(``/api/2.0/mlflow/registered-models/…``, ``/model-versions/…``, ``/logged-models…``).
Every call goes through the one transport every tracklet client shares
(:func:`tracklet.plugins.http_transport`: retries, credentials, TLS, plugin headers, fork
safety), so tracking and registry calls to a server behave alike; the JSON is read and
written by :mod:`tracklet_registry.server.wire`, the same functions the server uses.
Arguments are checked by :class:`~tracklet.stores.registry.RegistryStore`'s public
methods before a request is sent; what depends on stored state the server refuses, and
its error code comes back as the :class:`~tracklet.exceptions.TrackletException` raised.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tracklet.entities import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    PagedList,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.plugins import http_transport
from tracklet.search import filter_logged_models, filter_model_versions, filter_registered_models
from tracklet.stores.registry import LoggedModelStore, RegistryStore
from tracklet_registry.rest_imports import RestRegistryImports
from tracklet_registry.server import wire

__all__ = ["RestRegistryStore"]

_API = "/api/2.0/mlflow"


def _grammar_refused(error: TrackletException, filter_string: str | None, page_token: str | None) -> bool:
    """Whether a server refused a search tracklet's grammar accepts: an MLflow server has no
    ``OR`` nor parentheses (and cannot read the page tokens of a search filtered here).
    The store then fetches every item and filters, orders and pages them itself."""
    return error.error_code == INVALID_PARAMETER_VALUE and bool(filter_string or page_token)


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


class RestRegistryStore(RestRegistryImports, RegistryStore, LoggedModelStore):
    """The registry (and logged models) of the tracking server at ``store_uri``
    (``http(s)://host:port[/prefix]``)."""

    #: Logged models are kept by any MLflow 3 server; version creation is serialised by
    #: the server's own store; imports go through tracklet server's own routes (MLflow's
    #: server refuses them with ``NOT_IMPLEMENTED``, see :mod:`.rest_imports`).
    capabilities: ClassVar[frozenset[str]] = frozenset({"logged_models", "concurrent_versions", "import"})

    def __init__(self, store_uri: str | None = None) -> None:
        if not store_uri:
            raise TrackletException(
                "RestRegistryStore needs the tracking server's URL, e.g. http://localhost:5000."
            )
        super().__init__(store_uri)
        self.transport = http_transport(store_uri)

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        query: list[tuple[str, Any]] = []
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                query.extend((key, item) for item in value)
            else:
                query.append((key, value))
        return self.transport.call("GET", _API + path, params=query)

    def _send(self, method: str, path: str, body: dict[str, Any], idempotent: bool = True) -> dict[str, Any]:
        return self.transport.call(method, _API + path, json=_drop_none(body), idempotent=idempotent)

    # -- registered models -----------------------------------------------------------------

    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "deployment_job_id": deployment_job_id,
        }
        if tags:
            body["tags"] = [{"key": t.key, "value": t.value} for t in tags]
        # not idempotent: a retry after a lost answer would fail with "already exists"
        answer = self._send("POST", "/registered-models/create", body, idempotent=False)
        return wire.registered_model_from_json(answer["registered_model"])

    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        body = {"name": name, "description": description, "deployment_job_id": deployment_job_id}
        answer = self._send("PATCH", "/registered-models/update", body)
        return wire.registered_model_from_json(answer["registered_model"])

    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        answer = self._send("POST", "/registered-models/rename", {"name": name, "new_name": new_name}, False)
        return wire.registered_model_from_json(answer["registered_model"])

    def _delete_registered_model(self, name: str) -> None:
        self._send("DELETE", "/registered-models/delete", {"name": name}, idempotent=False)

    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        query = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": order_by,
            "page_token": page_token,
        }
        try:
            answer = self._get("/registered-models/search", query)
        except TrackletException as e:
            if not _grammar_refused(e, filter_string, page_token):
                raise
            # an MLflow server without tracklet's OR and parentheses: filter here
            every = self._every("/registered-models/search", "registered_models", 1000)
            return filter_registered_models(
                [wire.registered_model_from_json(d) for d in every],
                filter_string,
                order_by,
                max_results,
                page_token,
            )
        models = [wire.registered_model_from_json(d) for d in answer.get("registered_models", [])]
        return PagedList(models, answer.get("next_page_token") or None)

    def _every(self, path: str, key: str, page_size: int) -> list[dict[str, Any]]:
        """Every item of an unfiltered search, page after page."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            answer = self._get(path, {"max_results": page_size, "page_token": token})
            items.extend(answer.get(key, []))
            token = answer.get("next_page_token")
            if not token:
                return items

    def _get_registered_model(self, name: str) -> RegisteredModel:
        answer = self._get("/registered-models/get", {"name": name})
        return wire.registered_model_from_json(answer["registered_model"])

    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        body = {"name": name, "stages": list(stages) if stages else None}
        answer = self._send("POST", "/registered-models/get-latest-versions", body)
        return [wire.model_version_from_json(d) for d in answer.get("model_versions", [])]

    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        self._send("POST", "/registered-models/set-tag", {"name": name, "key": tag.key, "value": tag.value})

    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        self._send("DELETE", "/registered-models/delete-tag", {"name": name, "key": key})

    # -- model versions ----------------------------------------------------------------------

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        storage_location: str,
    ) -> ModelVersion:
        # storage_location is the server's to work out from the source (it checks it too)
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        if tags:
            body["tags"] = [{"key": t.key, "value": t.value} for t in tags]
        # not idempotent: a retry after a lost answer would create a second version
        answer = self._send("POST", "/model-versions/create", body, idempotent=False)
        return wire.model_version_from_json(answer["model_version"])

    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        body = {"name": name, "version": str(version), "description": description}
        answer = self._send("PATCH", "/model-versions/update", body)
        return wire.model_version_from_json(answer["model_version"])

    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": bool(archive_existing_versions),
        }
        answer = self._send("POST", "/model-versions/transition-stage", body)
        return wire.model_version_from_json(answer["model_version"])

    def _delete_model_version(self, name: str, version: str) -> None:
        self._send("DELETE", "/model-versions/delete", {"name": name, "version": str(version)}, False)

    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        answer = self._get("/model-versions/get", {"name": name, "version": str(version)})
        return wire.model_version_from_json(answer["model_version"])

    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        answer = self._get("/model-versions/get-download-uri", {"name": name, "version": str(version)})
        return str(answer.get("artifact_uri", ""))

    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        query = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": order_by,
            "page_token": page_token,
        }
        try:
            answer = self._get("/model-versions/search", query)
        except TrackletException as e:
            if not _grammar_refused(e, filter_string, page_token):
                raise
            every = self._every("/model-versions/search", "model_versions", 10_000)
            return filter_model_versions(
                [wire.model_version_from_json(d) for d in every],
                filter_string,
                order_by,
                max_results,
                page_token,
            )
        versions = [wire.model_version_from_json(d) for d in answer.get("model_versions", [])]
        return PagedList(versions, answer.get("next_page_token") or None)

    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        body = {"name": name, "version": str(version), "key": tag.key, "value": tag.value}
        self._send("POST", "/model-versions/set-tag", body)

    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        self._send(
            "DELETE", "/model-versions/delete-tag", {"name": name, "version": str(version), "key": key}
        )

    # -- aliases -----------------------------------------------------------------------------

    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self._send("POST", "/registered-models/alias", body)

    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._send("DELETE", "/registered-models/alias", {"name": name, "alias": alias})

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        answer = self._get("/registered-models/alias", {"name": name, "alias": alias})
        return wire.model_version_from_json(answer["model_version"])

    # -- logged models -----------------------------------------------------------------------

    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        body: dict[str, Any] = {
            "experiment_id": str(experiment_id),
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
        }
        if tags:
            body["tags"] = [{"key": t.key, "value": t.value} for t in tags]
        if params:
            body["params"] = [{"key": p.key, "value": p.value} for p in params]
        answer = self._send("POST", "/logged-models", body, idempotent=False)
        return wire.logged_model_from_json(answer["model"])

    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        params = {"allow_deleted": "true"} if allow_deleted else {}
        answer = self._get(f"/logged-models/{model_id}", params)
        return wire.logged_model_from_json(answer["model"])

    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        body = {"model_id": model_id, "status": wire.logged_model_status_to_json(status)}
        answer = self._send("PATCH", f"/logged-models/{model_id}", body)
        return wire.logged_model_from_json(answer["model"])

    def _delete_logged_model(self, model_id: str) -> None:
        self._send("DELETE", f"/logged-models/{model_id}", {}, idempotent=False)

    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        body = {"model_id": model_id, "tags": [{"key": t.key, "value": t.value} for t in tags]}
        self._send("PATCH", f"/logged-models/{model_id}/tags", body)

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        from urllib.parse import quote

        self._send("DELETE", f"/logged-models/{model_id}/tags/{quote(key, safe='')}", {})

    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        body = {"model_id": model_id, "params": [{"key": p.key, "value": p.value} for p in params]}
        self._send("POST", f"/logged-models/{model_id}/params", body)

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "max_results": max_results,
            "page_token": page_token,
        }
        if datasets:
            body["datasets"] = [_drop_none(dict(d)) for d in datasets]
        if order_by:
            body["order_by"] = [_drop_none(dict(o)) for o in order_by]
        try:
            answer = self._send("POST", "/logged-models/search", body)
        except TrackletException as e:
            if not _grammar_refused(e, filter_string, page_token):
                raise
            # an MLflow server without tracklet's OR and parentheses: filter here
            every = [wire.logged_model_from_json(d) for d in self._every_logged_model(body["experiment_ids"])]
            return filter_logged_models(
                every,
                filter_string,
                datasets,
                order_by,
                max_results,
                page_token,
                experiment_ids=experiment_ids,
            )
        models = [wire.logged_model_from_json(d) for d in answer.get("models", [])]
        return PagedList(models, answer.get("next_page_token") or None)

    def _every_logged_model(self, experiment_ids: list[str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            body = {"experiment_ids": experiment_ids, "max_results": 100, "page_token": token}
            answer = self._send("POST", "/logged-models/search", body)
            items.extend(answer.get("models", []))
            token = answer.get("next_page_token")
            if not token:
                return items

    def _log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        body = {"run_id": run_id, "models": [{"model_id": m.model_id, "step": m.step} for m in models]}
        self._send("POST", "/runs/outputs", body)

    def _log_logged_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        """Nothing to send: a server records a metric on its logged model when it receives
        the run metric with its ``model_id`` (MLflow has no other endpoint for it), which
        the tracking store's runs/log-metric and runs/log-batch carry."""

    def _log_model_inputs(self, run_id: str, models: list[LoggedModelInput]) -> None:
        body = {"run_id": run_id, "models": [{"model_id": m.model_id} for m in models]}
        self._send("POST", "/runs/log-inputs", body)

    def _get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        run = self._get("/runs/get", {"run_id": run_id})["run"]
        inputs = [
            LoggedModelInput(m["model_id"]) for m in (run.get("inputs") or {}).get("model_inputs") or []
        ]
        outputs = [
            LoggedModelOutput(o["model_id"], int(o.get("step") or 0))
            for o in (run.get("outputs") or {}).get("model_outputs") or []
        ]
        return inputs, outputs
