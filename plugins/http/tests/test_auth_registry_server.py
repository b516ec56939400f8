"""Registered model permissions end to end: a real ``tracklet server --auth`` (sqlite) in a
subprocess, real HTTP. Every registry route tracklet-registry contributes is called by a
user holding no grant (the default, READ), READ, EDIT or MANAGE on the model, and must
answer 200 or 403 as MLflow's basic-auth app does; the permissions API answers MLflow's
JSON and errors; creating, renaming and deleting a model keeps its grants in step; and
searches answer only what the caller may read."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet_http.testing import ServerProcess, launch_tracklet_server

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}

    @property
    def code(self) -> str | None:
        return self.json.get("error_code")


def call(
    server: ServerProcess, method: str, path: str, user: tuple[str, str] | None = None, body: Any = None
) -> Answer:
    """One request under /api/2.0/mlflow (or a path starting with /); a GET sends ``body``
    as its query string."""
    url = server.url + (path if path.startswith("/") else "/api/2.0/mlflow/" + path)
    data = None
    if method == "GET" and body:
        url += "?" + urllib.parse.urlencode(body, doseq=True)
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Answer(resp.status, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, err.read())


def ok(answer: Answer) -> Any:
    assert answer.status == 200, (answer.status, answer.body)
    return answer.json


def _start(root: Path, **env: str) -> ServerProcess:
    server = launch_tracklet_server(root, None, None, "--auth", env={**ADMIN_ENV, **env})
    for user in (ALICE, BOB):
        ok(call(server, "POST", "users/create", ADMIN, {"username": user[0], "password": user[1]}))
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One ``tracklet server --auth`` on sqlite for the module (default permission READ),
    users alice and bob; every test works on models of its own."""
    started = _start(tmp_path_factory.mktemp("auth-registry"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def run_id(server: ServerProcess) -> str:
    """A run of alice's, the source of the model versions."""
    experiment_id = ok(call(server, "POST", "experiments/create", ALICE, {"name": "alices"}))["experiment_id"]
    return str(
        ok(call(server, "POST", "runs/create", ALICE, {"experiment_id": experiment_id}))["run"]["info"][
            "run_id"
        ]
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_model(server: ServerProcess, user: tuple[str, str], run_id: str, name: str) -> None:
    """A model of ``user``'s with version 1, a tag on each, and alias 'champion' on version 1."""
    ok(call(server, "POST", "registered-models/create", user, {"name": name}))
    version = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
    ok(call(server, "POST", "model-versions/create", user, version))
    ok(call(server, "POST", "registered-models/set-tag", user, {"name": name, "key": "t", "value": "v"}))
    ok(
        call(
            server,
            "POST",
            "model-versions/set-tag",
            user,
            {"name": name, "version": "1", "key": "t", "value": "v"},
        )
    )
    ok(
        call(
            server,
            "POST",
            "registered-models/alias",
            user,
            {"name": name, "alias": "champion", "version": "1"},
        )
    )


def grant(server: ServerProcess, by: tuple[str, str], name: str, username: str, permission: str) -> Any:
    body = {"name": name, "username": username, "permission": permission}
    return ok(call(server, "POST", "registered-models/permissions/create", by, body))


# -- every registry route, by grant ------------------------------------------------------------------

#: route -> (method, path, body given the model's name and the run id, level MLflow's auth asks)
ROUTES: dict[str, tuple[str, str, Any, str]] = {
    "get_registered_model": ("GET", "registered-models/get", lambda n, r: {"name": n}, "READ"),
    "update_registered_model": (
        "PATCH",
        "registered-models/update",
        lambda n, r: {"name": n, "description": "d"},
        "EDIT",
    ),
    "rename_registered_model": (
        "POST",
        "registered-models/rename",
        lambda n, r: {"name": n, "new_name": n + "-renamed"},
        "EDIT",
    ),
    "delete_registered_model": ("DELETE", "registered-models/delete", lambda n, r: {"name": n}, "MANAGE"),
    "get_latest_versions": (
        "POST",
        "registered-models/get-latest-versions",
        lambda n, r: {"name": n},
        "READ",
    ),
    "set_registered_model_tag": (
        "POST",
        "registered-models/set-tag",
        lambda n, r: {"name": n, "key": "k", "value": "v"},
        "EDIT",
    ),
    "delete_registered_model_tag": (
        "DELETE",
        "registered-models/delete-tag",
        lambda n, r: {"name": n, "key": "t"},
        "EDIT",
    ),
    "set_registered_model_alias": (
        "POST",
        "registered-models/alias",
        lambda n, r: {"name": n, "alias": "other", "version": "1"},
        "EDIT",
    ),
    "delete_registered_model_alias": (
        "DELETE",
        "registered-models/alias",
        lambda n, r: {"name": n, "alias": "champion"},
        "MANAGE",
    ),
    "get_model_version_by_alias": (
        "GET",
        "registered-models/alias",
        lambda n, r: {"name": n, "alias": "champion"},
        "READ",
    ),
    "create_model_version": (
        "POST",
        "model-versions/create",
        lambda n, r: {"name": n, "source": f"runs:/{r}/model", "run_id": r},
        "EDIT",
    ),
    "get_model_version": ("GET", "model-versions/get", lambda n, r: {"name": n, "version": "1"}, "READ"),
    "update_model_version": (
        "PATCH",
        "model-versions/update",
        lambda n, r: {"name": n, "version": "1", "description": "d"},
        "EDIT",
    ),
    "transition_model_version_stage": (
        "POST",
        "model-versions/transition-stage",
        lambda n, r: {"name": n, "version": "1", "stage": "Staging", "archive_existing_versions": False},
        "EDIT",
    ),
    "delete_model_version": (
        "DELETE",
        "model-versions/delete",
        lambda n, r: {"name": n, "version": "1"},
        "MANAGE",
    ),
    "get_model_version_download_uri": (
        "GET",
        "model-versions/get-download-uri",
        lambda n, r: {"name": n, "version": "1"},
        "READ",
    ),
    "set_model_version_tag": (
        "POST",
        "model-versions/set-tag",
        lambda n, r: {"name": n, "version": "1", "key": "k", "value": "v"},
        "EDIT",
    ),
    "delete_model_version_tag": (
        "DELETE",
        "model-versions/delete-tag",
        lambda n, r: {"name": n, "version": "1", "key": "t"},
        "MANAGE",
    ),
}
#: level -> the grants that allow it (None: no grant, so the server's default READ)
ALLOWED = {
    "READ": {None, "READ", "EDIT", "MANAGE"},
    "EDIT": {"EDIT", "MANAGE"},
    "MANAGE": {"MANAGE"},
}


@pytest.mark.parametrize("held", [None, "READ", "EDIT", "MANAGE"])
@pytest.mark.parametrize("route", list(ROUTES))
def test_each_registry_route_answers_by_the_callers_grant(
    server: ServerProcess, run_id: str, route: str, held: str | None
) -> None:
    method, path, body, level = ROUTES[route]
    name = _unique(route)
    make_model(server, ALICE, run_id, name)
    if held is not None:
        grant(server, ALICE, name, "bob", held)
    answer = call(server, method, path, BOB, body(name, run_id))
    if held in ALLOWED[level]:
        assert answer.status == 200, (answer.status, answer.body)
    else:
        assert (answer.status, answer.code) == (403, "PERMISSION_DENIED"), answer.body
        assert f"registered model '{name}'" in answer.json["message"]
    # the creator and the admin may always
    assert (
        call(
            server, method, path, ADMIN if held == "MANAGE" else ALICE, body(_owned(server, run_id), run_id)
        ).status
        == 200
    )


def _owned(server: ServerProcess, run_id: str) -> str:
    name = _unique("owned")
    make_model(server, ALICE, run_id, name)
    return name


def test_creating_a_model_needs_only_a_login_and_makes_the_creator_its_manager(server: ServerProcess) -> None:
    name = _unique("bobs")
    assert call(server, "POST", "registered-models/create", None, {"name": name}).status == 401
    ok(call(server, "POST", "registered-models/create", BOB, {"name": name}))
    got = ok(call(server, "GET", "registered-models/permissions/get", BOB, {"name": name, "username": "bob"}))
    assert got["registered_model_permission"]["permission"] == "MANAGE"
    assert call(server, "DELETE", "registered-models/delete", ALICE, {"name": name}).status == 403
    ok(call(server, "DELETE", "registered-models/delete", BOB, {"name": name}))


def test_a_version_from_a_run_the_caller_may_not_read_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    closed = _start(
        tmp_path_factory.mktemp("auth-registry-closed"), TRACKLET_AUTH_DEFAULT_PERMISSION="NO_PERMISSIONS"
    )
    try:
        experiment_id = ok(call(closed, "POST", "experiments/create", ALICE, {"name": "private"}))[
            "experiment_id"
        ]
        run = ok(call(closed, "POST", "runs/create", ALICE, {"experiment_id": experiment_id}))["run"]["info"][
            "run_id"
        ]
        ok(call(closed, "POST", "registered-models/create", BOB, {"name": "bm"}))
        version = {"name": "bm", "source": f"runs:/{run}/model", "run_id": run}
        refused = call(closed, "POST", "model-versions/create", BOB, version)
        assert (refused.status, refused.code) == (403, "PERMISSION_DENIED")
        body = {"experiment_id": experiment_id, "username": "bob", "permission": "READ"}
        ok(call(closed, "POST", "experiments/permissions/create", ALICE, body))
        ok(call(closed, "POST", "model-versions/create", BOB, version))
        _search_is_filtered(closed, run)
    finally:
        closed.stop()


def _search_is_filtered(server: ServerProcess, run_id: str) -> None:
    """With NO_PERMISSIONS by default: searches answer only the caller's readable models,
    and a page of registered models is filled up from the following ones."""
    names = [f"s{i:02d}" for i in range(12)]
    for name in names:
        ok(call(server, "POST", "registered-models/create", ALICE, {"name": name}))
        version = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
        ok(call(server, "POST", "model-versions/create", ALICE, version))
    for name in names[::4]:
        grant(server, ALICE, name, "bob", "READ")
    seen, token = [], None
    while True:
        query: dict[str, Any] = {"max_results": 2, "filter": "name LIKE 's%'"}
        if token:
            query["page_token"] = token
        page = ok(call(server, "GET", "registered-models/search", BOB, query))
        assert len(page.get("registered_models", [])) <= 2
        seen += [m["name"] for m in page.get("registered_models", [])]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == names[::4]
    first = ok(
        call(server, "GET", "registered-models/search", BOB, {"max_results": 2, "filter": "name LIKE 's%'"})
    )
    assert [m["name"] for m in first["registered_models"]] == ["s00", "s04"]
    versions = ok(call(server, "GET", "model-versions/search", BOB, {"filter": "name LIKE 's%'"}))
    assert sorted(v["name"] for v in versions["model_versions"]) == names[::4]
    everything = ok(call(server, "GET", "model-versions/search", ADMIN, {"filter": "name LIKE 's%'"}))
    assert len(everything["model_versions"]) == len(names)
    assert call(server, "GET", "registered-models/get", BOB, {"name": "s01"}).status == 403
    ok(call(server, "GET", "registered-models/get", BOB, {"name": "s04"}))


# -- grants follow the model ---------------------------------------------------------------------


def test_rename_carries_the_grants_and_delete_removes_them(server: ServerProcess, run_id: str) -> None:
    name = _unique("follow")
    make_model(server, ALICE, run_id, name)
    grant(server, ALICE, name, "bob", "EDIT")
    ok(call(server, "POST", "registered-models/rename", BOB, {"name": name, "new_name": name + "-2"}))
    moved = ok(
        call(
            server,
            "GET",
            "registered-models/permissions/get",
            ADMIN,
            {"name": name + "-2", "username": "bob"},
        )
    )
    assert moved["registered_model_permission"]["permission"] == "EDIT"
    assert (
        call(
            server, "GET", "registered-models/permissions/get", ADMIN, {"name": name, "username": "bob"}
        ).status
        == 404
    )
    # alice's MANAGE came along too
    ok(call(server, "DELETE", "registered-models/delete", ALICE, {"name": name + "-2"}))
    gone = call(
        server, "GET", "registered-models/permissions/get", ADMIN, {"name": name + "-2", "username": "alice"}
    )
    assert (gone.status, gone.code) == (404, "RESOURCE_DOES_NOT_EXIST")
    # a new model of the same name starts without the old grants
    ok(call(server, "POST", "registered-models/create", ADMIN, {"name": name + "-2"}))
    assert (
        call(
            server, "PATCH", "registered-models/update", BOB, {"name": name + "-2", "description": "x"}
        ).status
        == 403
    )


# -- the permissions API -------------------------------------------------------------------------


def test_permissions_api_answers_mlflows_json_and_errors(server: ServerProcess) -> None:
    name = _unique("perm")
    ok(call(server, "POST", "registered-models/create", ALICE, {"name": name}))
    bob_id = ok(call(server, "GET", "users/get", BOB, {"username": "bob"}))["user"]["id"]
    created = grant(server, ALICE, name, "bob", "READ")
    assert created == {"registered_model_permission": {"name": name, "user_id": bob_id, "permission": "READ"}}
    again = call(
        server,
        "POST",
        "registered-models/permissions/create",
        ALICE,
        {"name": name, "username": "bob", "permission": "EDIT"},
    )
    assert (again.status, again.code) == (400, "RESOURCE_ALREADY_EXISTS")
    assert again.json["message"] == f"Registered model permission (name={name}, username=bob) already exists."
    # bob (READ) may not manage the model's permissions
    for method, action, body in (
        ("POST", "create", {"name": name, "username": "alice", "permission": "READ"}),
        ("GET", "get", {"name": name, "username": "bob"}),
        ("PATCH", "update", {"name": name, "username": "bob", "permission": "MANAGE"}),
        ("DELETE", "delete", {"name": name, "username": "bob"}),
    ):
        refused = call(server, method, f"registered-models/permissions/{action}", BOB, body)
        assert (refused.status, refused.code) == (403, "PERMISSION_DENIED"), action
    assert (
        ok(
            call(
                server,
                "PATCH",
                "registered-models/permissions/update",
                ALICE,
                {"name": name, "username": "bob", "permission": "EDIT"},
            )
        )
        == {}
    )
    got = ok(
        call(server, "GET", "registered-models/permissions/get", ALICE, {"name": name, "username": "bob"})
    )
    assert got["registered_model_permission"]["permission"] == "EDIT"
    user = ok(call(server, "GET", "users/get", BOB, {"username": "bob"}))["user"]
    assert {"name": name, "user_id": bob_id, "permission": "EDIT"} in user["registered_model_permissions"]
    assert (
        ok(
            call(
                server,
                "DELETE",
                "registered-models/permissions/delete",
                ALICE,
                {"name": name, "username": "bob"},
            )
        )
        == {}
    )
    missing = call(
        server, "GET", "registered-models/permissions/get", ALICE, {"name": name, "username": "bob"}
    )
    assert (missing.status, missing.code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert (
        missing.json["message"] == f"Registered model permission with name={name} and username=bob not found"
    )
    nothing = call(
        server,
        "POST",
        "registered-models/permissions/create",
        ALICE,
        {"name": name, "username": "bob", "permission": "NO_PERMISSIONS"},
    )
    assert (nothing.status, nothing.code) == (400, "INVALID_PARAMETER_VALUE")
    no_name = call(
        server,
        "POST",
        "registered-models/permissions/create",
        ALICE,
        {"username": "bob", "permission": "READ"},
    )
    assert no_name.json == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Missing value for required parameter 'name'.",
    }
    nobody = call(
        server,
        "POST",
        "registered-models/permissions/create",
        ADMIN,
        {"name": name, "username": "carol", "permission": "READ"},
    )
    assert (nobody.status, nobody.json["message"]) == (404, "User with username=carol not found")
    # the web UI's prefix serves the same API
    ok(
        call(
            server,
            "GET",
            "/ajax-api/2.0/mlflow/registered-models/permissions/get",
            ALICE,
            {"name": name, "username": "alice"},
        )
    )


def test_mlflow3_grant_api_takes_registered_models(server: ServerProcess) -> None:
    name = _unique("v3")
    ok(call(server, "POST", "registered-models/create", ALICE, {"name": name}))
    v3 = "/api/3.0/mlflow/users/permissions/"
    body = {"username": "bob", "resource_type": "registered_model", "resource_id": name, "permission": "EDIT"}
    assert call(server, "POST", v3 + "grant", BOB, body).status == 403
    ok(call(server, "POST", v3 + "grant", ALICE, body))
    query = {"username": "bob", "resource_type": "registered_model", "resource_id": name}
    assert ok(call(server, "GET", v3 + "get", BOB, query)) == {"allowed": True, "permission": "EDIT"}
    ok(call(server, "POST", v3 + "revoke", ALICE, {k: v for k, v in body.items() if k != "permission"}))
    assert ok(call(server, "GET", v3 + "get", BOB, query)) == {"allowed": False, "permission": "READ"}


def test_mlflows_own_client_sees_the_permissions(server: ServerProcess, run_id: str, tmp_path: Path) -> None:
    """MLflow's MlflowClient (in a subprocess, as bob) against the server: refused where bob
    holds too little, answered where he holds enough."""
    import os
    import subprocess
    import sys
    import textwrap

    name = _unique("client")
    make_model(server, ALICE, run_id, name)
    grant(server, ALICE, name, "bob", "READ")
    script = textwrap.dedent(
        f"""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
        client = MlflowClient({server.url!r}, registry_uri={server.url!r})
        print(client.get_registered_model({name!r}).name)
        print(client.get_model_version_by_alias({name!r}, "champion").version)
        try:
            client.delete_registered_model({name!r})
        except MlflowException as exc:
            print(exc.error_code)
        """
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_USERNAME": BOB[0],
        "MLFLOW_TRACKING_PASSWORD": BOB[1],
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [name, "1", "PERMISSION_DENIED"]


# -- logged models (permissions of their experiment) --------------------------------------------


def test_logged_model_routes_answer_by_the_experiments_permission(server: ServerProcess) -> None:
    experiment_id = ok(call(server, "POST", "experiments/create", ALICE, {"name": _unique("lm")}))[
        "experiment_id"
    ]
    body = {"experiment_id": experiment_id, "name": "net"}
    assert call(server, "POST", "logged-models", BOB, body).status == 403  # EDIT on the experiment
    model_id = ok(call(server, "POST", "logged-models", ALICE, body))["model"]["info"]["model_id"]
    ok(call(server, "GET", f"logged-models/{model_id}", BOB))  # READ by default
    tags = {"tags": [{"key": "k", "value": "v"}]}
    assert call(server, "PATCH", f"logged-models/{model_id}/tags", BOB, tags).status == 403
    assert call(server, "DELETE", f"logged-models/{model_id}", BOB).status == 403
    search = {"experiment_ids": [experiment_id]}
    assert [
        m["info"]["model_id"] for m in ok(call(server, "POST", "logged-models/search", BOB, search))["models"]
    ] == [model_id]
    grant_body = {"experiment_id": experiment_id, "username": "bob", "permission": "EDIT"}
    ok(call(server, "POST", "experiments/permissions/create", ALICE, grant_body))
    ok(call(server, "PATCH", f"logged-models/{model_id}/tags", BOB, tags))
    assert call(server, "DELETE", f"logged-models/{model_id}", BOB).status == 403  # MANAGE
    ok(call(server, "DELETE", f"logged-models/{model_id}", ALICE))
    # a logged model that does not exist: 404 where the default would allow the call, else 403
    assert call(server, "GET", "logged-models/m-00000000000000000000000000000000", BOB).status == 404
    assert call(server, "DELETE", "logged-models/m-00000000000000000000000000000000", BOB).status == 403
