"""Routes another plugin contributes to ``tracklet server`` (``tracklet_server_routes``),
and the transport other plugins reach through the core (``tracklet_http_transport``).

A throwaway plugin registered in this process contributes routes; the real server app
runs in uvicorn on a thread (:class:`ThreadServer`) and is called over HTTP.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracklet import plugins
from tracklet.exceptions import RESOURCE_ALREADY_EXISTS, RestException, TrackletException
from tracklet.plugins import hookimpl
from tracklet.routes import Field, Route, RoutePermission, RouteRequest
from tracklet_http.server.app import create_app
from tracklet_http.server.cli import server as server_command
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ThreadServer

API = "/api/2.0/mlflow"


class _WidgetRegistry:
    """The registry store the test plugin serves for ``widgetreg:`` URIs."""

    def __init__(self, uri: str) -> None:
        self.uri = uri


def _get_widget(request: RouteRequest) -> dict[str, Any]:
    return {
        "widget": {"name": request.params["name"], "count": request.params.get("count")},
        "user": request.username,
        "thread": threading.current_thread().name,
        "default_experiment": request.tracking_store.get_experiment("0").name,
        "registry": request.registry_store.uri,
        "artifact_root": request.artifact_root,
        "serve_artifacts": request.serve_artifacts,
        "roots": list(request.allowed_source_roots),
        "header": request.headers.get("x-widget"),
        "credentials": request.headers.get("authorization"),
    }


def _create_widget(request: RouteRequest) -> dict[str, Any]:
    name = request.params["name"]
    if name == "taken":
        raise TrackletException("Widget 'taken' already exists.", RESOURCE_ALREADY_EXISTS)
    if name == "boom":
        raise RuntimeError("a bug in the plugin")
    return {"widget": {"name": name, "tags": [list(kv) for kv in request.params.get("tags", [])]}}


def _widget_parts(request: RouteRequest) -> dict[str, Any]:
    return {
        "widget_id": request.params["widget_id"],
        "path_params": request.path_params,
        "limit": request.params.get("limit"),
    }


WIDGET_ROUTES = [
    Route(
        "get_widget",
        "GET",
        f"{API}/widgets/get",
        _get_widget,
        fields=(Field("name", required=True), Field("count", "int64")),
        summary="Get a widget.",
    ),
    Route(
        "create_widget",
        "POST",
        f"{API}/widgets/create",
        _create_widget,
        fields=(Field("name", required=True), Field("tags", "KeyValue", repeated=True)),
        summary="Create a widget.",
        permission=RoutePermission("experiment", "experiment_id", "CREATE"),
    ),
    Route(
        "widget_parts",
        "GET",
        f"{API}/widgets/{{widget_id}}/parts",
        _widget_parts,
        fields=(Field("limit", "int32"),),
    ),
]


class WidgetPlugin:
    """A plugin contributing routes and serving ``widgetreg:`` registries."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    @hookimpl
    def tracklet_server_routes(self) -> list[Route]:
        return self.routes

    @hookimpl
    def tracklet_registry_store(self, uri: str, tracking_uri: str | None) -> Any:
        return _WidgetRegistry(uri) if uri.startswith("widgetreg:") else None


def _registered(plugin: object) -> Iterator[object]:
    plugins.register(plugin, name=f"test-widgets-{id(plugin)}")
    try:
        yield plugin
    finally:
        plugins.unregister(plugin)


@pytest.fixture
def widget_plugin() -> Iterator[object]:
    yield from _registered(WidgetPlugin(WIDGET_ROUTES))


def _settings(root: Path, **extra: Any) -> ServerSettings:
    return ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'widgets.db'}",
        artifacts_destination=str(root / "artifacts"),
        registry_store_uri="widgetreg:///registry",
        **extra,
    )


@pytest.fixture
def widget_server(tmp_path: Path, widget_plugin: object) -> Iterator[ThreadServer]:
    with ThreadServer(create_app(_settings(tmp_path))) as server:
        yield server


def _call(
    url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_contributed_route_is_served_with_the_server_s_stores(
    widget_server: ThreadServer, tmp_path: Path
) -> None:
    status, answer = _call(
        widget_server.url,
        "GET",
        f"{API}/widgets/get?name=w1&count=3",
        headers={"X-Widget": "hi", "Authorization": "Bearer secret"},
    )
    assert status == 200, answer
    assert answer["widget"] == {"name": "w1", "count": 3}
    assert answer["user"] is None
    assert answer["thread"].startswith("tracklet-store")  # never the event loop's thread
    assert answer["default_experiment"] == "Default"
    assert answer["registry"] == "widgetreg:///registry"  # --registry-store-uri, through the core
    assert answer["artifact_root"] == "mlflow-artifacts:/"
    assert answer["serve_artifacts"] is True
    assert answer["roots"] == ["mlflow-artifacts:/", str(tmp_path / "artifacts")]
    assert answer["header"] == "hi"
    assert answer["credentials"] is None  # a plugin's handler never sees them


def test_the_ajax_alias_and_post_bodies(widget_server: ThreadServer) -> None:
    body = {"name": "w2", "tags": [{"key": "k", "value": "v"}], "ignored": 1}
    status, answer = _call(widget_server.url, "POST", "/ajax-api/2.0/mlflow/widgets/create", body)
    assert status == 200, answer
    assert answer == {"widget": {"name": "w2", "tags": [["k", "v"]]}}


def test_path_parameters_reach_the_handler(widget_server: ThreadServer) -> None:
    status, answer = _call(widget_server.url, "GET", f"{API}/widgets/abc-1/parts?limit=5")
    assert status == 200, answer
    assert answer == {"widget_id": "abc-1", "path_params": {"widget_id": "abc-1"}, "limit": 5}


def test_fields_are_refused_in_mlflow_s_words(widget_server: ThreadServer) -> None:
    status, answer = _call(widget_server.url, "GET", f"{API}/widgets/get")
    assert status == 400
    assert answer == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Missing value for required parameter 'name'. "
        "See the API docs for more information about request parameters.",
    }
    status, answer = _call(widget_server.url, "POST", f"{API}/widgets/create", {"name": 123})
    assert status == 400
    assert answer["message"] == (
        "Invalid value 123 for parameter 'name' supplied: Hint: Value was of type 'int'; expected a string."
    )
    status, answer = _call(widget_server.url, "GET", f"{API}/widgets/get?name=a&count=x")
    assert status == 400
    assert answer["message"] == "Invalid value \"x\" for parameter 'count' supplied: expected an integer."
    status, answer = _call(
        widget_server.url, "POST", f"{API}/widgets/create", {"name": "a", "tags": [{"value": "v"}]}
    )
    assert status == 400 and "tags[0].key" in answer["message"]


def test_handler_errors_become_mlflow_error_answers(widget_server: ThreadServer) -> None:
    status, answer = _call(widget_server.url, "POST", f"{API}/widgets/create", {"name": "taken"})
    assert (status, answer) == (
        400,
        {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Widget 'taken' already exists."},
    )
    status, answer = _call(widget_server.url, "POST", f"{API}/widgets/create", {"name": "boom"})
    assert status == 500
    assert answer["error_code"] == "INTERNAL_ERROR"
    assert "a bug in the plugin" not in answer["message"]  # the traceback goes to the log only
    status, answer = _call(widget_server.url, "DELETE", f"{API}/widgets/create", {"name": "x"})
    assert status == 405


def test_metrics_label_contributed_routes_by_name(widget_server: ThreadServer) -> None:
    _call(widget_server.url, "GET", f"{API}/widgets/abc/parts")
    with urllib.request.urlopen(widget_server.url + "/metrics", timeout=30) as answer:
        text = answer.read().decode()
    assert 'endpoint="widget_parts",status="200"' in text


def test_openapi_lists_contributed_routes(widget_server: ThreadServer) -> None:
    status, document = _call(widget_server.url, "GET", "/openapi.json")
    assert status == 200
    get = document["paths"][f"{API}/widgets/get"]["get"]
    assert get["operationId"] == "get_widget"
    assert get["summary"] == "Get a widget."
    assert [p["name"] for p in get["parameters"]] == ["name", "count"]
    create = document["paths"][f"{API}/widgets/create"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    tags = create["requestBody"]["content"]["application/json"]["schema"]["properties"]["tags"]
    assert tags == {"type": "array", "items": {"$ref": "#/components/schemas/KeyValue"}}
    parts = document["paths"][f"{API}/widgets/{{widget_id}}/parts"]["get"]
    assert parts["parameters"][0] == {
        "name": "widget_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (f"{API}/experiments/create", "'create_experiment'"),
        ("/ajax-api/2.0/mlflow/runs/get", "'get_run'"),
        ("/health", "/health"),
        ("/api/2.0/mlflow-artifacts/artifacts/{path}", "/api/2.0/mlflow-artifacts/artifacts"),
    ],
)
def test_a_route_shadowing_a_built_in_endpoint_is_refused(tmp_path: Path, path: str, named: str) -> None:
    shadow = Route("my_route", "POST", path, _create_widget)
    for _ in _registered(WidgetPlugin([shadow])):
        with pytest.raises(TrackletException) as caught:
            create_app(_settings(tmp_path))
        assert "'my_route'" in caught.value.message and named in caught.value.message
        result = CliRunner().invoke(
            server_command,
            ["--backend-store-uri", f"sqlite:///{tmp_path / 'cli.db'}", "--port", "1"],
        )
        assert result.exit_code == 1
        assert "would shadow" in result.output and "'my_route'" in result.output


def test_a_route_taking_a_built_in_name_is_refused(tmp_path: Path) -> None:
    clash = Route("get_run", "GET", f"{API}/widgets/get-run", _get_widget)
    for _ in _registered(WidgetPlugin([clash])):
        with pytest.raises(TrackletException, match="would shadow the server's own endpoint 'get_run'"):
            create_app(_settings(tmp_path))


# -- the transport other plugins get through the core ---------------------------------------


def test_the_transport_from_the_hook_talks_to_the_server(widget_server: ThreadServer) -> None:
    transport = plugins.http_transport(widget_server.url)
    assert transport is plugins.http_transport(widget_server.url)  # one per server per process
    assert transport.base_url == widget_server.url
    answer = transport.call("GET", f"{API}/widgets/get", params={"name": "t1", "count": 2})
    assert answer["widget"] == {"name": "t1", "count": 2}
    created = transport.call("POST", f"{API}/widgets/create", json={"name": "t2"}, idempotent=False)
    assert created == {"widget": {"name": "t2", "tags": []}}
    with pytest.raises(RestException) as caught:
        transport.call("POST", f"{API}/widgets/create", json={"name": "taken"})
    assert caught.value.error_code == RESOURCE_ALREADY_EXISTS
    experiments = transport.call("POST", f"{API}/experiments/search", json={"max_results": 5})
    assert [e["name"] for e in experiments["experiments"]] == ["Default"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_transport_works_in_a_forked_child(widget_server: ThreadServer) -> None:
    transport = plugins.http_transport(widget_server.url)
    transport.call("GET", f"{API}/widgets/get", params={"name": "parent"})  # a pooled connection
    parent_pool = id(transport.pool)  # type: ignore[attr-defined]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            child = plugins.http_transport(widget_server.url)
            answer = child.call("GET", f"{API}/widgets/get", params={"name": "child"})
            report = {
                "name": answer["widget"]["name"],
                "new_transport": child is not transport,
                "new_pool": id(child.pool) != parent_pool,  # type: ignore[attr-defined]
            }
        except BaseException as exc:  # noqa: BLE001
            report = {"error": repr(exc)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as out:
        report = json.loads(out.read() or b"{}")
    os.waitpid(pid, 0)
    assert report == {"name": "child", "new_transport": True, "new_pool": True}
    # and the parent's own connections still answer it, not the child
    assert transport.call("GET", f"{API}/widgets/get", params={"name": "after"})["widget"]["name"] == "after"


def test_no_transport_for_other_schemes() -> None:
    with pytest.raises(TrackletException, match="No installed plugin provides an HTTP transport"):
        plugins.http_transport("ftp://example.com")


# -- with --auth -----------------------------------------------------------------------------------

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-123")


def _experiment_widget(request: RouteRequest) -> dict[str, Any]:
    return {"experiment_id": request.params["experiment_id"], "user": request.username}


GUARDED = Route(
    "experiment_widget",
    "GET",
    f"{API}/widgets/for-experiment",
    _experiment_widget,
    fields=(Field("experiment_id", "ExperimentId", required=True),),
    permission=RoutePermission("experiment", "experiment_id", "READ"),
)


def _auth_call(
    url: str, method: str, path: str, user: tuple[str, str] | None, body: Any = None
) -> tuple[int, Any]:
    import base64

    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    return _call(url, method, path, body, headers)


def test_with_auth_a_route_needs_a_user_and_its_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_USERNAME", ADMIN[0])
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", ADMIN[1])
    monkeypatch.setenv("TRACKLET_AUTH_DEFAULT_PERMISSION", "NO_PERMISSIONS")
    settings = _settings(tmp_path, auth=True, auth_db_uri=f"sqlite:///{tmp_path / 'auth.db'}")
    for _ in _registered(WidgetPlugin([GUARDED])):
        with ThreadServer(create_app(settings)) as server:
            url = server.url
            created = _auth_call(
                url, "POST", f"{API}/users/create", ADMIN, {"username": ALICE[0], "password": ALICE[1]}
            )
            assert created[0] == 200, created
            experiment = _auth_call(url, "POST", f"{API}/experiments/create", ADMIN, {"name": "guarded"})
            experiment_id = experiment[1]["experiment_id"]
            path = f"{API}/widgets/for-experiment?experiment_id={experiment_id}"
            status, answer = _auth_call(url, "GET", path, None)
            assert (status, answer["error_code"]) == (401, "UNAUTHENTICATED")
            status, answer = _auth_call(url, "GET", path, ALICE)  # default permission: none
            assert (status, answer["error_code"]) == (403, "PERMISSION_DENIED")
            grant = {"experiment_id": experiment_id, "username": "alice", "permission": "READ"}
            granted = _auth_call(url, "POST", f"{API}/experiments/permissions/create", ADMIN, grant)
            assert granted[0] == 200, granted
            status, answer = _auth_call(url, "GET", path, ALICE)
            assert (status, answer) == (200, {"experiment_id": experiment_id, "user": "alice"})
            status, answer = _auth_call(url, "GET", path, ADMIN)
            assert (status, answer["user"]) == (200, "admin")


def test_routes_sharing_a_path_are_told_apart_by_method(tmp_path: Path) -> None:
    # MLflow's registered-models/alias: POST sets, DELETE deletes, GET reads, one path
    def answer(verb: str) -> Any:
        return lambda request: {"verb": verb, "alias": request.params.get("alias")}

    path = f"{API}/widgets/alias"
    shared = [
        Route("set_widget_alias", "POST", path, answer("set"), fields=(Field("alias"),)),
        Route("delete_widget_alias", "DELETE", path, answer("delete"), fields=(Field("alias"),)),
        Route("get_widget_alias", "GET", path, answer("get"), fields=(Field("alias"),)),
    ]
    for _ in _registered(WidgetPlugin(shared)):
        with ThreadServer(create_app(_settings(tmp_path))) as server:
            assert _call(server.url, "POST", path, {"alias": "a"}) == (200, {"verb": "set", "alias": "a"})
            assert _call(server.url, "DELETE", path, {"alias": "b"}) == (
                200,
                {"verb": "delete", "alias": "b"},
            )
            assert _call(server.url, "GET", path + "?alias=c") == (200, {"verb": "get", "alias": "c"})
            status, refused = _call(server.url, "PATCH", path, {"alias": "d"})
            assert status == 405
            assert refused["message"].endswith("Allowed: POST, DELETE, GET.")
