"""The REST routes other plugins contribute to ``tracklet server`` (the model registry,
a UI, a team's own endpoints), through the ``tracklet_server_routes`` hook.

A :class:`tracklet.routes.Route` is described without a web framework; this module turns
the installed ones into a :class:`ContributedRoutes` table the tracking API's dispatcher
(:class:`tracklet_http.server.app.TrackingApi`) consults when a path is not one of its
own: a dict lookup for plain paths, then the ``{param}`` templates in order. Each route
is mounted at its path and, for ``/api/2.0/mlflow/…``, at MLflow's UI alias
``/ajax-api/2.0/mlflow/…``. Its fields are checked by the same parser as the built-in
endpoints (:func:`tracklet_http.protocol.parse_request`, MLflow's messages); its handler
runs in the store thread pool with a :class:`ServerRouteRequest`.

A route may not take the path (or name) of one of the server's own endpoints: the server
refuses to start, naming both. The exceptions are the :data:`FALLBACKS`, built-in stand-ins
for another plugin's product (``logged-models/search`` answers an empty page so MLflow 3's
client keeps working without the registry plugin): a route with the same name, method and
path replaces them.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.routes import Route
from tracklet.uri import get_scheme, is_local_uri
from tracklet_http.protocol import API_PREFIX, ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint
from tracklet_http.server.settings import ServerSettings

__all__ = [
    "AJAX_PREFIX",
    "FALLBACKS",
    "ContributedRoute",
    "ContributedRoutes",
    "ServerRouteRequest",
    "allowed_source_roots",
    "contributed_routes",
]

#: The prefix MLflow's web UI uses for the same API.
AJAX_PREFIX = "/ajax-api/2.0/mlflow"
#: MLflow 3's API prefix (the 3.x trace endpoints) and its UI alias.
API3_PREFIX = "/api/3.0/mlflow"
AJAX3_PREFIX = "/ajax-api/3.0/mlflow"
#: Built-in endpoints a plugin's route of the same name, method and path replaces.
FALLBACKS = frozenset({"search_logged_models"})


@dataclass(frozen=True)
class ContributedRoute:
    """A plugin's route, ready to serve: the route and the endpoint its fields parse as."""

    route: Route
    endpoint: Endpoint
    pattern: re.Pattern[str] | None  # None: a plain path, found by dict lookup

    @property
    def read_only(self) -> bool:
        """Whether the route only reads (a GET): on sqlite it runs on the read thread."""
        return self.route.method == "GET"


def _endpoint(route: Route) -> Endpoint:
    # parse_request and check_ranges read only the name and the fields; the path is the
    # full one (the OpenAPI document prints it as it is).
    return Endpoint(
        route.name, route.method, route.path, tuple(route.fields), also=route.also, summary=route.summary
    )


def _pattern(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", path)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def _aliases(path: str) -> tuple[str, ...]:
    if path.startswith(API_PREFIX + "/"):
        return (path, AJAX_PREFIX + path[len(API_PREFIX) :])
    if path.startswith(API3_PREFIX + "/"):
        return (path, AJAX3_PREFIX + path[len(API3_PREFIX) :])
    return (path,)


class ContributedRoutes:
    """Every contributed route, by path; :meth:`match` finds the one serving a path."""

    def __init__(self, routes: Iterable[Route], reserved: Iterable[tuple[str, Any]] = ()) -> None:
        """:param reserved: ``(path or template, what serves it)`` of the server's own
        routes besides the tracking API (health, artifacts, auth…), checked for shadowing."""
        self.routes: list[ContributedRoute] = []
        self.plain: dict[str, ContributedRoute] = {}
        self.templated: list[tuple[re.Pattern[str], ContributedRoute]] = []
        #: (plain path, method) -> route, for paths several routes share by method
        self.by_method: dict[tuple[str, str], ContributedRoute] = {}
        #: paths of built-in fallbacks (:data:`FALLBACKS`) a contributed route replaces
        self.replaced: set[str] = set()
        builtin = {API_PREFIX + e.path: e.name for e in ENDPOINTS}
        builtin.update({AJAX_PREFIX + e.path: e.name for e in ENDPOINTS})
        reserved = list(reserved)
        for route in routes:
            fallback = ENDPOINTS_BY_NAME.get(route.name) if route.name in FALLBACKS else None
            if fallback is not None and (
                fallback.methods != route.methods or API_PREFIX + fallback.path != route.path
            ):
                raise _shadowing(
                    route, f"the server's own endpoint '{route.name}' unless it has its method and path"
                )
            if route.name in ENDPOINTS_BY_NAME and fallback is None:
                raise _shadowing(route, f"the server's own endpoint '{route.name}'")
            entry = ContributedRoute(route, _endpoint(route), None)
            for path in _aliases(route.path):
                sample = re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", "x", path)
                if fallback is not None:
                    self.replaced.add(path)
                elif path in builtin or sample in builtin:
                    raise _shadowing(
                        route, f"the server's own endpoint '{builtin.get(path) or builtin[sample]}' ({path})"
                    )
                for served, what in reserved:
                    if served == path or _matches(served, sample):
                        raise _shadowing(route, f"the server's own route {what} ({served})")
                pattern = _pattern(path)
                if pattern is None:
                    served_here = ContributedRoute(route, entry.endpoint, None)
                    self.plain.setdefault(path, served_here)
                    for method in route.methods:  # one path, several methods (MLflow's alias API)
                        self.by_method.setdefault((path, method), served_here)
                else:
                    self.templated.append((pattern, ContributedRoute(route, entry.endpoint, pattern)))
            self.routes.append(entry)

    def __bool__(self) -> bool:
        return bool(self.routes)

    def methods_at(self, path: str) -> tuple[str, ...]:
        """Every method some route answers at the plain ``path`` (for a 405's ``Allow``)."""
        return tuple(method for (served, method) in self.by_method if served == path)

    def match(self, path: str, method: str | None = None) -> tuple[ContributedRoute, dict[str, str]] | None:
        """The route serving ``path`` (for ``method``, when several routes share the path by
        method) and its path parameters, or None."""
        if method is not None:
            found = self.by_method.get((path, method))
            if found is not None:
                return found, {}
        found = self.plain.get(path)
        if found is not None:
            return found, {}
        first: tuple[ContributedRoute, dict[str, str]] | None = None
        for pattern, entry in self.templated:
            m = pattern.match(path)
            if m is not None:
                if method is None or method in entry.route.methods:
                    return entry, m.groupdict()
                first = first or (entry, m.groupdict())
        return first


def _matches(served: str, path: str) -> bool:
    """Whether a Starlette route template (``/x/{path:path}``) or prefix serves ``path``."""
    if "{" not in served:
        return served == path
    regex = re.sub(r"\{[^}:]+:path\}", ".*", re.escape(served).replace(r"\{", "{").replace(r"\}", "}"))
    regex = re.sub(r"\{[^}]+\}", "[^/]+", regex)
    return re.fullmatch(regex, path) is not None


def _shadowing(route: Route, what: str) -> TrackletException:
    return TrackletException(
        f"The contributed server route '{route.name}' ({route.method} {route.path}) would shadow {what}. "
        "A plugin's route needs a path and a name of its own: change the plugin, or uninstall it.",
        INVALID_PARAMETER_VALUE,
    )


def contributed_routes(
    reserved: Iterable[tuple[str, Any]] = (), builtin: Iterable[Route] = ()
) -> ContributedRoutes:
    """The installed plugins' routes (:func:`tracklet.plugins.server_routes`), checked,
    after ``builtin`` (the server's own routes served the same way: the trace API).

    :raises TrackletException: when one would shadow a route of the server's (or two
        plugins' routes collide).
    """
    from tracklet.plugins import server_routes

    return ContributedRoutes([*builtin, *server_routes()], reserved)


def allowed_source_roots(settings: ServerSettings) -> tuple[str, ...]:
    """The artifact roots this server owns: the default artifact root and, with the proxy
    on, its destination (local paths made absolute)."""
    roots = [settings.default_artifact_root]
    if settings.serve_artifacts:
        roots.append(settings.artifacts_destination)
    out: list[str] = []
    for root in roots:
        if not root:
            continue
        if is_local_uri(root) and get_scheme(root) == "":
            root = os.path.abspath(root)
        if root not in out:
            out.append(root)
    return tuple(out)


class _RegistryStoreHolder:
    """The server's registry store, built on first use (most servers never need it)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._store: Any = None

    def get(self) -> Any:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from tracklet.plugins import get_registry_store

                    uri = self.settings.registry_store_uri or self.settings.backend_store_uri
                    self._store = get_registry_store(uri, tracking_uri=self.settings.backend_store_uri)
        return self._store


@dataclass
class ServerRouteRequest:
    """The :class:`tracklet.routes.RouteRequest` a contributed route's handler receives."""

    params: dict[str, Any]
    path_params: dict[str, str]
    headers: Mapping[str, str]
    username: str | None
    tracking_store: Any
    settings: ServerSettings
    registry_holder: _RegistryStoreHolder = field(repr=False)
    #: the server's authorizer (None without ``--auth``), for routes whose permission
    #: depends on what they name (a trace's experiment)
    authorizer: Any = field(default=None, repr=False)

    @property
    def registry_store(self) -> Any:
        """The registry store (``--registry-store-uri``, default the backend store URI)."""
        return self.registry_holder.get()

    @property
    def artifact_root(self) -> str | None:
        """The server's default artifact root."""
        return str(self.settings.default_artifact_root) if self.settings.default_artifact_root else None

    @property
    def serve_artifacts(self) -> bool:
        """Whether the artifact proxy is on."""
        return bool(self.settings.serve_artifacts)

    @property
    def allowed_source_roots(self) -> tuple[str, ...]:
        """The artifact roots this server owns."""
        return allowed_source_roots(self.settings)


def registry_holder(settings: ServerSettings) -> _RegistryStoreHolder:
    """A lazy holder of the server's registry store, one per app."""
    return _RegistryStoreHolder(settings)
