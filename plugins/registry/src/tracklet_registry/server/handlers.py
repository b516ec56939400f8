"""What ``tracklet server`` does for each model registry and logged-model endpoint.

Each handler takes a :class:`tracklet.routes.RouteRequest` whose ``params`` the server
has already checked against the route's fields (:mod:`tracklet_registry.server.routes`),
calls the registry store (or the logged-model store, which lives with the tracking data)
and returns MLflow 3.17.2's JSON answer (:mod:`tracklet_registry.server.wire`). Errors
are the stores' :class:`~tracklet.exceptions.TrackletException`, answered by the server
as MLflow does. Model version sources are checked by :mod:`tracklet_registry.server.safety`
before anything is stored; no handler reads or fetches a location a client names.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from tracklet.entities import LoggedModelParameter, LoggedModelTag
from tracklet.entities.model_registry import ModelVersionTag, RegisteredModelTag
from tracklet.exceptions import BAD_REQUEST, INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED, TrackletException
from tracklet.routes import FileAnswer, RouteRequest
from tracklet_registry.server import wire
from tracklet_registry.server.safety import check_artifact_path, check_source, decoded, is_within

__all__ = ["FileAnswer", "logged_model_store"]

#: The logged model's tag listing the model versions registered from it (MLflow's name).
_MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def _p(request: RouteRequest, name: str, default: Any = None) -> Any:
    value = request.params.get(name)
    return default if value is None else value


def _kv(items: Iterable[Any] | None) -> list[tuple[str, str]]:
    """``KeyValue`` fields arrive as ``(key, value)`` tuples; tolerate dicts too."""
    out = []
    for item in items or ():
        if isinstance(item, dict):
            out.append((str(item.get("key", "")), str(item.get("value", ""))))
        else:
            key, value = item
            out.append((key, value))
    return out


#: The clause MLflow 3's client adds to every registry search to leave prompts out
#: (``tag.`mlflow.prompt.is_prompt` != 'true'``, after `` AND `` when there is a filter).
_PROMPT_CLAUSE = re.compile(
    r"(?:^|\s+AND\s+)tags?\.`?mlflow\.prompt\.is_prompt`?\s*(?P<op>!=|=)\s*'(?P<value>true|false)'\s*$",
    re.IGNORECASE,
)


def _registry_filter(filter_string: str | None) -> tuple[str | None, bool]:
    """The filter without MLflow's prompt clause, and whether the caller asked for prompts
    only. As MLflow's server does, the clause is handled apart from the rest: tracklet's
    stores keep no prompts and leave them out of every search, so ``!= 'true'`` (or
    ``= 'false'``) changes nothing and ``= 'true'`` finds nothing."""
    if not filter_string:
        return filter_string, False
    match = _PROMPT_CLAUSE.search(filter_string)
    if match is None:
        return filter_string, False
    rest = filter_string[: match.start()].strip() or None
    wants_prompts = (match["op"] == "=") == (match["value"].lower() == "true")
    return rest, wants_prompts


def logged_model_store(request: RouteRequest) -> Any:
    """The store keeping logged models: they live with the tracking data (as in MLflow), so
    the registry store built for the tracking backend's URI; the server's registry store
    when that is the same URI (the default)."""
    registry = request.registry_store
    tracking_uri = getattr(request.tracking_store, "store_uri", None) or getattr(
        request.tracking_store, "uri", None
    )
    if tracking_uri and getattr(registry, "store_uri", None) != tracking_uri:
        from tracklet.plugins import get_registry_store

        return get_registry_store(tracking_uri, tracking_uri=tracking_uri)
    return registry


# -- registered models ---------------------------------------------------------------------


def create_registered_model(request: RouteRequest) -> dict[str, Any]:
    tags = [RegisteredModelTag(k, v) for k, v in _kv(_p(request, "tags"))]
    rm = request.registry_store.create_registered_model(
        _p(request, "name"),
        tags=tags or None,
        description=_p(request, "description"),
        deployment_job_id=_p(request, "deployment_job_id"),
    )
    return {"registered_model": wire.registered_model_to_json(rm)}


def get_registered_model(request: RouteRequest) -> dict[str, Any]:
    rm = request.registry_store.get_registered_model(_p(request, "name"))
    return {"registered_model": wire.registered_model_to_json(rm)}


def update_registered_model(request: RouteRequest) -> dict[str, Any]:
    rm = request.registry_store.update_registered_model(
        _p(request, "name"), _p(request, "description"), deployment_job_id=_p(request, "deployment_job_id")
    )
    return {"registered_model": wire.registered_model_to_json(rm)}


def rename_registered_model(request: RouteRequest) -> dict[str, Any]:
    rm = request.registry_store.rename_registered_model(_p(request, "name"), _p(request, "new_name"))
    return {"registered_model": wire.registered_model_to_json(rm)}


def delete_registered_model(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.delete_registered_model(_p(request, "name"))
    return {}


def search_registered_models(request: RouteRequest) -> dict[str, Any]:
    filter_string, prompts_only = _registry_filter(_p(request, "filter"))
    if prompts_only:
        return {}
    page = request.registry_store.search_registered_models(
        filter_string=filter_string,
        max_results=_p(request, "max_results"),
        order_by=_p(request, "order_by"),
        page_token=_p(request, "page_token") or None,
    )
    out: dict[str, Any] = {}
    if len(page):
        out["registered_models"] = [wire.registered_model_to_json(rm) for rm in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_latest_versions(request: RouteRequest) -> dict[str, Any]:
    versions = request.registry_store.get_latest_versions(_p(request, "name"), stages=_p(request, "stages"))
    return {"model_versions": [wire.model_version_to_json(mv) for mv in versions]} if versions else {}


def set_registered_model_tag(request: RouteRequest) -> dict[str, Any]:
    tag = RegisteredModelTag(_p(request, "key"), _p(request, "value", ""))
    request.registry_store.set_registered_model_tag(_p(request, "name"), tag)
    return {}


def delete_registered_model_tag(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.delete_registered_model_tag(_p(request, "name"), _p(request, "key"))
    return {}


# -- model versions -------------------------------------------------------------------------


def _resolve_registered_source(
    request: RouteRequest, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """A ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>`` source (a
    copy of a version of this registry) as ``models:/<name>/<version>``, with the run and
    logged model of the version it names, as MLflow's server does."""
    body = source.split(":", 1)[1].lstrip("/")
    if "/" not in body and "@" not in body:
        return source, run_id, model_id  # models:/<model_id>: a logged model
    store = request.registry_store
    if "@" in body and "/" not in body:
        name, alias = body.split("@", 1)
        mv = store.get_model_version_by_alias(name, alias)
    else:
        name, ref = body.split("/", 1)
        ref = ref.strip("/")
        if ref.isdigit():
            mv = store.get_model_version(name, ref)
        else:
            stages = None if ref.lower() == "latest" else [ref]
            latest = store.get_latest_versions(name, stages=stages)
            if not latest:
                raise TrackletException(
                    f"Invalid model version source: '{source}'. No version of '{name}' is at '{ref}'.",
                    INVALID_PARAMETER_VALUE,
                )
            mv = max(latest, key=lambda v: int(v.version))
    if (run_id is not None and (run_id or "") != (mv.run_id or "")) or (
        model_id is not None and (model_id or "") != (mv.model_id or "")
    ):
        raise TrackletException(
            f"Invalid model version source: '{source}'. The run_id and model_id request "
            "parameters must match the referenced model version.",
            INVALID_PARAMETER_VALUE,
        )
    return (
        f"models:/{mv.name}/{mv.version}",
        run_id if run_id is not None else mv.run_id,
        model_id if model_id is not None else mv.model_id,
    )


def _add_model_version_tag(store: Any, model_id: str, name: str, version: int) -> None:
    """Add ``{"name": name, "version": version}`` (an int, as MLflow's server writes it) to
    the logged model's ``mlflow.modelVersions`` tag."""
    entry = {"name": name, "version": version}
    entries: list[Any] = [entry]
    existing = store.get_logged_model(model_id).tags.get(_MODEL_VERSIONS_TAG)
    if existing:
        previous = json.loads(existing)
        entries = previous if entry in previous else [*previous, entry]
    store.set_logged_model_tags(model_id, [LoggedModelTag(_MODEL_VERSIONS_TAG, json.dumps(entries))])


def create_model_version(request: RouteRequest) -> dict[str, Any]:
    name = _p(request, "name")
    source = _p(request, "source")
    run_id = request.params.get("run_id")
    model_id = request.params.get("model_id") or None
    if model_id is not None:
        _checked_model_id(model_id)
    # a models:/<name>/<version> source is checked as it came (the rule for it does not
    # depend on the run), then resolved to the version it names
    check_source(
        source,
        allowed_roots=request.allowed_source_roots,
        run_id=run_id,
        model_id=model_id,
        run_location=lambda ident: request.tracking_store.get_run(ident).info.artifact_uri,
        model_location=lambda ident: logged_model_store(request).get_logged_model(ident).artifact_location,
    )
    if source.lower().startswith("models:"):
        source, run_id, model_id = _resolve_registered_source(request, source, run_id, model_id)
    tags = [ModelVersionTag(k, v) for k, v in _kv(_p(request, "tags"))]
    mv = request.registry_store.create_model_version(
        name,
        source,
        run_id=run_id or None,
        tags=tags or None,
        run_link=_p(request, "run_link"),
        # as MLflow's server: an absent description is the proto's default, ""
        description=_p(request, "description", ""),
        model_id=model_id or None,
    )
    if model_id:
        # as MLflow's server: the logged model lists the versions registered from it
        _add_model_version_tag(logged_model_store(request), model_id, name, int(mv.version))
    return {"model_version": wire.model_version_to_json(mv)}


def get_model_version(request: RouteRequest) -> dict[str, Any]:
    mv = request.registry_store.get_model_version(_p(request, "name"), _p(request, "version"))
    return {"model_version": wire.model_version_to_json(mv)}


def update_model_version(request: RouteRequest) -> dict[str, Any]:
    mv = request.registry_store.update_model_version(
        _p(request, "name"), _p(request, "version"), request.params.get("description")
    )
    return {"model_version": wire.model_version_to_json(mv)}


def transition_model_version_stage(request: RouteRequest) -> dict[str, Any]:
    mv = request.registry_store.transition_model_version_stage(
        _p(request, "name"),
        _p(request, "version"),
        _p(request, "stage"),
        bool(_p(request, "archive_existing_versions", False)),
    )
    return {"model_version": wire.model_version_to_json(mv)}


def delete_model_version(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.delete_model_version(_p(request, "name"), _p(request, "version"))
    return {}


def get_model_version_download_uri(request: RouteRequest) -> dict[str, Any]:
    # The stored location, as it was checked when the version was created: never fetched.
    uri = request.registry_store.get_model_version_download_uri(_p(request, "name"), _p(request, "version"))
    return {"artifact_uri": uri}


def search_model_versions(request: RouteRequest) -> dict[str, Any]:
    filter_string, prompts_only = _registry_filter(_p(request, "filter"))
    if prompts_only:
        return {}
    page = request.registry_store.search_model_versions(
        filter_string=filter_string,
        max_results=_p(request, "max_results"),
        order_by=_p(request, "order_by"),
        page_token=_p(request, "page_token") or None,
    )
    out: dict[str, Any] = {}
    if len(page):
        out["model_versions"] = [wire.model_version_to_json(mv) for mv in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def set_model_version_tag(request: RouteRequest) -> dict[str, Any]:
    tag = ModelVersionTag(_p(request, "key"), _p(request, "value", ""))
    request.registry_store.set_model_version_tag(_p(request, "name"), _p(request, "version"), tag)
    return {}


def delete_model_version_tag(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.delete_model_version_tag(
        _p(request, "name"), _p(request, "version"), _p(request, "key")
    )
    return {}


# -- aliases --------------------------------------------------------------------------------


def set_registered_model_alias(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.set_registered_model_alias(
        _p(request, "name"), _p(request, "alias"), _p(request, "version")
    )
    return {}


def delete_registered_model_alias(request: RouteRequest) -> dict[str, Any]:
    request.registry_store.delete_registered_model_alias(_p(request, "name"), _p(request, "alias"))
    return {}


def get_model_version_by_alias(request: RouteRequest) -> dict[str, Any]:
    mv = request.registry_store.get_model_version_by_alias(_p(request, "name"), _p(request, "alias"))
    return {"model_version": wire.model_version_to_json(mv)}


# -- logged models ---------------------------------------------------------------------------


#: A logged model id as stores write them (``m-<hex>``; letters, digits, ``-`` and ``_``):
#: never a path of the server's disk (``..``, ``.``) however the request spells it.
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,255}$")


def _checked_model_id(value: Any) -> str:
    if not isinstance(value, str) or not _MODEL_ID.match(value):
        raise TrackletException(
            f"Invalid value {value!r} for parameter 'model_id' supplied: expected a logged model id "
            "such as m-0123456789abcdef0123456789abcdef.",
            INVALID_PARAMETER_VALUE,
        )
    return value


def _model_id(request: RouteRequest) -> str:
    return _checked_model_id(request.path_params.get("model_id") or _p(request, "model_id"))


def create_logged_model(request: RouteRequest) -> dict[str, Any]:
    experiment_id = _p(request, "experiment_id")
    request.tracking_store.get_experiment(experiment_id)  # RESOURCE_DOES_NOT_EXIST as MLflow
    source_run_id = _p(request, "source_run_id") or None  # not looked up, as MLflow
    params = [LoggedModelParameter(k, v) for k, v in _kv(_p(request, "params"))]
    tags = [LoggedModelTag(k, v) for k, v in _kv(_p(request, "tags"))]
    model = logged_model_store(request).create_logged_model(
        experiment_id,
        name=_p(request, "name") or None,
        source_run_id=source_run_id,
        tags=tags or None,
        params=params or None,
        model_type=_p(request, "model_type"),
    )
    return {"model": wire.logged_model_to_json(model)}


def get_logged_model(request: RouteRequest) -> dict[str, Any]:
    store = logged_model_store(request)
    if _p(request, "allow_deleted", False):
        try:
            model = store.get_logged_model(_model_id(request), allow_deleted=True)
        except TypeError:  # a store without deleted models kept
            model = store.get_logged_model(_model_id(request))
    else:
        model = store.get_logged_model(_model_id(request))
    return {"model": wire.logged_model_to_json(model)}


def finalize_logged_model(request: RouteRequest) -> dict[str, Any]:
    status = wire.logged_model_status_from_json(request.params.get("status"))
    model = logged_model_store(request).finalize_logged_model(_model_id(request), status)
    return {"model": wire.logged_model_to_json(model)}


def delete_logged_model(request: RouteRequest) -> dict[str, Any]:
    logged_model_store(request).delete_logged_model(_model_id(request))
    return {}


def set_logged_model_tags(request: RouteRequest) -> dict[str, Any]:
    tags = [LoggedModelTag(k, v) for k, v in _kv(_p(request, "tags"))]
    logged_model_store(request).set_logged_model_tags(_model_id(request), tags)
    return {}


def delete_logged_model_tag(request: RouteRequest) -> dict[str, Any]:
    key = request.path_params.get("tag_key") or _p(request, "tag_key")
    logged_model_store(request).delete_logged_model_tag(_model_id(request), key)
    return {}


def log_logged_model_params(request: RouteRequest) -> dict[str, Any]:
    params = [LoggedModelParameter(k, v) for k, v in _kv(_p(request, "params"))]
    logged_model_store(request).log_logged_model_params(_model_id(request), params)
    return {}


def _search_datasets(value: Any) -> list[dict[str, Any]] | None:
    if not value:
        return None
    return [
        {"dataset_name": d.get("dataset_name"), "dataset_digest": d.get("dataset_digest") or None}
        for d in value
        if isinstance(d, dict)
    ]


def _search_order_by(value: Any) -> list[dict[str, Any]] | None:
    if not value:
        return None
    out = []
    for ob in value:
        if not isinstance(ob, dict) or not isinstance(ob.get("field_name"), str):
            raise TrackletException(
                f"Invalid value {ob!r} for parameter 'order_by' supplied: expected "
                '{"field_name": ..., "ascending": true|false}.',
                INVALID_PARAMETER_VALUE,
            )
        out.append(
            {
                "field_name": ob["field_name"],
                "ascending": bool(ob.get("ascending", True)),
                "dataset_name": ob.get("dataset_name") or None,
                "dataset_digest": ob.get("dataset_digest") or None,
            }
        )
    return out


def search_logged_models(request: RouteRequest) -> dict[str, Any]:
    page = logged_model_store(request).search_logged_models(
        list(_p(request, "experiment_ids", [])),
        filter_string=_p(request, "filter") or None,
        datasets=_search_datasets(_p(request, "datasets")),
        max_results=_p(request, "max_results") or None,
        order_by=_search_order_by(_p(request, "order_by")),
        page_token=_p(request, "page_token") or None,
    )
    out: dict[str, Any] = {}
    if len(page):
        out["models"] = [wire.logged_model_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def list_logged_model_artifacts(request: RouteRequest) -> dict[str, Any]:
    """One level of a logged model's artifacts (what MLflow's UI lists), read by the server
    only where it owns the location: through its own artifact proxy for ``mlflow-artifacts:``
    locations, else inside one of its artifact roots."""
    from tracklet.plugins import get_artifact_repository

    model = logged_model_store(request).get_logged_model(_model_id(request))
    sub = request.params.get("artifact_directory_path")
    if sub:
        sub = check_artifact_path("artifact_directory_path", sub)
    repository = get_artifact_repository(_owned_location(request, model.artifact_location))
    files = repository.list_artifacts(sub or None)
    out: dict[str, Any] = {"root_uri": model.artifact_location}
    if files:
        out["files"] = [
            {
                "path": f.path,
                "is_dir": f.is_dir,
                **({} if f.file_size is None else {"file_size": f.file_size}),
            }
            for f in files
        ]
    return out


def get_logged_model_artifact(request: RouteRequest) -> dict[str, Any]:
    """One file of a logged model's artifacts (MLflow's UI download route), read by the
    server only where it owns the location, as :func:`list_logged_model_artifacts`."""
    import os
    import shutil
    import tempfile

    from tracklet.plugins import get_artifact_repository

    path = request.params.get("artifact_file_path")
    if not path:
        raise TrackletException('Request must include the "artifact_file_path" query parameter.', BAD_REQUEST)
    path = check_artifact_path("artifact_file_path", path)
    model = logged_model_store(request).get_logged_model(_model_id(request))
    repository = get_artifact_repository(_owned_location(request, model.artifact_location))
    folder = tempfile.mkdtemp(prefix="tracklet-logged-model-")
    try:
        local = repository.download_artifacts(path, folder)
        if os.path.isdir(local):
            raise TrackletException(
                f"Invalid value {path!r} for parameter 'artifact_file_path' supplied: it is a "
                "directory; list it with logged-models/<id>/artifacts/directories.",
                INVALID_PARAMETER_VALUE,
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileAnswer(local, path.rsplit("/", 1)[-1], lambda: shutil.rmtree(folder, ignore_errors=True))


def _owned_location(request: RouteRequest, location: str) -> str:
    """Where the server itself reads ``location``: a ``mlflow-artifacts:`` URI under the
    proxy's destination, anything else as it is, and only inside the server's roots."""
    roots = tuple(request.allowed_source_roots)
    target = location
    if location.lower().startswith("mlflow-artifacts:"):
        if not request.serve_artifacts or not roots:
            raise _not_owned(location)
        destination = roots[-1]  # the proxy's destination comes after the default root
        relative = urllib.parse.urlsplit(location).path.lstrip("/")
        target = destination.rstrip("/") + ("/" + relative if relative else "")
        roots = (destination,)
    if any(part == ".." for part in decoded(target).replace("\\", "/").split("/")) or not any(
        is_within(target, root) for root in roots
    ):
        raise _not_owned(location)
    return target


def _not_owned(location: str) -> TrackletException:
    return TrackletException(
        f"The artifacts of this model are at {location!r}, outside the artifact roots this server "
        "owns; it does not read them. Download them from their location directly.",
        INVALID_PARAMETER_VALUE,
    )


def log_outputs(request: RouteRequest) -> dict[str, Any]:
    """Record the logged models a run produced (``POST /runs/outputs``), which MLflow's
    client calls at the end of ``log_model``."""
    run_id = _p(request, "run_id")
    outputs = [
        wire.model_output_from_json(m, f"models[{i}]") for i, m in enumerate(_p(request, "models", []))
    ]
    if not outputs:
        raise TrackletException(
            "Missing value for required parameter 'models'. "
            "See the API docs for more information about request parameters.",
            INVALID_PARAMETER_VALUE,
        )
    request.tracking_store.get_run(run_id)  # RESOURCE_DOES_NOT_EXIST for an unknown run
    store = logged_model_store(request)
    for output in outputs:
        store.get_logged_model(_checked_model_id(output.model_id))
    try:
        store.log_outputs(run_id, outputs)
    except TrackletException as e:
        # a store that keeps no run outputs still lets MLflow's log_model finish: the
        # models exist and name their source run
        if e.error_code != NOT_IMPLEMENTED:
            raise
    return {}
