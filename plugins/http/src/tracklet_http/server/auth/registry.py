"""Authorization of the routes plugins contribute (the model registry, logged models).

A contributed route (:class:`tracklet.routes.Route`) declares what its caller needs as a
:class:`tracklet.routes.RoutePermission` ``(resource, key, level)``: the server hands it
to :meth:`RouteRules.authorize` before the handler runs and the handler's answer to
:meth:`RouteRules.after` once it succeeded. The rules are MLflow's basic-auth app's:

* admins may do anything; a route without a permission, or with level ``CREATE``, only
  needs a signed-in user (the creator of a registered model then holds MANAGE on it);
* ``registered_model``: the caller's grant on the model named by ``params[key]``, else the
  server's default permission. A grant is kept per model *name*: renaming a model moves
  its grants to the new name, deleting it deletes them, so a new model of the old name
  starts with none;
* ``experiment``: the caller's permission on ``params[key]`` (each of them for a list);
  ``run``: on the run's experiment; ``logged_model``: on the logged model's experiment.
  A run or logged model that does not exist is let through (the handler answers 404)
  only when the default permission would allow the call anywhere;
* creating a model version (a ``registered_model`` route whose request has a ``source``)
  also needs READ on what the version is made from, as MLflow: the run (``run_id``), the
  logged model (``model_id``, or a ``models:/<model_id>`` source) or the registered model
  (a ``models:/<name>/...`` source). A source that does not exist is refused alike (403),
  so the answer does not tell which ids exist;
* ``search_registered_models`` and ``search_model_versions`` answer only what the caller
  may read: the rows of other models are dropped, and a registered model page is filled
  up again from the following pages, as MLflow does.

Levels: READ needs ``can_read``, USE ``can_use``, EDIT ``can_update``, MANAGE
``can_manage`` (MLflow's delete and manage both need MANAGE).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

from .service import AuthService, Caller

__all__ = ["LEVEL_CAPABILITY", "RouteRules"]

logger = logging.getLogger("tracklet_http.server.auth")

#: RoutePermission level -> the capability it needs.
LEVEL_CAPABILITY = {"READ": "can_read", "USE": "can_use", "EDIT": "can_update", "MANAGE": "can_manage"}
#: Most ids one call may name in the parameter its permission protects (MLflow's largest
#: batch endpoints take 1,000 run ids).
_MAX_NAMED = 1000
#: MLflow's default page size of search_registered_models.
_DEFAULT_MAX_RESULTS = 100

# The registry operations that need more than the permission check, by path (after the
# /api/2.0/mlflow or /ajax-api/2.0/mlflow prefix) and by route name.
_CREATE_MODEL = ("/registered-models/create", "create_registered_model")
_RENAME_MODEL = ("/registered-models/rename", "rename_registered_model")
_DELETE_MODEL = ("/registered-models/delete", "delete_registered_model")
_SEARCH_MODELS = ("/registered-models/search", "search_registered_models")
_SEARCH_VERSIONS = ("/model-versions/search", "search_model_versions")


def _denied(message: str) -> TrackletException:
    return TrackletException(f"Permission denied: {message}", PERMISSION_DENIED)


def _operation(route: Any) -> str:
    """The operation a route (a :class:`tracklet.routes.Route`, or its name) performs:
    its path without MLflow's prefixes, else its name."""
    path = getattr(route, "path", None)
    if isinstance(path, str):
        for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
            if path.startswith(prefix + "/"):
                return path[len(prefix) :]
        return path
    return str(getattr(route, "name", route))


def _is(route: Any, operation: tuple[str, str]) -> bool:
    found = _operation(route)
    return found in operation or getattr(route, "name", None) == operation[1]


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _named(value: Any, key: str, what: str) -> list[str]:
    """The ids a call names in its ``key`` parameter, each once: none when the parameter is
    missing or empty (the handler refuses a missing required field), one for a single value,
    each of a list. More than :data:`_MAX_NAMED`, or a value that is not an id (an object, a
    list inside the list), is refused: a permission check never lets a name it cannot read
    through."""
    if value is None or value == "":
        return []
    values = list(value) if isinstance(value, list | tuple) else [value]
    if len(values) > _MAX_NAMED:
        raise _denied(
            f"{what} names {len(values)} values in '{key}'; the permission check reads at most "
            f"{_MAX_NAMED} per call. Split the call."
        )
    names: list[str] = []
    for one in values:
        text = _text(one)
        if text is None:
            raise _denied(f"{what}: '{key}' must hold ids (strings) for the permission check, got {one!r}.")
        names.append(text)
    return list(dict.fromkeys(names))


class _WithParams:
    """A route request with other parameters (to fetch the next page of a search)."""

    def __init__(self, request: Any, params: dict[str, Any]) -> None:
        self._request = request
        self.params = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class RouteRules:
    """The checks of contributed routes, over one process's :class:`AuthService`.

    ``store_access`` (what :meth:`authorize` and :meth:`after` receive from the server)
    is the route's :class:`tracklet.routes.RouteRequest`, or anything with its
    ``tracking_store`` and ``registry_store`` attributes: runs are looked up in the
    tracking store, logged models in whichever of the two has ``get_logged_model``.
    """

    def __init__(self, service: AuthService) -> None:
        self.service = service

    # -- before the handler ----------------------------------------------------------------

    def authorize(
        self, caller: Caller, permission: Any, params: Mapping[str, Any], store_access: Any, route: str = ""
    ) -> None:
        """Refuse (PERMISSION_DENIED, 403) a call ``caller`` may not make."""
        if caller.is_admin or permission is None:
            return
        level = getattr(permission, "level", None)
        if level == "CREATE":
            return
        capability = LEVEL_CAPABILITY.get(str(level))
        resource, key = getattr(permission, "resource", None), getattr(permission, "key", None)
        if capability is None or not isinstance(key, str):
            raise _denied(f"{route or 'this route'} declares an unknown permission {permission!r}.")
        what = route or "this call"
        if resource not in ("registered_model", "experiment", "run", "logged_model"):
            raise _denied(f"{what} protects an unknown kind of resource {resource!r}.")
        # Every id the call names is checked, one value or a repeated field alike; a value
        # that is not an id is refused here rather than left unchecked.
        names = _named(params.get(key), key, what)
        if resource == "registered_model":
            for name in names:
                self._require_model(caller, name, capability, what)
            if names and "source" in params:
                self._require_version_sources(caller, params, store_access, what)
        elif resource == "experiment":
            for one in names:
                self._require_experiment(caller, one, capability, what)
        elif resource == "run":
            for run_id in names:
                experiment_id = self.service.experiment_of_run(store_access.tracking_store, run_id)
                self._require_found(caller, experiment_id, capability, what, "the run's experiment")
        else:
            for model_id in names:
                experiment_id = self._experiment_of_logged_model(store_access, model_id)
                self._require_found(caller, experiment_id, capability, what, "the logged model's experiment")

    def _require_model(self, caller: Caller, name: str, capability: str, what: str) -> None:
        permission = self.service.model_permission(caller, name)
        if not getattr(permission, capability):
            raise _denied(
                f"{what} needs {_level(capability)} permission on registered model '{name}'; "
                f"user '{caller.username}' has {permission.name}."
            )

    def _require_experiment(self, caller: Caller, experiment_id: str, capability: str, what: str) -> None:
        permission = self.service.permission(caller, experiment_id)
        if not getattr(permission, capability):
            raise _denied(
                f"{what} needs {_level(capability)} permission on experiment {experiment_id}; "
                f"user '{caller.username}' has {permission.name}."
            )

    def _require_found(
        self, caller: Caller, experiment_id: str | None, capability: str, what: str, where: str
    ) -> None:
        if experiment_id is None:
            if getattr(self.service.default, capability):
                return  # no such thing: the handler answers 404, which tells nothing new
            raise _denied(f"{what} needs {_level(capability)} permission on {where}.")
        permission = self.service.permission(caller, experiment_id)
        if not getattr(permission, capability):
            raise _denied(
                f"{what} needs {_level(capability)} permission on {where}; "
                f"user '{caller.username}' has {permission.name}."
            )

    def _require_version_sources(
        self, caller: Caller, params: Mapping[str, Any], store_access: Any, what: str
    ) -> None:
        """READ on what a new model version is made from (MLflow's
        ``validate_can_create_model_version``); a source that does not exist is refused."""
        source = params.get("source")
        if isinstance(source, str) and source.startswith("models:/"):
            target = source[len("models:/") :].lstrip("/").split("/", 1)[0].split("@", 1)[0]
            if target.startswith("m-") and "/" not in source[len("models:/") :].strip("/"):
                self._require_logged_model_read(caller, target, store_access, what)
            elif target:
                permission = self.service.model_permission(caller, target)
                if not permission.can_read:
                    raise _denied(
                        f"{what} needs READ permission on registered model '{target}', the source of "
                        f"the new version; user '{caller.username}' has {permission.name}."
                    )
                return  # a registered model is its versions' access boundary (MLflow)
        if "run_id" in params and params.get("run_id") is not None:
            run_id = _text(params.get("run_id"))
            experiment_id = (
                None
                if run_id is None
                else self.service.experiment_of_run(store_access.tracking_store, run_id)
            )
            if experiment_id is None or not self.service.permission(caller, experiment_id).can_read:
                raise _denied(f"{what} needs READ permission on the experiment of run {run_id!r}.")
        model_id = params.get("model_id")
        if model_id is not None:
            self._require_logged_model_read(caller, _text(model_id), store_access, what)

    def _require_logged_model_read(
        self, caller: Caller, model_id: str | None, store_access: Any, what: str
    ) -> None:
        experiment_id = None if model_id is None else self._experiment_of_logged_model(store_access, model_id)
        if experiment_id is None or not self.service.permission(caller, experiment_id).can_read:
            raise _denied(f"{what} needs READ permission on the experiment of logged model {model_id!r}.")

    @staticmethod
    def _experiment_of_logged_model(store_access: Any, model_id: str) -> str | None:
        for attribute in ("logged_model_store", "tracking_store", "registry_store"):
            store = getattr(store_access, attribute, None)
            get = getattr(store, "get_logged_model", None)
            if get is None:
                continue
            try:
                return str(get(model_id).experiment_id)
            except TrackletException as exc:
                if exc.error_code in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE):
                    return None
                raise
            except NotImplementedError:
                continue
        return None

    # -- after the handler -----------------------------------------------------------------

    def after(
        self, caller: Caller, route: Any, params: Mapping[str, Any], result: Any, store_access: Any
    ) -> Any:
        """Bookkeeping after a successful call, and the answer to send: the creator of a
        registered model gets MANAGE on it, a rename moves the model's grants, a delete
        removes them, and a search answers only the rows the caller may read."""
        if _is(route, _CREATE_MODEL):
            name = _created_name(result) or _text(params.get("name"))
            if name is None:
                logger.warning(
                    "create_registered_model answered no name: the creator was not granted MANAGE."
                )
            else:
                self.service.grant_model_creator(caller, name)
        elif _is(route, _RENAME_MODEL):
            old, new = _text(params.get("name")), _text(params.get("new_name"))
            if old is not None and new is not None:
                self.service.model_renamed(old, new)
        elif _is(route, _DELETE_MODEL):
            name = _text(params.get("name"))
            if name is not None:
                self.service.model_deleted(name)
        elif _is(route, _SEARCH_MODELS) and isinstance(result, dict):
            return self._filter_models(caller, route, params, result, store_access)
        elif _is(route, _SEARCH_VERSIONS) and isinstance(result, dict):
            visible = self.service.visible_model_names(caller)
            if visible is not None:
                rows = result.get("model_versions") or []
                result = {**result, "model_versions": [v for v in rows if _row_name(v) in visible]}
        return result

    def _filter_models(
        self, caller: Caller, route: Any, params: Mapping[str, Any], result: dict[str, Any], store_access: Any
    ) -> dict[str, Any]:
        """The page with only the models ``caller`` may read, filled up from the following
        pages (fetched with exactly the rows still missing, so the page token stays the
        store's own) up to ``max_results``, as MLflow's ``filter_search_registered_models``."""
        visible = self.service.visible_model_names(caller)
        if visible is None:
            return result
        models = [m for m in result.get("registered_models") or [] if _row_name(m) in visible]
        token = result.get("next_page_token") or ""
        wanted = params.get("max_results")
        wanted = wanted if isinstance(wanted, int) and wanted > 0 else _DEFAULT_MAX_RESULTS
        handler = getattr(route, "handler", None)
        while len(models) < wanted and token and handler is not None and store_access is not None:
            page = handler(
                _WithParams(
                    store_access, {**params, "max_results": wanted - len(models), "page_token": token}
                )
            )
            rows = page.get("registered_models") or []
            models.extend(m for m in rows if _row_name(m) in visible)
            token = page.get("next_page_token") or ""
            if not rows:
                token = ""
        answer = {**result, "registered_models": models}
        if token:
            answer["next_page_token"] = token
        else:
            answer.pop("next_page_token", None)
        return answer


def _level(capability: str) -> str:
    return {"can_read": "READ", "can_use": "USE", "can_update": "EDIT"}.get(capability, "MANAGE")


def _row_name(row: Any) -> Any:
    return row.get("name") if isinstance(row, dict) else None


def _created_name(result: Any) -> str | None:
    if isinstance(result, dict):
        model = result.get("registered_model")
        if isinstance(model, dict):
            return _text(model.get("name"))
    return None
