"""``tracklet server --auth`` end to end: real server subprocesses, real HTTP, MLflow's own
client (tracking and ``AuthServiceClient``) in subprocesses, and a PostgreSQL-backed
server keeping its users in PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tracklet_http.testing import ServerProcess

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}

POSTGRES_URI = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")


class Answer:
    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        self.status, self.body, self.headers = status, body, headers

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}

    @property
    def code(self) -> str | None:
        return self.json.get("error_code")


def call(
    server: ServerProcess,
    method: str,
    path: str,
    user: tuple[str, str] | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request to the server (``path`` under /api/2.0/mlflow unless it starts with /)."""
    url = server.url + (path if path.startswith("/") else "/api/2.0/mlflow/" + path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Answer(resp.status, resp.read(), resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, err.read(), err.headers)


def ok(answer: Answer) -> Any:
    assert answer.status == 200, (answer.status, answer.body)
    return answer.json


def make_user(server: ServerProcess, user: tuple[str, str]) -> dict[str, Any]:
    return ok(call(server, "POST", "users/create", ADMIN, {"username": user[0], "password": user[1]}))["user"]


@pytest.fixture
def auth_server(start_tracklet_server: Callable[..., ServerProcess]) -> ServerProcess:
    """A ``tracklet server --auth`` on sqlite, admin from the environment, users alice and bob."""
    server = start_tracklet_server(None, None, "--auth", env=ADMIN_ENV)
    make_user(server, ALICE)
    make_user(server, BOB)
    return server


def create_experiment(server: ServerProcess, user: tuple[str, str], name: str) -> str:
    return str(ok(call(server, "POST", "experiments/create", user, {"name": name}))["experiment_id"])


def create_run(server: ServerProcess, user: tuple[str, str], experiment_id: str) -> str:
    run = ok(call(server, "POST", "runs/create", user, {"experiment_id": experiment_id, "start_time": 0}))
    return str(run["run"]["info"]["run_id"])


# -- authentication ---------------------------------------------------------------------------------


def test_unauthenticated_calls_get_401_with_a_challenge(auth_server: ServerProcess) -> None:
    for method, path, body in (
        ("POST", "experiments/search", {}),
        ("GET", "experiments/get", None),
        ("GET", "users/current", None),
        ("POST", "users/create", {"username": "x", "password": "y" * 12}),
    ):
        answer = call(
            auth_server, method, path, None, body, {"experiment_id": "0"} if method == "GET" else None
        )
        assert answer.status == 401, path
        assert answer.code == "UNAUTHENTICATED"
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="tracklet"'
    # liveness probes stay open
    assert call(auth_server, "GET", "/health").status == 200


def test_wrong_password_and_unknown_user_get_401(auth_server: ServerProcess) -> None:
    for user in (("alice", "not-her-password"), ("nobody", "whatever-password"), ("alice", "")):
        answer = call(auth_server, "POST", "experiments/search", user, {})
        assert answer.status == 401 and answer.code == "UNAUTHENTICATED"
        assert "WWW-Authenticate" in answer.headers
    assert call(auth_server, "POST", "experiments/search", ALICE, {}).status == 200


def test_random_admin_password_is_logged_once_across_workers(
    start_tracklet_server: Callable[..., ServerProcess],
) -> None:
    server = start_tracklet_server(None, None, "--auth", "--workers", "2")
    lines = [line for line in server.output().splitlines() if "generated password" in line]
    assert len(lines) == 1, server.output()
    password = re.search(r"generated password '([^']+)'", lines[0]).group(1)  # type: ignore[union-attr]
    assert password != "password1234"
    assert ok(call(server, "GET", "users/current", ("admin", password)))["user"]["is_admin"] is True


# -- users ------------------------------------------------------------------------------------------


def test_admin_manages_users(auth_server: ServerProcess) -> None:
    user = ok(call(auth_server, "GET", "users/get", ADMIN, query={"username": "alice"}))["user"]
    assert user["username"] == "alice" and user["is_admin"] is False
    assert user["experiment_permissions"] == [] and "password_hash" not in user
    names = [u["username"] for u in ok(call(auth_server, "GET", "users/list", ADMIN))["users"]]
    assert names == ["admin", "alice", "bob"]

    dup = call(auth_server, "POST", "users/create", ADMIN, {"username": "alice", "password": "x" * 12})
    assert (dup.status, dup.code) == (400, "RESOURCE_ALREADY_EXISTS")
    short = call(auth_server, "POST", "users/create", ADMIN, {"username": "carol", "password": "short"})
    assert (short.status, short.code) == (400, "INVALID_PARAMETER_VALUE") and "password" in short.json[
        "message"
    ]
    missing = call(auth_server, "GET", "users/get", ADMIN, query={"username": "nobody"})
    assert (missing.status, missing.code) == (404, "RESOURCE_DOES_NOT_EXIST")

    # non-admins: no user management; reading themselves is fine
    assert (
        call(auth_server, "POST", "users/create", ALICE, {"username": "eve", "password": "e" * 12}).status
        == 403
    )
    assert call(auth_server, "GET", "users/get", ALICE, query={"username": "bob"}).status == 403
    assert call(auth_server, "GET", "users/get", ALICE, query={"username": "alice"}).status == 200
    assert (
        call(
            auth_server, "PATCH", "users/update-admin", ALICE, {"username": "alice", "is_admin": True}
        ).status
        == 403
    )
    assert call(auth_server, "DELETE", "users/delete", ALICE, {"username": "bob"}).status == 403

    ok(call(auth_server, "PATCH", "users/update-admin", ADMIN, {"username": "bob", "is_admin": True}))
    assert ok(call(auth_server, "GET", "users/current", BOB))["user"]["is_admin"] is True
    ok(call(auth_server, "DELETE", "users/delete", BOB, {"username": "alice"}))
    assert call(auth_server, "POST", "experiments/search", ALICE, {}).status == 401
    self_delete = call(auth_server, "DELETE", "users/delete", ADMIN, {"username": "admin"})
    assert (self_delete.status, self_delete.code) == (400, "BAD_REQUEST")


def test_last_admin_cannot_step_down(auth_server: ServerProcess) -> None:
    answer = call(auth_server, "PATCH", "users/update-admin", ADMIN, {"username": "admin", "is_admin": False})
    assert answer.status == 400 and "only admin" in answer.json["message"]
    assert ok(call(auth_server, "GET", "users/current", ADMIN))["user"]["is_admin"] is True


def test_password_changes(auth_server: ServerProcess) -> None:
    new = "alice-password-2"
    # her own: needs the current password, which must match and differ from the new one
    answer = call(
        auth_server, "PATCH", "users/update-password", ALICE, {"username": "alice", "password": new}
    )
    assert answer.status == 400 and "current_password" in answer.json["message"]
    answer = call(
        auth_server,
        "PATCH",
        "users/update-password",
        ALICE,
        {"username": "alice", "password": new, "current_password": "wrong-password"},
    )
    assert answer.status == 400 and "does not match" in answer.json["message"]
    ok(
        call(
            auth_server,
            "PATCH",
            "users/update-password",
            ALICE,
            {"username": "alice", "password": new, "current_password": ALICE[1]},
        )
    )
    assert call(auth_server, "POST", "experiments/search", ALICE, {}).status == 401
    assert call(auth_server, "POST", "experiments/search", ("alice", new), {}).status == 200
    # someone else's: admins only, no current password needed
    assert (
        call(
            auth_server,
            "PATCH",
            "users/update-password",
            ("alice", new),
            {"username": "bob", "password": "bob-password-99"},
        ).status
        == 403
    )
    ok(
        call(
            auth_server,
            "PATCH",
            "users/update-password",
            ADMIN,
            {"username": "bob", "password": "bob-password-99"},
        )
    )
    assert call(auth_server, "POST", "experiments/search", ("bob", "bob-password-99"), {}).status == 200


def test_bad_requests_to_the_auth_api(auth_server: ServerProcess) -> None:
    url = auth_server.url + "/api/2.0/mlflow/users/create"
    request = urllib.request.Request(url, data=b"not json", method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"admin:admin-password-123").decode())
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    info.value.close()
    assert info.value.code == 400
    assert call(auth_server, "POST", "users/create", ADMIN, ["a", "list"]).status == 400
    assert (
        call(auth_server, "POST", "users/create", ADMIN, {"username": "x" * 300, "password": "p" * 12}).status
        == 400
    )
    assert (
        call(
            auth_server, "POST", "users/create", ADMIN, {"username": "a\u0000b", "password": "p" * 12}
        ).status
        == 400
    )
    assert (
        call(
            auth_server, "PATCH", "users/update-admin", ADMIN, {"username": "bob", "is_admin": "maybe"}
        ).status
        == 400
    )
    assert call(auth_server, "GET", "users/create", ADMIN).status == 405
    grant = {"experiment_id": "0", "username": "bob", "permission": "NO_PERMISSIONS"}
    answer = call(auth_server, "POST", "experiments/permissions/create", ADMIN, grant)
    assert (answer.status, answer.code) == (400, "INVALID_PARAMETER_VALUE")
    # one spelling per experiment: a grant on "00" would never apply to experiment 0
    for spelling in ("00", " 0", "+0", "\u0660"):
        grant = {"experiment_id": spelling, "username": "bob", "permission": "EDIT"}
        answer = call(auth_server, "POST", "experiments/permissions/create", ADMIN, grant)
        assert (answer.status, answer.code) == (400, "INVALID_PARAMETER_VALUE"), spelling
        assert "experiment_id" in answer.json["message"]


# -- permissions ------------------------------------------------------------------------------------


def test_creator_manages_others_read_until_granted(auth_server: ServerProcess) -> None:
    exp = create_experiment(auth_server, ALICE, "alices")
    user = ok(call(auth_server, "GET", "users/get", ALICE, query={"username": "alice"}))["user"]
    assert user["experiment_permissions"] == [
        {"experiment_id": exp, "user_id": user["id"], "permission": "MANAGE"}
    ]
    run_id = create_run(auth_server, ALICE, exp)
    metric = {"run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": 0, "step": 0}]}
    ok(call(auth_server, "POST", "runs/log-batch", ALICE, metric))

    # bob (default READ) reads ...
    assert (
        ok(call(auth_server, "GET", "experiments/get", BOB, query={"experiment_id": exp}))["experiment"][
            "name"
        ]
        == "alices"
    )
    assert (
        ok(call(auth_server, "GET", "runs/get", BOB, query={"run_id": run_id}))["run"]["info"]["run_id"]
        == run_id
    )
    found = ok(call(auth_server, "POST", "runs/search", BOB, {"experiment_ids": [exp]}))
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]
    # ... but cannot write
    for method, path, body in (
        ("POST", "runs/log-batch", metric),
        ("POST", "runs/create", {"experiment_id": exp}),
        ("POST", "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        ("POST", "experiments/update", {"experiment_id": exp, "new_name": "bobs now"}),
        ("POST", "experiments/delete", {"experiment_id": exp}),
        (
            "POST",
            "experiments/permissions/create",
            {"experiment_id": exp, "username": "bob", "permission": "EDIT"},
        ),
    ):
        answer = call(auth_server, method, path, BOB, body)
        assert (answer.status, answer.code) == (403, "PERMISSION_DENIED"), path
    # a refused call changed nothing
    run = ok(call(auth_server, "GET", "runs/get", ALICE, query={"run_id": run_id}))["run"]
    assert "tags" not in run["data"] or all(t["key"] != "k" for t in run["data"]["tags"])

    # alice grants bob EDIT: he can log to runs, still not delete
    grant = ok(
        call(
            auth_server,
            "POST",
            "experiments/permissions/create",
            ALICE,
            {"experiment_id": exp, "username": "bob", "permission": "EDIT"},
        )
    )
    assert grant["experiment_permission"]["permission"] == "EDIT"
    ok(call(auth_server, "POST", "runs/log-batch", BOB, metric))
    ok(call(auth_server, "POST", "runs/create", BOB, {"experiment_id": exp}))
    assert call(auth_server, "POST", "runs/delete", BOB, {"run_id": run_id}).status == 403
    got = ok(
        call(
            auth_server,
            "GET",
            "experiments/permissions/get",
            ALICE,
            query={"experiment_id": exp, "username": "bob"},
        )
    )
    assert got["experiment_permission"]["permission"] == "EDIT"

    # MANAGE lets bob delete; taking the grant away puts him back on the default
    ok(
        call(
            auth_server,
            "PATCH",
            "experiments/permissions/update",
            ALICE,
            {"experiment_id": exp, "username": "bob", "permission": "MANAGE"},
        )
    )
    ok(call(auth_server, "POST", "runs/delete", BOB, {"run_id": run_id}))
    ok(call(auth_server, "POST", "runs/restore", BOB, {"run_id": run_id}))
    ok(
        call(
            auth_server,
            "DELETE",
            "experiments/permissions/delete",
            ALICE,
            {"experiment_id": exp, "username": "bob"},
        )
    )
    assert call(auth_server, "POST", "runs/log-batch", BOB, metric).status == 403
    gone = call(
        auth_server,
        "GET",
        "experiments/permissions/get",
        ALICE,
        query={"experiment_id": exp, "username": "bob"},
    )
    assert (gone.status, gone.code) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_default_no_permissions_hides_experiments(
    start_tracklet_server: Callable[..., ServerProcess],
) -> None:
    server = start_tracklet_server(
        None, None, "--auth", env={**ADMIN_ENV, "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"}
    )
    make_user(server, ALICE)
    make_user(server, BOB)
    alices = create_experiment(server, ALICE, "alices")
    bobs = create_experiment(server, BOB, "bobs")
    alice_run = create_run(server, ALICE, alices)
    create_run(server, BOB, bobs)

    def names(user: tuple[str, str]) -> list[str]:
        found = ok(call(server, "POST", "experiments/search", user, {"max_results": 100}))
        return sorted(e["name"] for e in found.get("experiments", []))

    assert names(BOB) == ["bobs"]
    assert names(ADMIN) == ["Default", "alices", "bobs"]
    runs = ok(call(server, "POST", "runs/search", BOB, {"experiment_ids": ["0", alices, bobs]}))
    assert {r["info"]["experiment_id"] for r in runs["runs"]} == {bobs}
    assert call(server, "GET", "experiments/get", BOB, query={"experiment_id": alices}).status == 403
    assert call(server, "GET", "runs/get", BOB, query={"run_id": alice_run}).status == 403
    assert (
        call(server, "GET", "experiments/get-by-name", BOB, query={"experiment_name": "alices"}).status == 403
    )
    # a missing run is refused too, so "forbidden" and "missing" look the same to bob
    assert call(server, "GET", "runs/get", BOB, query={"run_id": "f" * 32}).status == 403

    ok(
        call(
            server,
            "POST",
            "experiments/permissions/create",
            ALICE,
            {"experiment_id": alices, "username": "bob", "permission": "READ"},
        )
    )
    assert names(BOB) == ["alices", "bobs"]


def test_mlflow3_grant_api(auth_server: ServerProcess) -> None:
    exp = create_experiment(auth_server, ALICE, "alices")
    v3 = "/api/3.0/mlflow/users/permissions/"
    body = {"username": "bob", "resource_type": "experiment", "resource_id": exp, "permission": "EDIT"}
    assert call(auth_server, "POST", v3 + "grant", BOB, body).status == 403
    ok(call(auth_server, "POST", v3 + "grant", ALICE, body))
    assert call(auth_server, "POST", v3 + "grant", ALICE, body).code == "RESOURCE_ALREADY_EXISTS"
    query = {"username": "bob", "resource_type": "experiment", "resource_id": exp}
    assert ok(call(auth_server, "GET", v3 + "get", BOB, query=query)) == {
        "allowed": True,
        "permission": "EDIT",
    }
    ok(call(auth_server, "POST", v3 + "revoke", ALICE, {k: v for k, v in body.items() if k != "permission"}))
    assert ok(call(auth_server, "GET", v3 + "get", BOB, query=query)) == {
        "allowed": False,
        "permission": "READ",
    }
    # registered models are granted here too (test_auth_registry*.py); other kinds are refused
    prompt = call(auth_server, "POST", v3 + "grant", ADMIN, {**body, "resource_type": "prompt"})
    assert (prompt.status, prompt.code) == (400, "INVALID_PARAMETER_VALUE")


def test_openapi_documents_the_auth_api(auth_server: ServerProcess) -> None:
    document = ok(call(auth_server, "GET", "/openapi.json"))
    for path, method in (
        ("/api/2.0/mlflow/users/create", "post"),
        ("/api/2.0/mlflow/users/update-password", "patch"),
        ("/api/2.0/mlflow/users/delete", "delete"),
        ("/api/2.0/mlflow/experiments/permissions/get", "get"),
        ("/api/3.0/mlflow/users/permissions/grant", "post"),
    ):
        assert method in document["paths"][path], path
    assert "ExperimentPermission" in document["components"]["schemas"]


# -- artifacts through the proxy ----------------------------------------------------------------------


def test_artifact_proxy_needs_read_and_edit(auth_server: ServerProcess) -> None:
    exp = create_experiment(auth_server, ALICE, "alices")
    run_id = create_run(auth_server, ALICE, exp)
    url = f"{auth_server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/hello.txt"

    def send(method: str, user: tuple[str, str], data: bytes | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read()

    assert send("PUT", BOB, b"from bob")[0] == 403
    assert send("PUT", ALICE, b"hello")[0] == 200
    assert send("GET", BOB) == (200, b"hello")
    assert send("DELETE", BOB)[0] == 403
    listing = call(
        auth_server, "GET", "/api/2.0/mlflow-artifacts/artifacts", BOB, query={"path": f"{exp}/{run_id}"}
    )
    assert listing.status == 200
    assert send("GET", ("bob", "wrong-password-x"))[0] == 401


# -- MLflow's own client ------------------------------------------------------------------------------


def run_mlflow(script: str, server: ServerProcess, user: tuple[str, str]) -> dict[str, Any]:
    """Run ``script`` with the real mlflow client as ``user``; it prints one JSON line."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_TRACKING_USERNAME": user[0],
        "MLFLOW_TRACKING_PASSWORD": user[1],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PYTHONWARNINGS": "ignore",
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.interop
def test_mlflow_client_logs_and_is_refused(auth_server: ServerProcess) -> None:
    logged = run_mlflow(
        """
        import json, mlflow
        mlflow.set_experiment("from-mlflow")
        with mlflow.start_run() as run:
            mlflow.log_param("p", "1")
            mlflow.log_metric("m", 2.5, step=3)
            mlflow.set_tag("t", "v")
        found = mlflow.search_runs(experiment_names=["from-mlflow"], output_format="list")
        print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                          "found": [r.info.run_id for r in found],
                          "metric": mlflow.get_run(run.info.run_id).data.metrics["m"]}))
        """,
        auth_server,
        ALICE,
    )
    assert logged["found"] == [logged["run_id"]] and logged["metric"] == 2.5

    refused = run_mlflow(
        f"""
        import json, mlflow
        from mlflow.exceptions import MlflowException
        run = mlflow.get_run("{logged["run_id"]}")
        try:
            mlflow.MlflowClient().log_metric("{logged["run_id"]}", "m", 1.0)
            outcome = "logged"
        except MlflowException as exc:
            outcome = exc.error_code
        print(json.dumps({{"read": run.data.params["p"], "write": outcome}}))
        """,
        auth_server,
        BOB,
    )
    assert refused == {"read": "1", "write": "PERMISSION_DENIED"}

    wrong = run_mlflow(
        """
        import json, mlflow
        from mlflow.exceptions import MlflowException
        try:
            mlflow.search_experiments()
            outcome = "ok"
        except MlflowException as exc:
            outcome = str(exc)
        print(json.dumps({"outcome": outcome}))
        """,
        auth_server,
        ("alice", "wrong-password-1"),
    )
    assert "401" in wrong["outcome"] or "UNAUTHENTICATED" in wrong["outcome"]


@pytest.mark.interop
def test_mlflow_auth_client_manages_users_and_grants(auth_server: ServerProcess) -> None:
    exp = create_experiment(auth_server, ALICE, "alices")
    result = run_mlflow(
        f"""
        import json, os, sys, types
        import mlflow.server
        try:
            from mlflow.server import get_app_client
            client = get_app_client("basic-auth", tracking_uri="{auth_server.url}")
        except ImportError:
            # mlflow[auth]'s Flask-WTF is missing: get_app_client imports MLflow's whole auth
            # app for its client class. Load that same class without the app.
            package = types.ModuleType("mlflow.server.auth")
            package.__path__ = [os.path.join(os.path.dirname(mlflow.server.__file__), "auth")]
            sys.modules["mlflow.server.auth"] = package
            from mlflow.server.auth.client import AuthServiceClient
            client = AuthServiceClient("{auth_server.url}")
        user = client.create_user("carol", "carol-password-1")
        got = client.get_user("carol")
        client.grant_user_permission("carol", "experiment", "{exp}", "EDIT")
        permission = client.get_user_permission("carol", "experiment", "{exp}")
        client.update_user_admin("carol", True)
        client.update_user_password("carol", "carol-password-2")
        print(json.dumps({{"id": user.id, "username": got.username, "is_admin": got.is_admin,
                          "allowed": permission.allowed, "permission": permission.permission}}))
        """,
        auth_server,
        ADMIN,
    )
    assert result["username"] == "carol" and result["is_admin"] is False
    assert (result["allowed"], result["permission"]) == (True, "EDIT")
    carol = ok(call(auth_server, "GET", "users/current", ("carol", "carol-password-2")))["user"]
    assert carol["is_admin"] is True and carol["id"] == result["id"]


# -- PostgreSQL: the users live in the tracking database, shared by replicas ---------------------------


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards (skips when PostgreSQL is down)."""
    base = sa.engine.make_url(POSTGRES_URI.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - not reachable here
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"PostgreSQL is not available: {exc}")
        pytest.skip(f"PostgreSQL is not available ({type(exc).__name__}); set TRACKLET_TEST_POSTGRES_URI")
    name = f"tracklet_auth_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False).replace("+psycopg", "", 1)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_postgres_backed_servers_share_users(start_tracklet_server: Callable[..., ServerProcess]) -> None:
    with fresh_postgres_database() as uri:
        first = start_tracklet_server(uri, None, "--auth", "--workers", "2", env=ADMIN_ENV)
        second = start_tracklet_server(uri, None, "--auth", env=ADMIN_ENV)
        make_user(first, ALICE)
        exp = create_experiment(second, ALICE, "shared")
        # the grant made through the second replica holds on the first
        run_id = create_run(first, ALICE, exp)
        make_user(second, BOB)
        assert (
            call(first, "POST", "runs/set-tag", BOB, {"run_id": run_id, "key": "k", "value": "v"}).status
            == 403
        )

        engine = sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as conn:
                users = conn.execute(
                    sa.text("SELECT username, is_admin FROM tracklet_auth_users ORDER BY id")
                ).all()
                grants = conn.execute(
                    sa.text("SELECT experiment_id, permission FROM tracklet_auth_experiment_permissions")
                ).all()
        finally:
            engine.dispose()
        assert [tuple(u) for u in users] == [("admin", True), ("alice", False), ("bob", False)]
        assert [tuple(g) for g in grants] == [(exp, "MANAGE")]
        first.stop()
        second.stop()
