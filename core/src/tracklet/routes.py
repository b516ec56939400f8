"""Server routes and the HTTP transport, described without a web framework.

A plugin that adds to the tracking server's REST API (the model registry, a UI, a
team's own endpoints) never imports the server: it returns :class:`Route` objects from
the ``tracklet_server_routes`` hook, and whichever plugin serves ``tracklet server``
(tracklet-http) mounts them, checks their :class:`Field` declarations with MLflow's
wording, authorizes them by their :class:`RoutePermission`, runs the handler off the
event loop and writes its answer as JSON::

    from tracklet.plugins import hookimpl
    from tracklet.routes import Field, Route, RoutePermission, RouteRequest

    def get_widget(request: RouteRequest) -> dict:
        return {"widget": {"name": request.params["name"]}}

    @hookimpl
    def tracklet_server_routes():
        return [
            Route(
                "get_widget", "GET", "/api/2.0/mlflow/widgets/get", get_widget,
                fields=(Field("name", required=True),),
                summary="Get a widget.",
                permission=RoutePermission("experiment", "experiment_id", "READ"),
            )
        ]

A handler that answers with a file rather than JSON (a download) returns a
:class:`FileAnswer`: the server streams it as an attachment, honouring ``Range``, and then
calls its ``cleanup``.

A plugin that ships a web page (a UI) returns :class:`Assets` from the same hook, beside
its routes: a folder of files the server serves as they are under a URL prefix::

    @hookimpl
    def tracklet_server_routes():
        folder = os.path.join(os.path.dirname(__file__), "static")
        return [Assets("widgets-ui", "/widgets", folder), *widget_routes()]

A plugin that talks to a tracking server (a REST store of its own) never writes its own
HTTP client either: :func:`tracklet.plugins.http_transport` returns an
:class:`HttpTransport` with the retries, credentials, TLS settings, plugin headers and
fork safety every tracklet client shares.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "Assets",
    "FIELD_TYPES",
    "HTTP_METHODS",
    "FileAnswer",
    "PERMISSION_LEVELS",
    "PERMISSION_RESOURCES",
    "Field",
    "HttpTransport",
    "Route",
    "RouteHandler",
    "RoutePermission",
    "RouteRequest",
]

#: Methods a route may answer.
HTTP_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

#: Field types a contributed route may declare, and what the handler receives for each:
#:
#: * ``"string"`` -> ``str``; ``"int64"``/``"int32"`` -> ``int`` (a JSON number or a
#:   decimal string); ``"double"`` -> ``float`` (also ``"NaN"``, ``"Infinity"``);
#:   ``"bool"`` -> ``bool`` (also ``"true"``/``"false"`` in a query string);
#: * ``"ExperimentId"``, ``"RunId"`` -> ``str`` in the id's one spelling;
#: * ``"ViewType"`` -> ``int``; ``"RunStatus"`` -> ``str``;
#: * ``"Param"``, ``"RunTag"``, ``"ExperimentTag"``, ``"Metric"``, ``"DatasetInput"`` ->
#:   the tracklet entity;
#: * ``"KeyValue"`` -> ``(key, value)``, a tuple of two strings, from ``{"key", "value"}``
#:   (the shape of every MLflow tag and parameter);
#: * ``"object"`` -> the JSON object as it came (a ``dict``), for shapes of your own.
FIELD_TYPES = frozenset(
    {
        "string",
        "int64",
        "int32",
        "double",
        "bool",
        "ExperimentId",
        "RunId",
        "ViewType",
        "RunStatus",
        "Param",
        "RunTag",
        "ExperimentTag",
        "Metric",
        "DatasetInput",
        "KeyValue",
        "object",
    }
)

#: What a :class:`RoutePermission` may protect.
PERMISSION_RESOURCES = ("experiment", "registered_model", "run", "logged_model")
#: Permission levels, weakest first. ``"CREATE"`` is for endpoints that create the
#: resource: any authenticated user may call them, and the creator is then granted
#: ``MANAGE`` on what they created (as MLflow's auth does).
PERMISSION_LEVELS = ("READ", "USE", "EDIT", "MANAGE", "CREATE")

_PATH = re.compile(r"^(/[A-Za-z0-9._~\-]+|/\{[A-Za-z_][A-Za-z0-9_]*\})+$")
#: An assets prefix: one or more plain segments, none of them dot-only.
_PREFIX = re.compile(r"^(/[A-Za-z0-9_~\-][A-Za-z0-9._~\-]*)+$")


@dataclasses.dataclass(frozen=True)
class Field:
    """One request field of a route.

    :param name: the field's name in the JSON body (or query string of a GET).
    :param type: one of :data:`FIELD_TYPES` (tracklet-http's own endpoints also use the
        object schemas of its protocol module).
    :param required: refuse the request, in MLflow's words, when the field is missing.
    :param repeated: a JSON array (repeated query parameters in a GET); the handler
        receives a list.
    :param doc: one line for the OpenAPI document.
    """

    name: str
    type: str = "string"
    required: bool = False
    repeated: bool = False
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class RoutePermission:
    """What a caller must be allowed to do for a route to run (with ``tracklet server --auth``).

    :param resource: one of :data:`PERMISSION_RESOURCES`.
    :param key: the request parameter naming the resource (``"name"`` for a registered
        model, ``"experiment_id"``, ``"run_id"``, ``"model_id"``).
    :param level: one of :data:`PERMISSION_LEVELS`.
    """

    resource: str
    key: str
    level: str

    def __post_init__(self) -> None:
        if self.resource not in PERMISSION_RESOURCES:
            raise ValueError(
                f"RoutePermission resource must be one of {PERMISSION_RESOURCES}, got {self.resource!r}"
            )
        if self.level not in PERMISSION_LEVELS:
            raise ValueError(f"RoutePermission level must be one of {PERMISSION_LEVELS}, got {self.level!r}")
        if not self.key:
            raise ValueError("RoutePermission key must name the request parameter that names the resource")


class RouteRequest(Protocol):
    """What a route's handler receives: the checked request and the server's stores.

    Built by the server for each call; handlers run in the server's store thread pool,
    so they may block on the stores.
    """

    @property
    def params(self) -> dict[str, Any]:
        """The declared fields, checked and converted (JSON body for POST/PATCH/PUT/DELETE,
        query string for GET), plus the path parameters."""
        ...

    @property
    def path_params(self) -> dict[str, str]:
        """The ``{name}`` segments of the route's path, as they came."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers, names in lower case, without the caller's credentials
        (``Authorization``, ``Cookie``): :attr:`username` says who is calling."""
        ...

    @property
    def username(self) -> str | None:
        """The authenticated caller, or None when the server runs without ``--auth``."""
        ...

    @property
    def tracking_store(self) -> Any:
        """The server's :class:`~tracklet.stores.TrackingStore`."""
        ...

    @property
    def registry_store(self) -> Any:
        """The server's :class:`~tracklet.stores.RegistryStore`, built on first use from
        ``tracklet server --registry-store-uri`` (default: the backend store URI)."""
        ...

    @property
    def artifact_root(self) -> str | None:
        """The server's default artifact root (``--default-artifact-root``)."""
        ...

    @property
    def serve_artifacts(self) -> bool:
        """Whether the server proxies artifacts (``--serve-artifacts``)."""
        ...

    @property
    def allowed_source_roots(self) -> tuple[str, ...]:
        """The artifact roots this server owns: where sources a client names may live."""
        ...


#: A route handler: the request in, the JSON answer (a dict) out; errors are raised as
#: :class:`~tracklet.exceptions.TrackletException` and answered as MLflow does.
RouteHandler = Callable[[RouteRequest], "dict[str, Any]"]


@dataclasses.dataclass(frozen=True)
class Route:
    """One REST endpoint a plugin adds to ``tracklet server``.

    :param name: unique operation name (the OpenAPI ``operationId``), e.g.
        ``"create_registered_model"``.
    :param method: the HTTP method clients use; ``also`` lists other methods accepted.
    :param path: the full path, e.g. ``/api/2.0/mlflow/registered-models/create``; may
        carry ``{param}`` segments. A path under ``/api/2.0/mlflow/`` is also served
        under MLflow's UI alias ``/ajax-api/2.0/mlflow/``. A route may not take the path
        of one of the server's own endpoints.
    :param handler: ``handler(request: RouteRequest) -> dict``, synchronous.
    :param fields: the request fields, checked before the handler runs; fields not
        declared are dropped, as MLflow's server does.
    :param summary: one line for the OpenAPI document.
    :param permission: what the caller needs with ``--auth``; None: any authenticated
        user may call it.
    :param also: more methods the route answers.
    """

    name: str
    method: str
    path: str
    handler: RouteHandler
    fields: Sequence[Field] = ()
    summary: str = ""
    permission: RoutePermission | None = None
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for method in self.methods:
            if method not in HTTP_METHODS:
                raise ValueError(f"Route {self.name!r}: method must be one of {HTTP_METHODS}, got {method!r}")
        if not _PATH.match(self.path):
            raise ValueError(
                f"Route {self.name!r}: path must be absolute, like /api/2.0/mlflow/widgets/get "
                f"(with {{param}} segments if needed), got {self.path!r}"
            )
        for f in self.fields:
            if f.type not in FIELD_TYPES:
                raise ValueError(
                    f"Route {self.name!r}: field {f.name!r} has type {f.type!r}; "
                    f"expected one of {sorted(FIELD_TYPES)}"
                )
        object.__setattr__(self, "fields", tuple(self.fields))

    @property
    def methods(self) -> tuple[str, ...]:
        """Every method the route answers."""
        return (self.method, *self.also)

    @property
    def path_param_names(self) -> tuple[str, ...]:
        """The names of the path's ``{param}`` segments, in order."""
        return tuple(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.path))


class FileAnswer(dict):  # type: ignore[type-arg]
    """A route's answer that is a file: ``tracklet server`` streams ``local_file`` as an
    attachment named ``filename`` (``Content-Disposition``; ``Range`` honoured), then calls
    ``cleanup()`` (e.g. to remove a temporary copy) whether or not the transfer finished.

    It is an empty dict, so a server that does not know the type answers ``{}`` rather
    than leak anything of the file."""

    def __init__(self, local_file: str, filename: str, cleanup: Callable[[], object] = lambda: None) -> None:
        super().__init__()
        self.local_file = local_file
        self.filename = filename
        self.cleanup = cleanup


class HttpTransport(Protocol):
    """JSON calls to one tracking server (from :func:`tracklet.plugins.http_transport`).

    Carries the credentials, TLS settings, timeouts, retries and plugin headers every
    tracklet client uses, and is safe to use after a fork.
    """

    @property
    def base_url(self) -> str:
        """The server's URL without credentials, e.g. ``https://host:5000/prefix``."""
        ...

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One call: ``method base_url+path`` with ``json`` as the body and ``params`` in
        the query string (lists repeat the name); returns the answer's JSON object.

        :param idempotent: whether repeating the call after an unknown outcome (a broken
            connection, a 500) is harmless, so it may be retried.
        :raises tracklet.exceptions.TrackletException: with the server's error code
            (a :class:`~tracklet.exceptions.RestException` for MLflow's error JSON).
        """
        ...


@dataclasses.dataclass(frozen=True)
class Assets:
    """Files a plugin serves as they are (a web UI's pages, scripts and styles), returned
    from ``tracklet_server_routes`` beside its :class:`Route` objects.

    The server answers ``GET``/``HEAD`` of ``<prefix>/<relative path>`` with the file at
    ``<directory>/<relative path>``: never a file outside ``directory`` (``..``, symbolic
    links leading out, dot-files: 404), with a content type by extension, an ``ETag`` (and
    ``304`` to a matching ``If-None-Match``), ``Cache-Control: no-cache`` and a strict
    ``Content-Security-Policy`` (scripts and styles from the server's own origin only: no
    inline scripts). The server's authentication, host checks and CORS apply to them as
    to the API.

    :param name: unique among the installed plugins' assets, e.g. ``"tracklet-ui"``.
    :param prefix: the URL prefix, ``/`` and plain segments (``/ui``, ``/widgets/v2``);
        may not overlap another plugin's prefix or a path of the server's own API.
    :param directory: the absolute path of the folder holding the files.
    :param index: the file answered at ``<prefix>/`` (``<prefix>`` redirects there).
    :param root: whether ``GET /`` redirects (302, relative ``Location``) to
        ``<prefix>/``; the browser keeps the ``#/...`` fragment across the redirect, so
        links like ``http://host:5000/#/experiments/1`` reach the page. At most one
        installed plugin's assets may set it.
    """

    name: str
    prefix: str
    directory: str
    index: str = "index.html"
    root: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ValueError("Assets name must be a non-empty string, e.g. 'tracklet-ui'")
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            raise ValueError(
                f"Assets {self.name!r}: prefix must start with '/' and be plain path segments without "
                f"a trailing '/', like '/ui' or '/widgets/v2', got {self.prefix!r}"
            )
        if not isinstance(self.directory, str) or not os.path.isabs(self.directory):
            raise ValueError(
                f"Assets {self.name!r}: directory must be an absolute path (build it from the "
                f"package's __file__), got {self.directory!r}"
            )
        index = self.index
        if (
            not index
            or "/" in index
            or "\\" in index
            or index in (".", "..")
            or index.startswith(".")
            or "\x00" in index
        ):
            raise ValueError(
                f"Assets {self.name!r}: index must be a file name inside the directory, like "
                f"'index.html', got {index!r}"
            )

    def overlaps(self, other: Assets) -> bool:
        """Whether one prefix lies inside the other (``/ui`` and ``/ui/x``, or equal)."""
        mine, theirs = self.prefix + "/", other.prefix + "/"
        return mine.startswith(theirs) or theirs.startswith(mine)
