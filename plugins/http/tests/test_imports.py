"""Copying into a server (capability ``import``) over HTTP: tracklet server's own routes
(chunked histories, refusals, auth, Origin checks, the OpenAPI document), and MLflow's
own server, which has no such routes: imports are refused naming the alternative, and
histories are still read, through MLflow's API."""

from __future__ import annotations

import json
import math
import pathlib
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet.testing import raises_code
from tracklet_http import imports_wire
from tracklet_http.client import RestStore
from tracklet_http.server.app import create_app
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ServerProcess, ThreadServer, raw_request

T0 = 1_700_000_000_000
RUN_ID = "b" * 32
ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    root = tmp_path_factory.mktemp("imports-server")
    settings = ServerSettings(backend_store_uri=str(root / "mlruns"), artifacts_destination=str(root / "art"))
    with ThreadServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def store(folder_server: ThreadServer, tmp_path: pathlib.Path) -> Iterator[RestStore]:
    state = folder_server.app.state.tracking
    backing = get_tracking_store(str(tmp_path / "mlruns"), str(tmp_path / "artifacts"))
    previous, state.store = state.store, backing
    try:
        yield RestStore(folder_server.url)
    finally:
        state.store = previous
        backing.close()


def _experiment(experiment_id: str = "5", name: str = "copied") -> Experiment:
    return Experiment(experiment_id, name, "s3://b/5", "active", {"k": "v"}, T0, T0 + 1)


def _run(run_name: str | None = "r", end_time: int | None = T0 + 5) -> Run:
    info = RunInfo(RUN_ID, "5", "ann", "FINISHED", T0, end_time, "active", "s3://b/5/r/artifacts", run_name)
    dataset = DatasetInput(
        Dataset("d", "x1", "local", "{}", None, None), [InputTag("mlflow.data.context", "t")]
    )
    data = RunData([], [Param("p", "1")], [RunTag("t", "2")])
    return Run(info, data, RunInputs([dataset]))


def _with_run(store: RestStore) -> None:
    store.import_experiment(_experiment())
    store.import_run(_run())


def _points(metrics: list[Metric]) -> list[tuple[str, str, int, int]]:
    return [(m.key, repr(float(m.value)), m.timestamp, m.step) for m in metrics]


# -- the wire -------------------------------------------------------------------------------------


def test_chunks_cover_the_history_in_order_and_keep_equal_places_together() -> None:
    points = [Metric("m", float(i), T0 + i // 3, i // 3) for i in range(10)]  # threes share a place
    sent = list(imports_wire.chunks(points, 4))
    assert [offset for offset, _ in sent] == [0, 6]  # the first ends at 6, not 4: a place is not split
    assert [p for _, chunk in sent for p in chunk] == points
    assert list(imports_wire.chunks([], 4)) == [(0, [])]


def test_a_run_crosses_the_wire_with_none_kept_apart_from_empty() -> None:
    for run in (_run(), _run(run_name=None, end_time=None)):
        back = imports_wire.run_from_wire(json.loads(json.dumps(imports_wire.run_to_wire(run))))
        assert back.info.to_dictionary() == run.info.to_dictionary()
        assert (back.data.params, back.data.tags) == (run.data.params, run.data.tags)
        assert [d.dataset.name for d in back.inputs.dataset_inputs] == ["d"]


@pytest.mark.parametrize(
    "change",
    [
        {"info": {"run_id": RUN_ID, "experiment_id": "5", "status": "DONE"}},
        {"info": {"run_id": RUN_ID, "experiment_id": "5", "start_time": "soon"}},
        {"info": {"run_id": RUN_ID, "experiment_id": "5"}, "data": {"params": [{"value": "no key"}]}},
        {"info": {"run_id": 7, "experiment_id": "5"}},
        {"info": "not an object"},
    ],
)
def test_a_malformed_run_is_refused_naming_the_field(change: dict[str, Any]) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
        imports_wire.run_from_wire(change)
    assert "run." in str(excinfo.value)


# -- tracklet server --------------------------------------------------------------------------------


def test_a_long_history_travels_in_chunks_and_reads_back_whole(
    store: RestStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_run(store)
    monkeypatch.setattr(imports_wire, "HISTORY_CHUNK", 4)
    offsets: list[int] = []
    call_json = store.transport.call_json

    def spy(method: str, path: str, payload: Any = None, idempotent: bool = True) -> Any:
        if path.endswith("/import-history"):
            offsets.append(payload["offset"])
        return call_json(method, path, payload, idempotent)

    monkeypatch.setattr(store.transport, "call_json", spy)
    points = [Metric("loss", 1.0 / (i + 1), T0 + i, i) for i in range(9)] + [Metric("loss", math.nan, T0, 9)]
    store.import_metric_history(RUN_ID, "loss", points)
    assert offsets == [0, 4, 8]
    assert _points(list(store.get_metric_history(RUN_ID, "loss"))) == _points(points)
    store.import_metric_history(RUN_ID, "loss", points[:2])  # from offset 0: replaced whole
    assert _points(list(store.get_metric_history(RUN_ID, "loss"))) == _points(points[:2])


def _send(store: RestStore, offset: int, points: list[Metric]) -> None:
    payload = {
        "run_id": RUN_ID,
        "key": "m",
        "offset": offset,
        "metrics": [
            {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step} for m in points
        ],
    }
    store.transport.call_json("POST", imports_wire.PATHS["import_metric_history"], payload)


def test_a_chunk_sent_again_leaves_the_same_history(store: RestStore) -> None:
    _with_run(store)
    points = [Metric("m", float(i), T0 + i, i) for i in range(4)]
    _send(store, 0, points[:2])
    _send(store, 2, points[2:])
    _send(store, 2, points[2:])  # a retry after a lost answer
    assert _points(list(store.get_metric_history(RUN_ID, "m"))) == _points(points)


def test_a_chunk_past_the_stored_points_is_refused(store: RestStore) -> None:
    _with_run(store)
    _send(store, 0, [Metric("m", 1.0, T0, 0)])
    with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
        _send(store, 5, [Metric("m", 2.0, T0, 1)])
    assert "offset 0" in str(excinfo.value)
    assert [m.value for m in store.get_metric_history(RUN_ID, "m")] == [1.0]


def test_a_chunked_history_with_repeats_on_a_store_that_keeps_them_once(
    folder_server: ThreadServer, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = folder_server.app.state.tracking
    backing = get_tracking_store(f"sqlite:///{tmp_path / 'dedupe.db'}", str(tmp_path / "artifacts"))
    assert {"idempotent_metrics", "import"} <= backing.capabilities
    previous, state.store = state.store, backing
    try:
        store = RestStore(folder_server.url)
        _with_run(store)
        monkeypatch.setattr(imports_wire, "HISTORY_CHUNK", 4)
        point = Metric("m", 1.0, T0, 0)
        points = [point, point, *(Metric("m", float(i), T0 + i, i) for i in range(1, 7))]
        store.import_metric_history(RUN_ID, "m", points)  # chunk 1 keeps 3 of its 4 points
        direct = [point, *points[2:]]
        assert _points(list(store.get_metric_history(RUN_ID, "m"))) == _points(direct)
    finally:
        state.store = previous
        backing.close()


def test_histories_are_read_in_one_call(store: RestStore) -> None:
    _with_run(store)
    store.import_metric_history(RUN_ID, "a", [Metric("a", 1.0, T0, 0), Metric("a", 2.0, T0, 1)])
    store.import_metric_history(RUN_ID, "b/c", [Metric("b/c", -math.inf, T0, 0)])
    histories = store.get_metric_histories(RUN_ID)
    assert store._has_histories_route is True
    assert {k: _points(v) for k, v in histories.items()} == {
        "a": [("a", "1.0", T0, 0), ("a", "2.0", T0, 1)],
        "b/c": [("b/c", "-inf", T0, 0)],
    }
    assert {m.run_id for v in histories.values() for m in v} == {RUN_ID}


def test_what_the_store_refuses_comes_back_with_its_code(store: RestStore) -> None:
    store.import_experiment(_experiment())
    with raises_code("RESOURCE_ALREADY_EXISTS"):
        store.import_experiment(_experiment("6", "copied"))
    with raises_code("RESOURCE_DOES_NOT_EXIST"):
        store.import_metric_history("c" * 32, "m", [Metric("m", 1.0, T0, 0)])


def test_the_openapi_document_lists_the_routes(folder_server: ThreadServer) -> None:
    with urllib.request.urlopen(folder_server.url + "/openapi.json", timeout=30) as answer:
        paths = json.load(answer)["paths"]
    for path in imports_wire.PATHS.values():
        assert path in paths, path
    assert "post" in paths[imports_wire.PATHS["import_run"]]
    assert "get" in paths[imports_wire.PATHS["get_metric_histories"]]


def test_a_foreign_origin_cannot_import(store: RestStore, folder_server: ThreadServer) -> None:
    body = json.dumps({"experiment": imports_wire.experiment_to_wire(_experiment())}).encode()
    headers = {"Content-Type": "application/json", "Origin": "https://evil.example"}
    path = imports_wire.PATHS["import_experiment"]
    assert raw_request(folder_server.url, "POST", path, body, headers).status == 403
    headers.pop("Origin")
    assert raw_request(folder_server.url, "POST", path, body, headers).status == 200


def test_only_admins_import(
    start_tracklet_server: Callable[..., ServerProcess], tmp_path: pathlib.Path
) -> None:
    env = {
        "TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0],
        "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "TRACKLET_AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
    }
    auth_db = f"sqlite:///{tmp_path / 'auth.db'}"
    server = start_tracklet_server(
        str(tmp_path / "mlruns"), None, "--auth", "--auth-db-uri", auth_db, env=env
    )
    host = server.url.split("://", 1)[1]
    admin = RestStore(f"http://{ADMIN[0]}:{ADMIN[1]}@{host}")
    admin.transport.call_json(
        "POST", "/api/2.0/mlflow/users/create", {"username": ALICE[0], "password": ALICE[1]}
    )
    alice = RestStore(f"http://{ALICE[0]}:{ALICE[1]}@{host}")
    with raises_code("PERMISSION_DENIED") as excinfo:
        alice.import_experiment(_experiment())
    assert "only admins" in str(excinfo.value)
    admin.import_experiment(_experiment())
    admin.import_run(_run())
    admin.import_metric_history(RUN_ID, "m", [Metric("m", 1.0, T0, 0)])
    with raises_code("PERMISSION_DENIED"):
        alice.import_metric_history(RUN_ID, "m", [])
    with raises_code("PERMISSION_DENIED"):  # reading needs READ on the run's experiment
        alice.get_metric_histories(RUN_ID)
    assert [m.value for m in admin.get_metric_histories(RUN_ID)["m"]] == [1.0]


# -- MLflow's server ------------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.slow
def test_mlflows_server_refuses_imports_naming_the_alternative(mlflow_server: ServerProcess) -> None:
    store = RestStore(mlflow_server.url)
    calls: list[Callable[[], object]] = [
        lambda: store.import_experiment(_experiment("90210", "never")),
        lambda: store.import_run(_run()),
        lambda: store.import_metric_history(RUN_ID, "m", [Metric("m", 1.0, T0, 0)]),
    ]
    for call in calls:
        with raises_code("NOT_IMPLEMENTED") as excinfo:
            call()
        message = str(excinfo.value)
        assert f"The tracking server at {mlflow_server.url} does not accept imports" in message
        assert "(MLflow's server has no such API)" in message
        assert "migrate into its backend database URI instead" in message
        assert "tracklet migrate SRC postgresql://" in message
    assert store.get_experiment_by_name("never") is None


@pytest.mark.interop
@pytest.mark.slow
def test_mlflows_server_is_a_source_its_histories_read_key_by_key(mlflow_server: ServerProcess) -> None:
    store = RestStore(mlflow_server.url)
    experiment_id = store.create_experiment(f"source-{RUN_ID[:6]}-{T0}")
    run_id = store.create_run(experiment_id, "ann", T0, [], "src").info.run_id
    store.log_batch(run_id, [Metric("a", float(i), T0 + i, i) for i in range(3)], [], [])
    store.log_metric(run_id, Metric("b", math.nan, T0, 0))
    histories = store.get_metric_histories(run_id)
    assert store._has_histories_route is False
    assert {k: _points(v) for k, v in histories.items()} == {
        key: _points(list(store.get_metric_history(run_id, key))) for key in ("a", "b")
    }
    assert _points(histories["a"]) == [("a", repr(float(i)), T0 + i, i) for i in range(3)]


def test_the_refusal_is_for_missing_routes_only() -> None:
    from tracklet.exceptions import RestException
    from tracklet_http.client_imports import _route_missing

    page = TrackletException("POST x failed with HTTP 404: <html>", "RESOURCE_DOES_NOT_EXIST")
    page.http_status = 404  # type: ignore[attr-defined]
    missing_run = RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run 'x' not found"})
    missing_run.http_status = 404  # type: ignore[attr-defined]
    assert _route_missing(page)
    assert not _route_missing(missing_run)
    assert _route_missing(RestException({"error_code": "ENDPOINT_NOT_FOUND", "message": "No endpoint"}))
