"""The registry's server routes: every endpoint MLflow 3.17.2 declares for the model
registry and logged models is contributed with MLflow's method and path, each guarded as
MLflow's basic-auth app guards it, mounted by a real ``tracklet server`` (also under
``/ajax-api``) and listed in its ``/openapi.json``; the JSON answers have MLflow's shape."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.plugins import server_routes
from tracklet.routes import Route
from tracklet_registry.server.routes import registry_routes

#: Endpoints of MLflow's it does not serve (none).
NOT_SERVED: set[tuple[str, str]] = set()


def _mlflow_endpoints() -> set[tuple[str, str]]:
    """(method, path) of MLflow's registry service and of its logged-model and run-output RPCs."""
    from mlflow.protos import databricks_pb2
    from mlflow.protos import model_registry_pb2 as registry
    from mlflow.protos import service_pb2 as service

    found = set()
    for module, name in ((registry, "ModelRegistryService"), (service, "MlflowService")):
        for method in module.DESCRIPTOR.services_by_name[name].methods:
            if name == "MlflowService" and "LoggedModel" not in method.name and method.name != "logOutputs":
                continue
            for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                if endpoint.since.major == 2:
                    found.add((endpoint.method, "/api/2.0" + endpoint.path))
    return found


def _served() -> set[tuple[str, str]]:
    return {(method, route.path) for route in registry_routes() for method in route.methods}


def test_every_mlflow_registry_and_logged_model_endpoint_is_served() -> None:
    assert _mlflow_endpoints() - NOT_SERVED - _served() == set()


#: Routes of MLflow's server that are Flask routes, not proto RPCs (server/__init__.py).
FLASK_ROUTES = {("GET", "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files")}


#: tracklet's own routes, outside MLflow's API (``tracklet migrate`` into a server).
TRACKLET_ROUTES = {
    ("POST", "/api/2.0/tracklet/registered-models/import"),
    ("POST", "/api/2.0/tracklet/model-versions/import"),
    ("POST", "/api/2.0/tracklet/registered-models/import-aliases"),
    ("GET", "/api/2.0/tracklet/registered-models/get-last-version-number"),
}


def test_no_route_mlflow_lacks() -> None:
    assert _served() - _mlflow_endpoints() == FLASK_ROUTES | TRACKLET_ROUTES
    assert all(path.startswith("/api/2.0/tracklet/") for _method, path in TRACKLET_ROUTES)


def test_routes_are_contributed_through_the_hook() -> None:
    names = {route.name for route in server_routes()}
    assert {route.name for route in registry_routes()} <= names


def _by_name() -> dict[str, Route]:
    return {route.name: route for route in registry_routes()}


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("create_registered_model", "CREATE"),
        ("get_registered_model", "READ"),
        ("get_latest_versions", "READ"),
        ("get_model_version", "READ"),
        ("get_model_version_download_uri", "READ"),
        ("get_model_version_by_alias", "READ"),
        ("update_registered_model", "EDIT"),
        ("rename_registered_model", "EDIT"),
        ("set_registered_model_tag", "EDIT"),
        ("delete_registered_model_tag", "EDIT"),
        ("create_model_version", "EDIT"),
        ("update_model_version", "EDIT"),
        ("transition_model_version_stage", "EDIT"),
        ("set_model_version_tag", "EDIT"),
        ("set_registered_model_alias", "EDIT"),
        ("delete_registered_model", "MANAGE"),
        ("delete_model_version", "MANAGE"),
        ("delete_model_version_tag", "MANAGE"),
        ("delete_registered_model_alias", "MANAGE"),
    ],
)
def test_registered_model_permissions_as_mlflow_basic_auth(name: str, level: str) -> None:
    permission = _by_name()[name].permission
    assert permission is not None
    assert (permission.resource, permission.key, permission.level) == ("registered_model", "name", level)


def test_searches_filter_rather_than_refuse() -> None:
    # MLflow's auth filters search results by READ permission instead of refusing the call
    assert _by_name()["search_registered_models"].permission is None
    assert _by_name()["search_model_versions"].permission is None


@pytest.mark.parametrize(
    ("name", "resource", "key", "level"),
    [
        ("create_logged_model", "experiment", "experiment_id", "EDIT"),
        ("search_logged_models", "experiment", "experiment_ids", "READ"),
        ("get_logged_model", "logged_model", "model_id", "READ"),
        ("finalize_logged_model", "logged_model", "model_id", "EDIT"),
        ("set_logged_model_tags", "logged_model", "model_id", "EDIT"),
        ("log_logged_model_params", "logged_model", "model_id", "EDIT"),
        ("delete_logged_model", "logged_model", "model_id", "MANAGE"),
        ("delete_logged_model_tag", "logged_model", "model_id", "MANAGE"),
        ("log_outputs", "run", "run_id", "EDIT"),
    ],
)
def test_logged_model_permissions(name: str, resource: str, key: str, level: str) -> None:
    permission = _by_name()[name].permission
    assert permission is not None
    assert (permission.resource, permission.key, permission.level) == (resource, key, level)


# -- on a real server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(registry_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("routes")
    srv = registry_servers.tracklet_server(root, f"sqlite:///{root / 'tracklet.db'}")
    yield srv
    srv.stop()


def test_routes_listed_in_openapi(server: Any) -> None:
    status, document = server.call("GET", "/openapi.json")
    assert status == 200
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert _served() <= listed


def test_ajax_alias_and_shapes(server: Any) -> None:
    api, ajax = "/api/2.0/mlflow", "/ajax-api/2.0/mlflow"
    status, created = server.call(
        "POST", f"{api}/registered-models/create", {"name": "shape", "tags": [{"key": "k", "value": "v"}]}
    )
    assert status == 200
    model = created["registered_model"]
    assert set(model) == {"name", "creation_timestamp", "last_updated_timestamp", "tags"}
    assert model["tags"] == [{"key": "k", "value": "v"}]
    status, got = server.call("GET", f"{ajax}/registered-models/get", query="name=shape")
    assert status == 200 and got["registered_model"]["name"] == "shape"
    source = "s3://bucket/0/0123456789abcdef0123456789abcdef/artifacts/model"  # stored, never read
    status, answer = server.call("POST", f"{api}/model-versions/create", {"name": "shape", "source": source})
    version = answer["model_version"]
    assert version["version"] == "1" and isinstance(version["creation_timestamp"], int)
    assert (version["current_stage"], version["status"], version["description"]) == ("None", "READY", "")
    server.call("POST", f"{api}/registered-models/alias", {"name": "shape", "alias": "a", "version": "1"})
    status, by_alias = server.call("GET", f"{api}/registered-models/alias", query="name=shape&alias=a")
    assert status == 200 and by_alias["model_version"]["aliases"] == ["a"]
    status, gone = server.call("DELETE", f"{api}/registered-models/alias", {"name": "shape", "alias": "a"})
    assert (status, gone) == (200, {})
    status, missing = server.call("GET", f"{api}/registered-models/get", query="name=nope")
    assert status == 404 and missing["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_logged_model_shapes(server: Any) -> None:
    api = "/api/2.0/mlflow"
    _, experiment = server.call("POST", f"{api}/experiments/create", {"name": "lm-shapes"})
    status, created = server.call(
        "POST",
        f"{api}/logged-models",
        {"experiment_id": experiment["experiment_id"], "name": "m", "params": [{"key": "p", "value": "1"}]},
    )
    assert status == 200
    info = created["model"]["info"]
    model_id = info["model_id"]
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert (
        info["artifact_uri"] == f"mlflow-artifacts:/{experiment['experiment_id']}/models/{model_id}/artifacts"
    )
    assert created["model"]["data"] == {"params": [{"key": "p", "value": "1"}]}
    status, final = server.call("PATCH", f"{api}/logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"})
    assert status == 200 and final["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    server.call("PATCH", f"{api}/logged-models/{model_id}/tags", {"tags": [{"key": "a b", "value": "v"}]})
    status, _ = server.call("DELETE", f"{api}/logged-models/{model_id}/tags/a%20b")
    assert status == 200
    status, got = server.call("GET", f"{api}/logged-models/{model_id}")
    assert "tags" not in got["model"]["info"]
    status, bad = server.call("PATCH", f"{api}/logged-models/{model_id}", {"status": "DONE"})
    assert status == 400 and bad["error_code"] == "INVALID_PARAMETER_VALUE"
    status, searched = server.call(
        "POST", f"{api}/logged-models/search", {"experiment_ids": [experiment["experiment_id"]]}
    )
    assert [m["info"]["model_id"] for m in searched["models"]] == [model_id]


def test_list_logged_model_artifacts_through_the_proxy(server: Any) -> None:
    api = "/api/2.0/mlflow"
    _, experiment = server.call("POST", f"{api}/experiments/create", {"name": "lm-artifacts"})
    _, created = server.call("POST", f"{api}/logged-models", {"experiment_id": experiment["experiment_id"]})
    info = created["model"]["info"]
    relative = info["artifact_uri"][len("mlflow-artifacts:/") :]
    for path, body in (("MLmodel", b"flavors: {}\n"), ("sub/model.pkl", b"12345")):
        status, _ = server.call_bytes("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{relative}/{path}", body)
        assert status == 200
    target = f"{api}/logged-models/{info['model_id']}/artifacts/directories"
    status, listed = server.call("GET", target)
    assert status == 200, listed
    assert listed == {
        "root_uri": info["artifact_uri"],
        "files": [
            {"path": "MLmodel", "is_dir": False, "file_size": 12},
            {"path": "sub", "is_dir": True},
        ],
    }
    status, listed = server.call("GET", target, query="artifact_directory_path=sub")
    assert listed["files"] == [{"path": "sub/model.pkl", "is_dir": False, "file_size": 5}]
    for bad in ("../..", "%2e%2e/%2e%2e", "/etc", "sub/../../.."):
        status, refused = server.call(
            "GET", target, query="artifact_directory_path=" + urllib.parse.quote(bad)
        )
        assert status == 400 and "'artifact_directory_path'" in refused["message"], (bad, refused)


def _get_file(server: Any, target: str) -> tuple[int, bytes, dict[str, str]]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(server.url + target, timeout=60) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {}


def test_get_logged_model_artifact_through_the_proxy(server: Any) -> None:
    api = "/api/2.0/mlflow"
    _, experiment = server.call("POST", f"{api}/experiments/create", {"name": "lm-file"})
    _, created = server.call("POST", f"{api}/logged-models", {"experiment_id": experiment["experiment_id"]})
    info = created["model"]["info"]
    relative = info["artifact_uri"][len("mlflow-artifacts:/") :]
    for path, body in (("MLmodel", b"flavors: {}\n"), ("sub/model.pkl", b"12345")):
        status, _ = server.call_bytes("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{relative}/{path}", body)
        assert status == 200
    for prefix in (api, "/ajax-api/2.0/mlflow"):
        target = f"{prefix}/logged-models/{info['model_id']}/artifacts/files?artifact_file_path="
        status, content, headers = _get_file(server, target + "MLmodel")
        assert (status, content) == (200, b"flavors: {}\n")
        assert headers["content-disposition"].startswith("attachment")
        status, content, _ = _get_file(server, target + "sub%2Fmodel.pkl")
        assert (status, content) == (200, b"12345")
    target = f"{api}/logged-models/{info['model_id']}/artifacts/files"
    status, content, _ = _get_file(server, target)
    assert status == 400 and b"artifact_file_path" in content
    for bad in ("../../../../etc/passwd", "%2e%2e/%2e%2e/x", "/etc/passwd", "sub/../../..", "sub"):
        status, content, _ = _get_file(server, f"{target}?artifact_file_path={urllib.parse.quote(bad)}")
        assert status == 400, (bad, content)
    status, _, _ = _get_file(
        server, f"{api}/logged-models/m-{'f' * 32}/artifacts/files?artifact_file_path=MLmodel"
    )
    assert status == 404
