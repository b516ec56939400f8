"""``/graphql`` on a real ``tracklet server``: with ``--auth`` strangers get 401 and every
field is authorized as its REST endpoint (a field the caller may not read is null, as in
MLflow; searches are narrowed to readable experiments); the size limits and their
settings; GET requests. Equality with MLflow's answers is tested in
``tests/interop/test_mlflow_ui_api.py``."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from tracklet_http.server.graphql.limits import QueryTooLarge, check_query_size
from tracklet_http.testing import ServerProcess, launch_tracklet_server

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}


def call(
    server: ServerProcess, method: str, path: str, user: tuple[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    url = server.url + (path if path.startswith("/") else "/api/2.0/mlflow/" + path)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read() or b"{}")


def ok(answer: tuple[int, Any]) -> Any:
    assert answer[0] == 200, answer
    return answer[1]


def graphql(server: ServerProcess, user: tuple[str, str] | None, query: str, **variables: Any) -> Any:
    return call(server, "POST", "/graphql", user, {"query": query, "variables": variables or None})


GET_RUN = "query Q($id: String) { mlflowGetRun(input: {runId: $id}) { run { info { runName } experiment { name } } } }"
GET_EXPERIMENT = (
    "query Q($id: String) { mlflowGetExperiment(input: {experimentId: $id}) { experiment { name } } }"
)
LIST_ARTIFACTS = "query Q($id: String) { mlflowListArtifacts(input: {runId: $id}) { files { path } } }"
BULK = (
    'query Q($ids: [String]) { mlflowGetMetricHistoryBulkInterval(input: {runIds: $ids, metricKey: "m"})'
    " { metrics { value runId } } }"
)
SEARCH = (
    "query Q($ids: [String]) { mlflowSearchRuns(input: {experimentIds: $ids}) { runs { info { runName } } } }"
)
DATASETS = "mutation M($ids: [String]) { mlflowSearchDatasets(input: {experimentIds: $ids}) { datasetSummaries { name } } }"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = launch_tracklet_server(
        tmp_path_factory.mktemp("graphql-auth"),
        None,
        None,
        "--auth",
        env={**ADMIN_ENV, "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS"},
    )
    for user in (ALICE, BOB):
        ok(call(server, "POST", "users/create", ADMIN, {"username": user[0], "password": user[1]}))
    yield server
    server.stop()


def _experiment_with_run(server: ServerProcess, name: str) -> tuple[str, str]:
    exp = str(ok(call(server, "POST", "experiments/create", ALICE, {"name": name}))["experiment_id"])
    run = ok(call(server, "POST", "runs/create", ALICE, {"experiment_id": exp, "run_name": name + "-run"}))
    run_id = run["run"]["info"]["run_id"]
    ok(
        call(
            server,
            "POST",
            "runs/log-metric",
            ALICE,
            {"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 1, "step": 0},
        )
    )
    return exp, run_id


def test_strangers_get_401_before_anything_runs(auth_server: ServerProcess) -> None:
    status, answer = graphql(auth_server, None, '{ test(inputString: "x") { output } }')
    assert status == 401 and answer["error_code"] == "UNAUTHENTICATED"
    assert (
        graphql(auth_server, ("alice", "wrong-password"), '{ test(inputString: "x") { output } }')[0] == 401
    )
    assert ok(graphql(auth_server, BOB, '{ test(inputString: "x") { output } }')) == {
        "data": {"test": {"output": "x"}},
        "errors": None,
    }


def test_each_field_needs_read_on_its_experiment(auth_server: ServerProcess) -> None:
    hidden, hidden_run = _experiment_with_run(auth_server, "graphql-hidden")
    shared, shared_run = _experiment_with_run(auth_server, "graphql-shared")
    # the server's default is NO_PERMISSIONS: bob reads what he is granted, alice what she made
    grant = {"experiment_id": shared, "username": "bob", "permission": "READ"}
    ok(call(auth_server, "POST", "experiments/permissions/create", ALICE, grant))

    # alice (MANAGE) and bob (READ) read the shared experiment alike
    for user in (ALICE, BOB, ADMIN):
        answer = ok(graphql(auth_server, user, GET_RUN, id=shared_run))
        assert answer == {
            "data": {
                "mlflowGetRun": {
                    "run": {
                        "info": {"runName": "graphql-shared-run"},
                        "experiment": {"name": "graphql-shared"},
                    }
                }
            },
            "errors": None,
        }
    # bob may not read the hidden one: each field is null, with no error (MLflow's answer)
    for query, variables, field in (
        (GET_RUN, {"id": hidden_run}, "mlflowGetRun"),
        (GET_EXPERIMENT, {"id": hidden}, "mlflowGetExperiment"),
        (LIST_ARTIFACTS, {"id": hidden_run}, "mlflowListArtifacts"),
        (BULK, {"ids": [shared_run, hidden_run]}, "mlflowGetMetricHistoryBulkInterval"),
        (SEARCH, {"ids": [hidden]}, "mlflowSearchRuns"),
        (DATASETS, {"ids": [hidden]}, "mlflowSearchDatasets"),
    ):
        assert ok(graphql(auth_server, BOB, query, **variables)) == {"data": {field: None}, "errors": None}, (
            field
        )
        assert ok(graphql(auth_server, ALICE, query, **variables))["data"][field] is not None, field
    assert ok(graphql(auth_server, ADMIN, GET_RUN, id=hidden_run))["data"]["mlflowGetRun"]["run"] is not None
    # a search over both is narrowed to what bob may read
    runs = ok(graphql(auth_server, BOB, SEARCH, ids=[hidden, shared]))["data"]["mlflowSearchRuns"]["runs"]
    assert runs == [{"info": {"runName": "graphql-shared-run"}}]
    runs = ok(graphql(auth_server, ALICE, SEARCH, ids=[hidden, shared]))["data"]["mlflowSearchRuns"]["runs"]
    assert sorted(r["info"]["runName"] for r in runs) == ["graphql-hidden-run", "graphql-shared-run"]
    # one query mixing both: the readable field answers, the other is null
    mixed = (
        "query Q($a: String, $b: String) { a: mlflowGetRun(input: {runId: $a}) { run { info { runName } } }"
        " b: mlflowGetRun(input: {runId: $b}) { run { info { runName } } } }"
    )
    assert ok(graphql(auth_server, BOB, mixed, a=shared_run, b=hidden_run)) == {
        "data": {"a": {"run": {"info": {"runName": "graphql-shared-run"}}}, "b": None},
        "errors": None,
    }


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = launch_tracklet_server(
        tmp_path_factory.mktemp("graphql"),
        None,
        None,
        "--max-body-size",
        "4K",
        env={"TRACKLET_SERVER_GRAPHQL_MAX_ALIASES": "2"},
    )
    yield server
    server.stop()


def test_alias_limit_follows_the_setting_and_names_it(plain_server: ServerProcess) -> None:
    two = '{ a: test(inputString: "1") { output } b: test(inputString: "2") { output } }'
    assert ok(graphql(plain_server, None, two))["data"] == {"a": {"output": "1"}, "b": {"output": "2"}}
    three = '{ a: test(inputString: "1") { output } b: test(inputString: "2") { output } c: test(inputString: "3") { output } }'
    assert ok(graphql(plain_server, None, three)) == {
        "data": None,
        "errors": [
            "GraphQL queries should have at most 2 aliases, got 3 aliases. "
            "To increase the limit, set the TRACKLET_SERVER_GRAPHQL_MAX_ALIASES environment variable."
        ],
    }


def test_a_body_over_the_servers_limit_is_refused(plain_server: ServerProcess) -> None:
    padding = " " * 5000
    status, answer = graphql(plain_server, None, '{ test(inputString: "x") { output } }' + padding)
    assert status == 400 and "--max-body-size" in answer["message"], answer
    assert ok(graphql(plain_server, None, '{ test(inputString: "x") { output } }' + padding[:3000]))[
        "data"
    ] == {"test": {"output": "x"}}


def test_get_requests_carry_the_query_in_the_url(plain_server: ServerProcess) -> None:
    query = urllib.parse.urlencode(
        {"query": "query Q($s: String) { test(inputString: $s) { output } }", "variables": '{"s": "hi"}'}
    )
    assert ok(call(plain_server, "GET", "/graphql?" + query)) == {
        "data": {"test": {"output": "hi"}},
        "errors": None,
    }
    status, answer = call(plain_server, "GET", "/graphql")
    assert status == 400 and "'query'" in answer["message"]


def test_a_run_page_query_on_a_server_without_runs_answers_mlflows_error(plain_server: ServerProcess) -> None:
    answer = ok(graphql(plain_server, None, GET_RUN, id="0" * 32))
    assert answer == {"data": {"mlflowGetRun": None}, "errors": [f"Run with id={'0' * 32} not found"]}


# -- the limits, on parsed documents -------------------------------------------------------------


def test_fragments_cannot_hide_aliases_or_loop() -> None:
    spread = " ".join(f"...F{i}" for i in range(4))
    fragments = " ".join(
        f'fragment F{i} on Query {{ x{i}a: test(inputString: "a") {{ output }} x{i}b: test(inputString: "b") {{ output }} }}'
        for i in range(4)
    )
    # 8 aliases on one level, in four fragments; 8 root fields too, under 10 - the aliases are not
    check_query_size(parse(f"{{ {spread} }} {fragments}"))  # 8 <= 10
    more = " ".join(f"...G{i}" for i in range(3))
    fragments_g = " ".join(
        f'fragment G{i} on Query {{ y{i}a: test(inputString: "a") {{ output }} y{i}b: test(inputString: "b") {{ output }} }}'
        for i in range(3)
    )
    with pytest.raises(QueryTooLarge, match="at most 10 root fields, got 14"):
        check_query_size(parse(f"{{ {spread} {more} }} {fragments} {fragments_g}"))
    # a fragment spreading itself is counted once per path, and the check ends
    looped = "{ mlflowGetRun(input: {}) { ...R } } fragment R on MlflowGetRunResponse { run { info { runId } } ...R }"
    check_query_size(parse(looped))


def test_depth_counts_through_fragments() -> None:
    nested = "fragment D on MlflowRunExtension { info { runId } }"
    query = "{ mlflowGetRun(input: {}) { run { ...D } } } " + nested
    check_query_size(parse(query))
    deep = "{ a { b { c { d { e { f { g { h { i { ...J } } } } } } } } } } fragment J on X { j { k } }"
    with pytest.raises(QueryTooLarge, match="Query exceeds maximum depth of 10"):
        check_query_size(parse(deep))


def test_a_bad_limit_setting_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACKLET_SERVER_GRAPHQL_MAX_ROOT_FIELDS", "ten")
    with pytest.raises(QueryTooLarge, match="TRACKLET_SERVER_GRAPHQL_MAX_ROOT_FIELDS='ten'"):
        check_query_size(parse('{ test(inputString: "a") { output } }'))
    monkeypatch.delenv("TRACKLET_SERVER_GRAPHQL_MAX_ROOT_FIELDS")
    monkeypatch.setenv("MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS", "1")
    with pytest.raises(QueryTooLarge, match="set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS"):
        check_query_size(
            parse('{ a: test(inputString: "a") { output } b: test(inputString: "b") { output } }')
        )


def test_model_versions_are_those_the_registry_lets_the_caller_read(auth_server: ServerProcess) -> None:
    exp, run_id = _experiment_with_run(auth_server, "graphql-models")
    ok(
        call(
            auth_server,
            "POST",
            "experiments/permissions/create",
            ALICE,
            {"experiment_id": exp, "username": "bob", "permission": "READ"},
        )
    )
    ok(call(auth_server, "POST", "registered-models/create", ALICE, {"name": "graphql-model"}))
    ok(
        call(
            auth_server,
            "POST",
            "model-versions/create",
            ALICE,
            {"name": "graphql-model", "source": f"runs:/{run_id}/m", "run_id": run_id},
        )
    )
    search = "{ mlflowSearchModelVersions(input: {filter: \"name = 'graphql-model'\"}) { modelVersions { name version } } }"
    run_models = "query Q($id: String) { mlflowGetRun(input: {runId: $id}) { run { modelVersions { name version } } } }"
    mine = [{"name": "graphql-model", "version": "1"}]
    assert (
        ok(graphql(auth_server, ALICE, search))["data"]["mlflowSearchModelVersions"]["modelVersions"] == mine
    )
    assert (
        ok(graphql(auth_server, ALICE, run_models, id=run_id))["data"]["mlflowGetRun"]["run"]["modelVersions"]
        == mine
    )
    # bob reads the run but not the model (the server's default is NO_PERMISSIONS)
    assert ok(graphql(auth_server, BOB, search))["data"]["mlflowSearchModelVersions"]["modelVersions"] == []
    assert ok(graphql(auth_server, BOB, run_models, id=run_id)) == {
        "data": {"mlflowGetRun": {"run": {"modelVersions": []}}},
        "errors": None,
    }
