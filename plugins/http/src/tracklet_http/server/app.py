"""The ``tracklet server`` ASGI application.

:func:`create_app` builds a Starlette app; the tracking API itself does not go through
Starlette's router. Every endpoint of :data:`tracklet_http.protocol.ENDPOINTS` (at
``/api/2.0/mlflow/…`` and MLflow's ``/ajax-api/2.0/mlflow/…`` alias) is found with one
dict lookup by :class:`TrackingApi`, a plain ASGI layer in front of the router, which
(with ``--auth``) first authenticates the caller from the headers alone — a stranger's
body is never read, and passwords are checked on the auth hashing pool, never on the
event loop (:mod:`tracklet_http.server.auth.service`) — then reads the body, checks
the fields (:func:`~tracklet_http.protocol.parse_request`), runs the handler and its
store call in a thread pool (never on the event loop: see :func:`_store_executors`), and
writes MLflow's JSON. The router serves the rest: ``/health``, ``/version``,
``/metrics``, ``/openapi.json``, MLflow's UI download route ``/get-artifact``, the
artifact proxy and the auth API, the plugins' static files and ``GET /``
(:mod:`~tracklet_http.server.assets`; MLflow's UI with ``--mlflow-ui``:
:mod:`~tracklet_http.server.mlflow_ui`), and answers 404/405 as JSON.

The stack, outside in: Starlette's error guard -> :class:`RequestTimer` (Prometheus)
-> :class:`~tracklet_http.server.security.SecurityMiddleware` (Host, Origin,
Content-Type) -> :class:`TrackingApi` -> Starlette's router.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tracklet.exceptions import TrackletException
from tracklet.uri import get_scheme
from tracklet_http.fast_json import encode_answer
from tracklet_http.protocol import (
    API_PREFIX,
    ENDPOINTS,
    ENDPOINTS_BY_NAME,
    MLFLOW_API_VERSION,
    Endpoint,
    parse_request,
)
from tracklet_http.server.contributed import (
    ContributedRoute,
    ContributedRoutes,
    ServerRouteRequest,
    contributed_routes,
    registry_holder,
)
from tracklet_http.server.errors import (
    bad_parameter,
    bad_request,
    exception_answer,
    http_exception_handler,
    internal_error_handler,
    send_bytes,
    send_error,
    tracklet_exception_handler,
)
from tracklet_http.server.gc_tuning import tune_worker_gc
from tracklet_http.server.graphql import graphql_routes
from tracklet_http.server.handlers import HANDLERS, Call, Handler, ServerState, check_ranges
from tracklet_http.server.hop import run_on
from tracklet_http.server.imports import import_routes
from tracklet_http.server.metrics import RequestMetrics, endpoint_family
from tracklet_http.server.mlflow_ui_api import mlflow_ui_api_routes
from tracklet_http.server.security import SecurityMiddleware
from tracklet_http.server.settings import ServerSettings
from tracklet_http.server.traces import trace_routes

__all__ = [
    "AJAX_PREFIX",
    "RequestTimer",
    "TrackingApi",
    "app_factory",
    "check_pages",
    "create_app",
    "reserved_paths",
]

logger = logging.getLogger("tracklet_http.server")

#: The prefix MLflow's web UI uses for the same API.
AJAX_PREFIX = "/ajax-api/2.0/mlflow"
#: The OTLP/HTTP trace receiver's path (OpenTelemetry's, and MLflow's).
OTLP_TRACES_PATH = "/v1/traces"
#: Most query fields one GET may carry: room for MLflow's own checks to answer first (its
#: UI and tests send 1,000 run ids to the bulk metric endpoints and expect "at most 100
#: run_ids"); ``--max-header-size`` bounds the query string's bytes anyway.
MAX_QUERY_FIELDS = 10_000
#: Worker threads for blocking store calls, per process (network databases).
STORE_THREADS = 16
#: The GIL's switch interval in a server worker (Python's default is 5 ms). A store thread
#: building a search page runs Python for milliseconds; the event loop, woken to send the
#: previous answer or read the next request, waited up to the whole interval for the GIL,
#: leaving the store thread without its next request and the client without its answer.
#: At 0.5 ms: sqlite runs/search over 1,000 runs 59/57/91 -> 169/176/110 req/s and
#: PostgreSQL 62/98 -> 147/134 (bench/server.py --workers 2, 4 clients, A/B interleaved,
#: machine load 11-14); log-batch, whose store thread waits in the database with the GIL
#: released, did not move beyond the noise.
SWITCH_INTERVAL_S = 0.0005
#: Tracking calls that only read: on sqlite they run on their own thread (see
#: :func:`_store_executors`).
READ_ONLY = frozenset(name for name in ENDPOINTS_BY_NAME if name.startswith(("get_", "search_", "list_")))

_UNAUTHENTICATED_HEADERS = ((b"www-authenticate", b'Basic realm="tracklet"'),)
#: Headers a contributed route's handler never sees: the caller's credentials.
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_encode = json.JSONEncoder(separators=(",", ":")).encode
_Answer = tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]


def _route_table() -> dict[str, tuple[Endpoint, Handler]]:
    table: dict[str, tuple[Endpoint, Handler]] = {}
    for endpoint in ENDPOINTS:
        for prefix in (API_PREFIX, AJAX_PREFIX):
            table[prefix + endpoint.path] = (endpoint, HANDLERS[endpoint.name])
    return table


def _content_length(scope: dict[str, Any]) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_file_answer(scope: dict[str, Any], receive: Any, send: Any, answer: Any) -> None:
    """Stream the file a contributed route answered with (``answer.local_file``, sent as
    ``answer.filename``), then run ``answer.cleanup()``."""
    from tracklet_http.server.artifacts import FileStream

    try:
        f = open(answer.local_file, "rb")  # noqa: SIM115 - closed by the response
        st = os.fstat(f.fileno())
    except BaseException:
        answer.cleanup()
        raise
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    stream = FileStream(
        f,
        answer.filename,
        st.st_size,
        st.st_mtime,
        headers.get("range"),
        scope["method"] == "HEAD",
        answer.cleanup,
    )
    await stream(scope, receive, send)


class TrackingApi:
    """The REST API's dispatcher: path -> endpoint by dict lookup, then (with ``--auth``)
    the caller from the headers, then body, fields, authorization, handler, JSON. Paths
    it does not know go on to ``app`` (the router)."""

    def __init__(
        self,
        app: Any,
        state: ServerState,
        executor: ThreadPoolExecutor | None = None,
        read_executor: ThreadPoolExecutor | None = None,
        contributed: ContributedRoutes | None = None,
    ) -> None:
        """:param executor: where blocking work runs; None runs it on the event loop.
        :param read_executor: where calls that only read run, if not on ``executor``.
        :param contributed: the routes plugins contribute (:mod:`~tracklet_http.server.contributed`)."""
        self.app = app
        self.state = state
        self.routes = _route_table()
        self.contributed = contributed if contributed is not None else ContributedRoutes(())
        for path in self.contributed.replaced:  # built-in stand-ins a plugin's route replaces
            self.routes.pop(path, None)
        self.registry = registry_holder(state.settings)
        self.max_body = state.settings.max_body_bytes
        self.executor = executor
        self.read_executor = read_executor or executor

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None and scope["type"] == "http" and scope["path"] == OTLP_TRACES_PATH:
            await self._otlp(scope, receive, send)
            return
        if route is None:
            found = (
                self.contributed.match(scope["path"], scope["method"])
                if scope["type"] == "http" and self.contributed
                else None
            )
            if found is None:
                await self.app(scope, receive, send)
            else:
                await self._contributed(scope, receive, send, *found)
            return
        endpoint, handler = route
        method = scope["method"]
        if method not in endpoint.methods:
            allowed = ", ".join(endpoint.methods)
            await send_error(
                send,
                405,
                "BAD_REQUEST",
                f"Method {method} is not allowed for {scope['path']}. Allowed: {allowed}.",
                ((b"allow", allowed.encode()),),
            )
            return
        user = None
        if self.state.authorizer is not None:  # who first, from the headers alone
            user = await self._authenticate(scope, send)
            if user is None:
                return
        if method == "GET":
            data: Any = scope["query_string"]
        else:
            try:
                data = await self._read_body(scope, receive)
            except TrackletException as exc:
                status, body = exception_answer(exc)
                await send_bytes(send, status, body, extra_headers=((b"connection", b"close"),))
                return
        executor = self.read_executor if endpoint.name in READ_ONLY else self.executor
        if executor is None:
            status, body, headers = self._work(endpoint, handler, method, data, user)
        else:
            status, body, headers = await run_on(executor, self._work, endpoint, handler, method, data, user)
        await send_bytes(send, status, body, extra_headers=headers)

    async def _contributed(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        entry: ContributedRoute,
        path_params: dict[str, str],
    ) -> None:
        """A plugin's route: the same steps as a built-in endpoint (who, body, fields,
        authorization, handler in the store pool, JSON), with the route's own handler."""
        method = scope["method"]
        route = entry.route
        if method not in route.methods:
            allowed = ", ".join(self.contributed.methods_at(scope["path"]) or route.methods)
            await send_error(
                send,
                405,
                "BAD_REQUEST",
                f"Method {method} is not allowed for {scope['path']}. Allowed: {allowed}.",
                ((b"allow", allowed.encode()),),
            )
            return
        user = None
        if self.state.authorizer is not None:
            user = await self._authenticate(scope, send)
            if user is None:
                return
        if method == "GET":
            data: Any = scope["query_string"]
        else:
            try:
                data = await self._read_body(scope, receive)
            except TrackletException as exc:
                status, body = exception_answer(exc)
                await send_bytes(send, status, body, extra_headers=((b"connection", b"close"),))
                return
        headers = {
            name: v.decode("latin-1")
            for k, v in scope["headers"]
            if (name := k.decode("latin-1").lower()) not in _PRIVATE_HEADERS
        }
        executor = self.read_executor if entry.read_only else self.executor
        args = (entry, method, data, user, headers, path_params)
        if executor is None:
            status, body, extra = self._work_contributed(*args)
        else:
            status, body, extra = await run_on(executor, self._work_contributed, *args)
        if isinstance(body, dict):  # a handler's file answer (local_file, filename, cleanup)
            await _send_file_answer(scope, receive, send, body)
            return
        await send_bytes(send, status, body, extra_headers=extra)

    def _work_contributed(
        self,
        entry: ContributedRoute,
        method: str,
        data: Any,
        user: str | None,
        headers: dict[str, str],
        path_params: dict[str, str],
    ) -> _Answer:
        """The blocking part of a contributed route's call, in one go: decode, check the
        fields (path parameters included), authorize, run the handler, encode."""
        route = entry.route
        try:
            decoded = _decode(method, data)
            if path_params:
                if isinstance(decoded, dict):
                    decoded = {**decoded, **path_params}
                else:
                    decoded = [*decoded, *path_params.items()]
            params = _parse(entry.endpoint, decoded)
            for name, value in path_params.items():
                params.setdefault(name, value)
            request = ServerRouteRequest(
                params=params,
                path_params=dict(path_params),
                headers=headers,
                username=user,
                tracking_store=self.state.store,
                settings=self.state.settings,
                registry_holder=self.registry,
                authorizer=self.state.authorizer,
            )
            authorizer = self.state.authorizer
            if authorizer is not None and hasattr(authorizer, "authorize_route"):
                authorizer.authorize_route(user, route.permission, params, request, route=route)
            response = route.handler(request)
            if getattr(response, "local_file", None) is not None:
                return 200, response, ()  # type: ignore[return-value] # streamed by _contributed
            if not isinstance(response, dict):
                raise TypeError(f"route {route.name} answered {type(response).__name__}, not a dict")
            if authorizer is not None and hasattr(authorizer, "after_route"):
                answer = authorizer.after_route(user, route, params, response, request)
                if answer is not None:
                    response = answer
            return 200, _encode(response).encode(), ()
        except Exception as exc:  # noqa: BLE001 - every failure becomes an MLflow error answer
            status, body = exception_answer(exc, route.name)
            return status, body, _UNAUTHENTICATED_HEADERS if status == 401 else ()

    async def _otlp(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """``POST /v1/traces``, the OTLP/HTTP receiver (:mod:`tracklet_http.server.otlp`):
        who (with ``--auth``), body (size-limited), then parsing and the store work in the
        store pool, never on the event loop."""
        from tracklet_http.server import otlp

        if scope["method"] != "POST":
            await send_bytes(
                send, 405, b'{"detail":"Method Not Allowed"}', extra_headers=((b"allow", b"POST"),)
            )
            return
        user = None
        if self.state.authorizer is not None:
            user = await self._authenticate(scope, send)
            if user is None:
                return
        try:
            body = await self._read_body(scope, receive)
        except TrackletException as exc:
            status, payload = exception_answer(exc)
            await send_bytes(send, status, payload, extra_headers=((b"connection", b"close"),))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        args = (self.state, headers, body, user)
        if self.executor is None:
            status, payload, content_type = otlp.receive(*args)
        else:
            status, payload, content_type = await run_on(self.executor, otlp.receive, *args)
        await send_bytes(send, status, payload, content_type=content_type)

    async def _authenticate(self, scope: dict[str, Any], send: Any) -> str | None:
        """The caller's user name, before any of the body is read (a stranger's 32 MiB is
        never buffered); None once a refusal (401, or 429 over the failed-login limit) has
        been sent. Password checks run on the auth hashing pool, never on this loop."""
        try:
            return str(await self.state.authorizer.authenticate_scope(scope))
        except Exception as exc:  # noqa: BLE001 - every failure becomes an MLflow error answer
            from tracklet_http.server.auth.authorizer import refusal_headers

            status, body = exception_answer(exc, "authentication")
            headers = tuple((k.lower().encode(), v.encode()) for k, v in refusal_headers(exc, scope).items())
            await send_bytes(send, status, body, extra_headers=headers)
            return None

    async def _read_body(self, scope: dict[str, Any], receive: Any) -> bytes:
        """The whole request body, refused (400) as soon as it is known to exceed the
        limit: from Content-Length before reading, else while counting what arrives."""
        limit = self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise _too_big(limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise bad_request("The client went away before sending the whole body.")
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise _too_big(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _work(
        self, endpoint: Endpoint, handler: Handler, method: str, data: Any, user: str | None
    ) -> _Answer:
        """Everything blocking for one call, in one go (one thread hop per request):
        decode, check, authorize ``user`` (already authenticated), call the store, encode."""
        call = Call(user)
        try:
            authorizer = self.state.authorizer
            params = _parse(endpoint, _decode(method, data))
            if authorizer is not None:
                authorizer.authorize(call.user, endpoint.name, params, self.state.store)
            response = handler(self.state, params, call)
            if authorizer is not None:
                authorizer.after(call.user, endpoint.name, params, call.result)
            # the handlers' doubles went through double_to_json: orjson may write them
            return 200, encode_answer(response), ()
        except Exception as exc:  # noqa: BLE001 - every failure becomes an MLflow error answer
            status, body = exception_answer(exc, endpoint.name)
            return status, body, _UNAUTHENTICATED_HEADERS if status == 401 else ()


def _too_big(limit: int) -> TrackletException:
    return bad_request(
        f"Request body too large: the limit is {limit} bytes (tracklet server --max-body-size). "
        "Send large artifacts through the artifact proxy, and split big log-batch calls."
    )


def _decode(method: str, data: Any) -> Any:
    """A GET's query string as (name, value) pairs, or a POST's JSON body as a dict."""
    if method == "GET":
        try:
            return urllib.parse.parse_qsl(
                data.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_FIELDS
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"Malformed query string: {exc}") from None
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise bad_request(f"Malformed JSON in the request body: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, not {type(body).__name__}.")
    return body


def _parse(endpoint: Endpoint, data: Any) -> dict[str, Any]:
    """The request's fields, checked. Whatever goes wrong here is the input's fault: an
    error the parser did not foresee is still a 400, never a 500."""
    try:
        params = parse_request(endpoint, data)
    except TrackletException:
        raise
    except Exception as exc:  # noqa: BLE001
        logger.warning("Unforeseen parse failure in %s: %r", endpoint.name, exc)
        raise bad_parameter(f"Invalid request for {endpoint.name}: {exc}") from None
    check_ranges(endpoint, params)
    return params


class RequestTimer:
    """Counts and times every request for ``/metrics``, labelled by endpoint name (or
    path family) and status."""

    def __init__(
        self, app: Any, metrics: RequestMetrics, contributed: ContributedRoutes | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.names = {path: endpoint.name for path, (endpoint, _) in _route_table().items()}
        self.contributed = contributed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            path = scope["path"]
            name = self.names.get(path)
            if name is None and self.contributed:
                found = self.contributed.match(path)
                name = found[0].route.name if found is not None else None
            if name is None:
                name = endpoint_family(path)
            self.metrics.observe(name, status, time.perf_counter() - start)


# -- the small routes ----------------------------------------------------------------------------


def _version() -> str:
    from tracklet import __version__

    return str(__version__)


async def _health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def _version_route(request: Request) -> Response:
    # MLflow's client parses this as an MLflow version (it gates features on it), so it is
    # the MLflow release whose API the server speaks; tracklet's own version is a header.
    return PlainTextResponse(MLFLOW_API_VERSION, headers={"X-Tracklet-Version": _version()})


async def _metrics_route(request: Request) -> Response:
    # with --workers N the figures are read from every worker's files: disk, off the loop
    body, content_type = await run_in_threadpool(request.app.state.metrics.render)
    return Response(body, media_type=content_type)


def _build_openapi(settings: ServerSettings, contributed: ContributedRoutes | None) -> bytes:
    from tracklet_http.server.openapi import build_openapi

    routes = [entry.route for entry in contributed.routes] if contributed else []
    return json.dumps(build_openapi(settings, routes)).encode()


async def _openapi_route(request: Request) -> Response:
    state = request.app.state
    if getattr(state, "openapi", None) is None:
        state.openapi = await run_in_threadpool(
            _build_openapi, state.settings, getattr(state, "contributed", None)
        )
    return Response(state.openapi, media_type="application/json")


def _extra_routes(settings: ServerSettings) -> list[BaseRoute]:
    from tracklet_http.server.ui_artifacts import ui_artifact_routes

    routes: list[BaseRoute] = ui_artifact_routes()
    if settings.serve_artifacts:
        from tracklet_http.server.artifacts import artifact_routes

        routes.extend(artifact_routes(settings))
    if settings.auth:
        from tracklet_http.server.auth import auth_routes

        routes.extend(auth_routes(settings))
    return routes


def _own_routes(settings: ServerSettings) -> list[BaseRoute]:
    return [
        Route("/health", _health, methods=["GET"]),
        Route("/version", _version_route, methods=["GET"]),
        Route("/metrics", _metrics_route, methods=["GET"]),
        Route("/openapi.json", _openapi_route, methods=["GET"]),
        *graphql_routes(),
        *_extra_routes(settings),
    ]


def _reserved(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    out = []
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            out.append((path, repr(getattr(route, "name", None) or path)))
    return out


def reserved_paths(settings: ServerSettings) -> list[tuple[str, str]]:
    """``(path or template, name)`` of every route the server serves besides the tracking
    API (``/health``, the artifact proxy, the auth API…): what a plugin's route may not take."""
    return _reserved(_own_routes(settings))


def _builtin_routes() -> list[Any]:
    """The server's own routes served like a plugin's: the trace API, the import API and
    the small endpoints MLflow's UI calls (those a plugin's route of the same method and
    path provides are left to the plugin)."""
    from tracklet.plugins import server_routes

    taken = {(method, route.path) for route in server_routes() for method in route.methods}
    ui_api = [r for r in mlflow_ui_api_routes() if not any((m, r.path) in taken for m in r.methods)]
    return [*trace_routes(), *import_routes(), *ui_api]


#: The tracking API's namespaces, which no plugin's assets may take.
_API_NAMESPACES = (
    ("/api", "the REST API"),
    ("/ajax-api", "MLflow's UI alias of the REST API"),
    (OTLP_TRACES_PATH, "the OTLP trace receiver"),
)


def _page_routes(
    settings: ServerSettings, own: list[BaseRoute], contributed: ContributedRoutes, mlflow_ui: str | None
) -> list[BaseRoute]:
    """The routes serving pages: the plugins' :class:`~tracklet.routes.Assets`, ``GET /``
    (a redirect to the root assets, MLflow's UI with ``--mlflow-ui``, else the page saying
    how to install a UI) and MLflow's ``/static-files``.

    :raises TrackletException: when assets overlap each other, a path the server serves, or
        a plugin's route (stops the server at start-up).
    """
    from tracklet_http.server.assets import asset_routes, installed_assets, root_routes

    served = [*_API_NAMESPACES, *_reserved(own)]
    served += [(entry.route.path, f"the route {entry.route.name!r}") for entry in contributed.routes]
    pages: list[BaseRoute] = []
    if mlflow_ui:
        from tracklet_http.server.mlflow_ui import STATIC_PREFIX, mlflow_ui_routes

        served.append((STATIC_PREFIX, "MLflow's UI (--mlflow-ui)"))
        pages.extend(mlflow_ui_routes(mlflow_ui))
    assets = installed_assets(served)
    pages.extend(asset_routes(assets))
    if not mlflow_ui:
        pages.extend(root_routes(assets))
    return pages


def check_pages(settings: ServerSettings, mlflow_ui: str | None = None) -> None:
    """Build what :func:`create_app` would mount besides the tracking API and raise what
    would stop it: plugins' routes shadowing the server's, assets overlapping anything."""
    own = _own_routes(settings)
    contributed = contributed_routes(_reserved(own), _builtin_routes())
    _page_routes(settings, own, contributed, mlflow_ui)


def _make_authorizer(settings: ServerSettings) -> Any:
    if not settings.auth:
        return None
    from tracklet_http.server.auth import Authorizer

    return Authorizer(settings)


def _store_executors(settings: ServerSettings) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The thread pools that run this worker's blocking store calls: (for every call, for
    calls that only read), one pool or two.

    Store calls never run on the event loop: a sqlite writer waiting out another
    process's write lock (up to its busy timeout), a slow query or a database that stopped
    answering must not hold ``/health``, artifact streams and every other request of the
    worker. sqlite takes one writer at a time per file, and a local file leaves threads
    little to overlap, so it gets one thread for writes (threads of one process never
    queue on sqlite's lock, whose busy handler sleeps) and one for reads (in WAL mode they
    go on while a write waits); measured in ``plugins/http/docs/server.md``. Network
    databases get one pool of :data:`STORE_THREADS`, whose round trips overlap.
    ``TRACKLET_SERVER_STORE_THREADS=N`` makes it one pool of N threads for any backend.
    """
    forced = os.environ.get("TRACKLET_SERVER_STORE_THREADS")
    if forced is not None and forced.strip():
        try:
            count = int(forced)
        except ValueError:
            count = 0
        if not 1 <= count <= 256:
            raise ValueError(
                f"TRACKLET_SERVER_STORE_THREADS={forced!r}: expected a whole number from 1 to 256."
            )
    elif get_scheme(settings.backend_store_uri) == "sqlite":
        return (
            ThreadPoolExecutor(1, thread_name_prefix="tracklet-store-write"),
            ThreadPoolExecutor(1, thread_name_prefix="tracklet-store-read"),
        )
    else:
        count = STORE_THREADS
    pool = ThreadPoolExecutor(count, thread_name_prefix="tracklet-store")
    return pool, pool


def create_app(settings: ServerSettings, mlflow_ui: str | None = None) -> Starlette:
    """The server for ``settings``: the tracking API over the settings' backend store,
    plus the artifact proxy and the auth API when they are switched on, the plugins'
    assets, and ``GET /``.

    :param mlflow_ui: the folder of MLflow's UI bundle to serve at ``/`` and
        ``/static-files`` (``tracklet server --mlflow-ui``), or None.

    ``app.state`` holds ``settings``, ``store`` (the process's one tracking store),
    ``authorizer`` (None without auth) and ``metrics``.
    """
    from tracklet.plugins import get_tracking_store

    executor, read_executor = _store_executors(settings)
    store = get_tracking_store(settings.backend_store_uri, settings.default_artifact_root)
    authorizer = _make_authorizer(settings)
    state = ServerState(settings, store, authorizer)
    metrics = RequestMetrics()

    routes = _own_routes(settings)
    contributed = contributed_routes(_reserved(routes), _builtin_routes())
    routes = [*routes, *_page_routes(settings, routes, contributed, mlflow_ui)]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=True)
        read_executor.shutdown(wait=True)
        store.close()  # pooled database connections; the store reconnects if used again

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestTimer, metrics=metrics, contributed=contributed),
            Middleware(
                SecurityMiddleware,
                allowed_hosts=settings.allowed_hosts,
                allowed_origins=settings.cors_allowed_origins,
            ),
            Middleware(
                TrackingApi,
                state=state,
                executor=executor,
                read_executor=read_executor,
                contributed=contributed,
            ),
        ],
        exception_handlers={
            HTTPException: http_exception_handler,
            TrackletException: tracklet_exception_handler,
            Exception: internal_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.tracking = state  # the handlers' view; tests may swap its store
    app.state.authorizer = authorizer
    app.state.metrics = metrics
    app.state.openapi = None
    app.state.contributed = contributed
    return app


def app_factory() -> Starlette:
    """What uvicorn's workers call (``factory=True``): the app for the settings
    ``tracklet server`` put in the environment, in a process whose threads hand the GIL
    over every :data:`SWITCH_INTERVAL_S` and whose cycle collector leaves the start-up
    heap alone (:mod:`~tracklet_http.server.gc_tuning`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    from tracklet_http.server.mlflow_ui import ENV as MLFLOW_UI_ENV

    app = create_app(ServerSettings.from_env(), mlflow_ui=os.environ.get(MLFLOW_UI_ENV) or None)
    tune_worker_gc()  # after start-up: its objects are frozen out of the collector's walks
    return app
