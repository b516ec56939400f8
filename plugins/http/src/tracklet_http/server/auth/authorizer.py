"""The server's authorizer: who is calling, and may they make this call.

The rules follow MLflow's basic-auth app (``BEFORE_REQUEST_HANDLERS`` in
``mlflow/server/auth/__init__.py``): admins may do anything; anyone signed in may create
an experiment (and then holds MANAGE on it) and search (results are filtered to what they
may read); otherwise the caller's permission on the experiment concerned — for a run, the
run's experiment — must allow the action:

========================================================================  ===========
calls                                                                     needs
========================================================================  ===========
get experiment (by id or name), get run, metric history, list artifacts   READ
create run, update run, log metric/param/batch/inputs, set/delete tag,
rename experiment, set experiment tag                                     EDIT
delete/restore experiment, delete/restore run                             MANAGE
========================================================================  ===========

A call to a run that does not exist is let through (the server answers 404) only when
the default permission would allow it on any experiment, so the answer reveals nothing
the caller could not see anyway; otherwise it is refused like any other.

Who is calling comes first, from the headers alone: the tracking API, the artifact proxy
and the users/permissions API each await :meth:`Authorizer.authenticate_scope` before
reading a byte of the body, so a stranger's upload is refused (401, or 429 when its
address is over the failed-login limit, see :mod:`~tracklet_http.server.auth.limits`)
without the server buffering it; :func:`refusal_headers` gives such an answer its
``WWW-Authenticate`` or ``Retry-After`` header, and ``Connection: close`` when a body is
left unread. Password checks never run on the event loop.

Routes that plugins contribute (the model registry, logged models) carry their own
:class:`tracklet.routes.RoutePermission`: :meth:`Authorizer.authorize_route` checks it
and :meth:`Authorizer.after_route` keeps the registered model grants in step (see
:mod:`~tracklet_http.server.auth.registry` for the rules).

The artifact proxy: reading needs READ, uploading a new file EDIT, and replacing a file
that exists MANAGE — overwriting destroys its content as surely as deleting it, which
needs MANAGE (:meth:`Authorizer.authorize_artifact` with ``delete=True``).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from typing import Any

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    REQUEST_LIMIT_EXCEEDED,
    TrackletException,
)

from .registry import RouteRules
from .service import AuthService, Caller, service_for

__all__ = ["ENDPOINT_RULES", "Authorizer", "authorization_header", "client_address", "refusal_headers"]

logger = logging.getLogger("tracklet_http.server.auth")

# What a rule's scope names: where the experiment comes from.
ANY = "any"  # any signed-in user; search results are filtered by the server
EXPERIMENT = "experiment"  # params["experiment_id"]
EXPERIMENT_NAME = "experiment_name"  # params["experiment_name"], looked up
CREATE_RUN = "create_run"  # params["experiment_id"], MLflow's default experiment "0" if absent
RUN = "run"  # params["run_id"]'s experiment
RUNS = "runs"  # every params["run_ids"]'s (or the repeated params["run_id"]'s) experiment
EXPERIMENTS = "experiments"  # every params["experiment_ids"]

#: Endpoint name -> (scope, capability needed). An endpoint missing here is refused to
#: everyone but admins (fail closed), so a new endpoint cannot slip through unguarded.
ENDPOINT_RULES: dict[str, tuple[str, str | None]] = {
    "create_experiment": (ANY, None),
    "search_experiments": (ANY, None),
    "get_experiment": (EXPERIMENT, "can_read"),
    "get_experiment_by_name": (EXPERIMENT_NAME, "can_read"),
    "delete_experiment": (EXPERIMENT, "can_delete"),
    "restore_experiment": (EXPERIMENT, "can_delete"),
    "update_experiment": (EXPERIMENT, "can_update"),
    "set_experiment_tag": (EXPERIMENT, "can_update"),
    "delete_experiment_tag": (EXPERIMENT, "can_update"),
    "search_datasets": (EXPERIMENTS, "can_read"),
    "create_run": (CREATE_RUN, "can_update"),
    "update_run": (RUN, "can_update"),
    "delete_run": (RUN, "can_delete"),
    "restore_run": (RUN, "can_delete"),
    "get_run": (RUN, "can_read"),
    "log_metric": (RUN, "can_update"),
    "log_param": (RUN, "can_update"),
    "set_tag": (RUN, "can_update"),
    "delete_tag": (RUN, "can_update"),
    "log_batch": (RUN, "can_update"),
    "log_inputs": (RUN, "can_update"),
    "log_model": (RUN, "can_update"),
    "log_outputs": (RUN, "can_update"),
    "search_runs": (ANY, None),
    "get_metric_history": (RUN, "can_read"),
    "get_metric_history_bulk": (RUNS, "can_read"),
    "get_metric_history_bulk_interval": (RUNS, "can_read"),
    "list_artifacts": (RUN, "can_read"),
    "search_logged_models": (ANY, None),
}

#: The level named in refusals for each capability.
_LEVEL = {
    "can_read": "READ",
    "can_use": "USE",
    "can_update": "EDIT",
    "can_delete": "MANAGE",
    "can_manage": "MANAGE",
}
#: Most runs one call may name (MLflow's limit for the bulk metric endpoints).
MAX_RUNS = 100


def _denied(message: str) -> TrackletException:
    return TrackletException(f"Permission denied: {message}", PERMISSION_DENIED)


def authorization_header(request: Any) -> str | None:
    """The ``Authorization`` header of a Starlette request (or anything with ``headers``),
    or of a raw ASGI scope."""
    headers = getattr(request, "headers", None)
    if headers is not None:
        value = headers.get("authorization")
        return None if value is None else str(value)
    if isinstance(request, Mapping):
        for key, value in request.get("headers") or ():
            if key == b"authorization":
                return bytes(value).decode("latin-1")
    return None


def client_address(request: Any) -> str:
    """The client's address (the TCP peer) of an ASGI scope or a Starlette request; "" if unknown."""
    scope = getattr(request, "scope", request)
    client = scope.get("client") if isinstance(scope, Mapping) else None
    return str(client[0]) if client else ""


def _body_pending(scope: Mapping[str, Any]) -> bool:
    for key, value in scope.get("headers") or ():
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def refusal_headers(exc: BaseException, scope: Mapping[str, Any]) -> dict[str, str]:
    """Headers for an answer refusing a call before its body was read: the challenge on a
    401, ``Retry-After`` on a 429 from the login limits, and ``Connection: close`` when the
    request has a body nobody will read (so the server does not go on receiving it)."""
    headers: dict[str, str] = {}
    code = getattr(exc, "error_code", None)
    if code == "UNAUTHENTICATED":
        headers["WWW-Authenticate"] = 'Basic realm="tracklet"'
    retry_after = getattr(exc, "retry_after", None)
    if code == REQUEST_LIMIT_EXCEEDED and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if _body_pending(scope):
        headers["Connection"] = "close"
    return headers


class Authorizer:
    """What the server consults on every call when ``--auth`` is on (see
    ``tracklet_http.server.app``): :meth:`authenticate_scope` (before the body is read),
    :meth:`authorize`, the store call, :meth:`after`; searches filter with
    :meth:`visible_experiment_ids`; the artifact proxy calls :meth:`authorize_artifact`."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.service: AuthService = service_for(settings)
        self.routes = RouteRules(self.service)

    async def authenticate_scope(self, scope: Mapping[str, Any]) -> str:
        """The caller's user name, from the HTTP basic authentication header of an ASGI
        scope; UNAUTHENTICATED (401) without credentials or with wrong ones,
        REQUEST_LIMIT_EXCEEDED (429) over a failed-login limit. A recently verified
        credential costs one HMAC on the event loop; a password check runs on the
        hashing pool."""
        caller = await self.service.authenticate_async(authorization_header(scope), client_address(scope))
        return caller.username

    def authenticate(self, request: Any) -> str:
        """:meth:`authenticate_scope` for code on a worker thread (blocks while a password
        is checked): the caller's user name from a Starlette request or an ASGI scope."""
        header, address = authorization_header(request), client_address(request)
        return self.service.authenticate_header(header, address).username

    def caller(self, username: str) -> Caller:
        return self.service.caller(username)

    # -- the tracking API ------------------------------------------------------------------

    def authorize(self, username: str, endpoint_name: str, params: Mapping[str, Any], store: Any) -> None:
        """Refuse (PERMISSION_DENIED, 403) a call ``username`` may not make."""
        caller = self.service.caller(username)
        if caller.is_admin:
            return
        rule = ENDPOINT_RULES.get(endpoint_name)
        if rule is None:
            logger.warning("No authorization rule for endpoint %r: only admins may call it.", endpoint_name)
            raise _denied(f"only admins may call {endpoint_name}.")
        scope, capability = rule
        if scope == ANY or capability is None:
            return
        if scope in (EXPERIMENT, CREATE_RUN):
            experiment_id = params.get("experiment_id")
            if experiment_id is None or experiment_id == "":
                if scope == EXPERIMENT:
                    return  # the server refuses the call for the missing field
                experiment_id = "0"
            self._require(caller, str(experiment_id), capability, endpoint_name)
        elif scope == EXPERIMENT_NAME:
            name = params.get("experiment_name")
            experiment = store.get_experiment_by_name(name) if isinstance(name, str) and name else None
            if experiment is None:
                return  # the server answers RESOURCE_DOES_NOT_EXIST, as MLflow's auth app does
            self._require(caller, str(experiment.experiment_id), capability, endpoint_name)
        elif scope == RUN:
            run_id = params.get("run_id")
            if run_id:
                self._require_run(caller, store, str(run_id), capability, endpoint_name)
        elif scope == RUNS:
            run_ids = list(dict.fromkeys(str(r) for r in params.get("run_ids") or params.get("run_id") or ()))
            if len(run_ids) > MAX_RUNS:
                raise TrackletException(
                    f"Invalid value for parameter 'run_ids': at most {MAX_RUNS} runs per call, got {len(run_ids)}.",
                    INVALID_PARAMETER_VALUE,
                )
            for run_id in run_ids:
                self._require_run(caller, store, run_id, capability, endpoint_name)
        elif scope == EXPERIMENTS:
            experiment_ids = list(dict.fromkeys(str(e) for e in params.get("experiment_ids") or ()))
            if len(experiment_ids) > MAX_RUNS:
                return  # the handler refuses so many (MLflow allows 20), before any store work
            for experiment_id in experiment_ids:
                self._require(caller, experiment_id, capability, endpoint_name)

    def authorize_experiment(self, username: str, experiment_id: str, capability: str, what: str) -> None:
        """Refuse (403) ``username`` lacking ``capability`` (``can_read``, ``can_update``,
        ``can_delete``) on the experiment: the trace routes and the OTLP receiver, whose
        experiment comes from the trace they name or a header."""
        caller = self.service.caller(username)
        if caller.is_admin:
            return
        self._require(caller, str(experiment_id), capability, what)

    def _require(self, caller: Caller, experiment_id: str, capability: str, endpoint_name: str) -> None:
        permission = self.service.permission(caller, experiment_id)
        if not getattr(permission, capability):
            raise _denied(
                f"{endpoint_name} needs {_LEVEL[capability]} permission on experiment {experiment_id}; "
                f"user '{caller.username}' has {permission.name}."
            )

    def _require_run(
        self, caller: Caller, store: Any, run_id: str, capability: str, endpoint_name: str
    ) -> None:
        experiment_id = self.service.experiment_of_run(store, run_id)
        if experiment_id is None:
            if getattr(self.service.default, capability):
                return  # no such run: the server answers 404, which tells nothing new
            raise _denied(f"{endpoint_name} needs {_LEVEL[capability]} permission on the run's experiment.")
        permission = self.service.permission(caller, experiment_id)
        if not getattr(permission, capability):
            raise _denied(
                f"{endpoint_name} needs {_LEVEL[capability]} permission on the run's experiment; "
                f"user '{caller.username}' has {permission.name}."
            )

    def after(self, username: str, endpoint_name: str, params: Mapping[str, Any], result: Any) -> None:
        """After a successful call: the creator of an experiment gets MANAGE on it; a new
        run's experiment is remembered (saves a lookup on the run's first write)."""
        if endpoint_name == "create_experiment":
            if result is None:
                logger.warning("create_experiment returned no id: the creator was not granted MANAGE.")
                return
            self.service.grant_creator(self.service.caller(username), str(result))
        elif endpoint_name == "create_run" and result is not None:
            info = getattr(result, "info", None)
            if info is not None and info.run_id:
                self.service.remember_run(str(info.run_id), str(info.experiment_id))

    def visible_experiment_ids(self, username: str) -> set[str] | None:
        """The experiments ``username`` may read: None means all of them (an admin, or a
        default permission that allows reading)."""
        return self.service.visible_experiment_ids(self.service.caller(username))

    # -- routes contributed by plugins -------------------------------------------------------

    def authorize_route(
        self,
        username: str,
        permission: Any,
        params: Mapping[str, Any],
        store_access: Any,
        route: Any = None,
    ) -> None:
        """Refuse (PERMISSION_DENIED, 403) a call of a contributed route ``username`` may not make.

        :param permission: the route's :class:`tracklet.routes.RoutePermission`, or None
            (any signed-in user may call it).
        :param params: the request's checked fields (and path parameters).
        :param store_access: the route's :class:`tracklet.routes.RouteRequest` (its
            ``tracking_store`` and ``registry_store`` are used to find a run's or logged
            model's experiment).
        :param route: the :class:`tracklet.routes.Route` (or its name), for messages.
        """
        name = getattr(route, "name", route)
        self.routes.authorize(
            self.service.caller(username), permission, params, store_access, str(name) if name else ""
        )

    def after_route(
        self, username: str, route: Any, params: Mapping[str, Any], result: Any, store_access: Any
    ) -> Any:
        """After a contributed route succeeded: keep registered model grants in step
        (create: MANAGE for the creator; rename: the grants follow; delete: they go) and
        return the answer to send (a search answers only what ``username`` may read).

        :param route: the :class:`tracklet.routes.Route` (its path and name say what
            happened; its handler fetches further pages of a filtered search), or its name.
        :param result: the handler's answer (a dict).
        :param store_access: the route's :class:`tracklet.routes.RouteRequest`.
        """
        return self.routes.after(self.service.caller(username), route, params, result, store_access)

    def visible_model_names(self, username: str) -> set[str] | None:
        """The registered models ``username`` may read: None means all of them."""
        return self.service.visible_model_names(self.service.caller(username))

    # -- the artifact proxy ----------------------------------------------------------------

    def may_replace_artifact(self, username: str, path: str) -> bool:
        """Whether ``username`` may overwrite the artifact at ``path``: that needs what
        deleting it needs (MANAGE), since it destroys the old content just the same."""
        try:
            self.authorize_artifact(username, path, True, delete=True)
        except TrackletException as exc:
            if exc.error_code != PERMISSION_DENIED:
                raise
            return False
        return True

    def authorize_artifact(self, username: str, path: str, write: bool, delete: bool = False) -> None:
        """Refuse an artifact proxy call ``username`` may not make. ``path`` is relative to
        the proxy's root, ``<experiment id>/<run id>/artifacts/…``: its first segment names
        the experiment (a path that names none — the root, or a folder that is no
        experiment — is judged by the default permission, as in MLflow). Reading needs
        READ, writing EDIT, deleting (``delete=True``) MANAGE."""
        caller = self.service.caller(username)
        if caller.is_admin:
            return
        normalized = posixpath.normpath("/" + (path or "").replace("\\", "/")).lstrip("/")
        if ".." in (path or "").replace("\\", "/").split("/"):
            raise _denied("artifact paths may not contain '..'.")
        experiment_id = normalized.split("/", 1)[0]
        capability = "can_delete" if delete else "can_update" if write else "can_read"
        permission = self.service.permission(caller, experiment_id) if experiment_id else self.service.default
        if not getattr(permission, capability):
            where = f"experiment {experiment_id}" if experiment_id else "the artifact root"
            raise _denied(
                f"{'deleting' if delete else 'writing' if write else 'reading'} artifacts needs "
                f"{_LEVEL[capability]} permission on {where}; user '{caller.username}' has {permission.name}."
            )
