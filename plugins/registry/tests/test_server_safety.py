"""Model version sources the server must refuse: the local-file-inclusion CVEs of MLflow's
server, each reproduced in every encoding, refused by the check itself and over the wire
by a real ``tracklet server`` (nothing stored, nothing read)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet_registry.server.safety import check_artifact_path, check_source, is_within

RUN_ID = "0123456789abcdef0123456789abcdef"
MODEL_ID = "m-0123456789abcdef0123456789abcdef"

#: The payload shapes of each CVE (as published), before encoding.
CVE_PAYLOADS: dict[str, list[str]] = {
    # a local path or file: URI as the source, then read through get-artifact
    "CVE-2023-1177": [
        "/etc/passwd",
        "file:///etc/passwd",
        "file:/etc/",
        "/",
        "etc/passwd",
        "./",
        "~/.ssh/id_rsa",
    ],
    # relative path references inside http(s), mlflow-artifacts, object store and file URIs
    "CVE-2023-2356": [
        "mlflow-artifacts:/../../../../etc/passwd",
        "mlflow-artifacts://127.0.0.1:5000/../../../../etc/passwd",
        "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/../../../../etc/passwd",
        "https://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/../../../../etc/passwd",
        "s3://bucket/models/path/../../other/path",
        "file://path/to/../../../../etc/passwd",
        "mlflow-artifacts://127.0.0.1:5000/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts%00",
    ],
    # backslash traversal in a file URI source
    "CVE-2023-2780": [
        "file:///tmp\\..\\..\\..\\etc\\passwd",
        "\\..\\..\\..\\etc\\passwd",
        "mlflow-artifacts:/1\\..\\..\\..\\etc",
        "C:\\Windows\\win.ini",
    ],
    # is_local_uri fooled by an authority: //proc/self/root, file://<host>/...
    "CVE-2023-6977": [
        "//proc/self/root/etc/passwd",
        "//etc/passwd",
        "file://proc/self/root",
        "file://evil/etc/passwd",
    ],
    # traversal hidden after a fragment
    "CVE-2024-1483": [
        "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/#/../../../../etc/passwd",
        "mlflow-artifacts:/#/../../../../etc/passwd",
    ],
    # URI fragment / query parsed away before the local check
    "CVE-2024-2928": [
        "http://localhost:5000/#../../../../../../etc/passwd",
        "file:///etc/passwd#anything",
        "mlflow-artifacts:/1?/../../../../etc/passwd",
    ],
    # source validation bypassed by scheme case, registry URIs with a host or traversal
    "CVE-2026-2614": [
        "FILE:///etc/passwd",
        "File://localhost/etc/passwd",
        "models://evil/etc/passwd",
        "models:/../../../etc/passwd",
        f"runs:/{RUN_ID}/../../../../etc/passwd",
        "runs://evil/etc/passwd",
        f"runs:/{'f' * 32}/model",  # another run's files
        "models:/m-ffffffffffffffffffffffffffffffff",  # another logged model's files
    ],
}


def _encodings(payload: str) -> Iterator[tuple[str, str]]:
    """The payload as sent, and percent-encoded, double-encoded, with backslashes, mixed
    case and a NUL byte."""
    yield "plain", payload
    yield "percent", payload.replace("..", "%2e%2e").replace("/", "%2f")
    yield "percent-dots", payload.replace("..", "%2E%2E")
    yield "double", payload.replace("..", "%252e%252e").replace("/", "%252f")
    yield (
        "triple",
        urllib.parse.quote(urllib.parse.quote(urllib.parse.quote(payload, safe=""), safe=""), safe=""),
    )
    yield "backslash", payload.replace("/", "\\")
    yield "mixed-case", payload.swapcase() if ":" in payload else payload.upper()
    yield "nul", payload + "\x00.txt"
    yield "nul-encoded", payload + "%00"


ALL_PAYLOADS = [
    pytest.param(encoded, id=f"{cve}-{i}-{how}")
    for cve, payloads in CVE_PAYLOADS.items()
    for i, payload in enumerate(payloads)
    for how, encoded in _encodings(payload)
]


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """The roots a proxying server owns: its default root and its destination folder."""
    return ("mlflow-artifacts:/", str(tmp_path_factory.mktemp("artifacts")))


def _lookups(root: str) -> dict[str, Any]:
    """Where the run ``RUN_ID`` and the logged model ``MODEL_ID`` keep their artifacts
    (under ``root``); any other id is unknown, as a store answers."""

    def lookup(known: str, location: str) -> Any:
        def find(ident: str) -> str:
            if ident != known:
                raise TrackletException(f"No such resource {ident}", RESOURCE_DOES_NOT_EXIST)
            return location

        return find

    return {
        "run_location": lookup(RUN_ID, f"{root}/1/{RUN_ID}/artifacts"),
        "model_location": lookup(MODEL_ID, f"{root}/1/models/{MODEL_ID}/artifacts"),
    }


def _refused_as_mlflow(info: pytest.ExceptionInfo[TrackletException]) -> bool:
    """MLflow's refusals: 400 naming the source, or (a ``file://<other host>`` URI) its
    500 'is not a valid remote uri'."""
    e = info.value
    if e.error_code == INTERNAL_ERROR:
        return "is not a valid remote uri" in e.message
    return e.error_code == INVALID_PARAMETER_VALUE and "source" in e.message


@pytest.mark.parametrize("source", ALL_PAYLOADS)
def test_cve_payload_refused(source: str, roots: tuple[str, ...]) -> None:
    for ids in ({"run_id": RUN_ID}, {"model_id": MODEL_ID}, {}):
        for root in roots:  # runs whose artifacts are local, and proxied ones
            with pytest.raises(TrackletException) as info:
                check_source(source, allowed_roots=roots, **ids, **_lookups(root))
            assert _refused_as_mlflow(info), (ids, root, info.value)


@pytest.mark.parametrize(
    "source",
    [
        "mlflow-artifacts:/1/0123456789abcdef0123456789abcdef/artifacts/model",
        f"runs:/{RUN_ID}/model",
        "models:/my-model/3",
        "models:/my-model@champion",
        "s3://bucket/path/to/model",  # stored, never read: MLflow accepts object stores
        "gs://bucket/model",
        "dbfs:/databricks/model",
    ],
)
def test_sources_mlflow_accepts(source: str, roots: tuple[str, ...]) -> None:
    check_source(source, allowed_roots=roots, run_id=RUN_ID, **_lookups("mlflow-artifacts:"))


def test_logged_model_sources(roots: tuple[str, ...]) -> None:
    lookups = _lookups("mlflow-artifacts:")
    check_source(f"models:/{MODEL_ID}", allowed_roots=roots, model_id=MODEL_ID, **lookups)
    check_source(
        f"mlflow-artifacts:/1/models/{MODEL_ID}/artifacts", allowed_roots=roots, model_id=MODEL_ID, **lookups
    )
    for source, ids in (
        (f"models:/{MODEL_ID}", {"run_id": RUN_ID}),  # the model must be the request's
        (f"runs:/{RUN_ID}/model", {"model_id": MODEL_ID}),
        (f"mlflow-artifacts:/1/models/{'f' * 32}/artifacts", {"model_id": MODEL_ID}),
        (f"mlflow-artifacts:/1/{RUN_ID}/artifacts", {}),  # a proxied source needs its run
    ):
        with pytest.raises(TrackletException, match="must identify the resource"):
            check_source(source, allowed_roots=roots, **ids, **lookups)


def test_local_path_only_inside_the_request_run(roots: tuple[str, ...]) -> None:
    root = roots[1]
    lookups = _lookups(root)
    run_dir = f"{root}/1/{RUN_ID}/artifacts"
    for fine in (
        run_dir,
        f"{run_dir}/model",
        Path(run_dir, "model").as_uri(),
        f"{run_dir}/model/..",
        f"{run_dir}/.",
    ):
        check_source(fine, allowed_roots=roots, run_id=RUN_ID, **lookups)
    for escape in (
        f"{run_dir}/..",
        f"{run_dir}/../../../../etc/passwd",
        f"{run_dir}/%2e%2e/%2e%2e/x",
        f"{run_dir}/%252e%252e/%252e%252e/x",
        f"{run_dir}\\..\\..\\x",
        f"{run_dir}-evil/model",
        f"{root}/1/{'f' * 32}/artifacts/model",  # another run's files
        "/tmp",
    ):
        with pytest.raises(TrackletException, match="To use a local path as a model version source"):
            check_source(escape, allowed_roots=roots, run_id=RUN_ID, **lookups)
    with pytest.raises(TrackletException, match="To use a local path"):  # no run_id
        check_source(f"{run_dir}/model", allowed_roots=roots, **lookups)
    with pytest.raises(TrackletException, match="run_id request parameter must identify"):  # unknown run
        check_source(f"{run_dir}/model", allowed_roots=roots, run_id="f" * 32, **lookups)
    model_dir = f"{root}/1/models/{MODEL_ID}/artifacts"
    check_source(f"{model_dir}/MLmodel", allowed_roots=roots, model_id=MODEL_ID, **lookups)
    with pytest.raises(TrackletException, match="To use a local path"):
        check_source(f"{run_dir}/model", allowed_roots=roots, model_id=MODEL_ID, **lookups)
    # a run whose artifacts are proxied owns no local path
    with pytest.raises(TrackletException, match="To use a local path"):
        check_source(f"{run_dir}/model", allowed_roots=roots, run_id=RUN_ID, **_lookups("mlflow-artifacts:"))


def test_file_uri_with_another_host_is_mlflows_500(roots: tuple[str, ...]) -> None:
    with pytest.raises(TrackletException, match="is not a valid remote uri") as info:
        check_source("file://123.456.789.123/path/to/source", allowed_roots=roots, run_id=RUN_ID)
    assert info.value.error_code == INTERNAL_ERROR


def test_host_addressed_schemes_only_for_the_servers_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts"
    with pytest.raises(TrackletException, match="cannot use the 'http' scheme"):
        check_source("http://evil:9000/models", allowed_roots=("s3://bucket",), run_id=RUN_ID)
    check_source(  # a proxy URI of the server's own host inside the run's root
        f"{proxy}/1/{RUN_ID}/artifacts/model",
        allowed_roots=(proxy,),
        run_id=RUN_ID,
        run_location=lambda _: f"{proxy}/1/{RUN_ID}/artifacts",
    )
    monkeypatch.setenv("MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES", "ftp")
    check_source("ftp://host/models", allowed_roots=(), run_id=RUN_ID)
    with pytest.raises(TrackletException, match="If supplying a source as an http"):
        check_source("ftp://host/models/../../x", allowed_roots=(), run_id=RUN_ID)


@pytest.mark.parametrize(
    "variable",
    [
        "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX",
        "TRACKLET_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX",
    ],
)
def test_validation_regex(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, r"^mlflow-artifacts:/.*$")
    with pytest.raises(TrackletException, match=r"^Invalid model version source: 's3://path/to/model'\.$"):
        check_source("s3://path/to/model", allowed_roots=())
    check_source(
        f"mlflow-artifacts:/1/{RUN_ID}/artifacts/m",
        allowed_roots=(),
        run_id=RUN_ID,
        **_lookups("mlflow-artifacts:"),
    )


def test_root_slash_owns_nothing_local() -> None:
    assert not is_within("/etc/passwd", "/")
    assert is_within("s3://bucket/root/a", "s3://BUCKET/root")
    assert not is_within("s3://bucket/rootx/a", "s3://bucket/root")
    assert not is_within("s3://other/root/a", "s3://bucket/root")


@pytest.mark.parametrize(
    "path", ["../x", "a/../../b", "%2e%2e/x", "/etc/passwd", "C:\\x", "a\\..\\..\\b", "x\x00"]
)
def test_artifact_path_refused(path: str) -> None:
    with pytest.raises(TrackletException) as info:
        check_artifact_path("artifact_directory_path", path)
    assert "'artifact_directory_path'" in info.value.message


def test_artifact_path_accepted() -> None:
    assert check_artifact_path("path", "model/MLmodel") == "model/MLmodel"


# -- over the wire -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(registry_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = registry_servers.tracklet_server(tmp_path_factory.mktemp("safety"))
    yield srv
    srv.stop()


def test_server_refuses_every_payload(server: Any) -> None:
    api = "/api/2.0/mlflow"
    status, _ = server.call("POST", f"{api}/registered-models/create", {"name": "victim"})
    assert status == 200
    status, answer = server.call("POST", f"{api}/runs/create", {"experiment_id": "0"})
    real_run = answer["run"]["info"]["run_id"]  # a run that exists, whose artifacts are proxied
    accepted = []
    for param in ALL_PAYLOADS:
        (source,) = param.values
        for extra in ({}, {"run_id": RUN_ID}, {"run_id": real_run}, {"model_id": MODEL_ID}):
            status, answer = server.call(
                "POST", f"{api}/model-versions/create", {"name": "victim", "source": source, **extra}
            )
            if (status, answer.get("error_code")) == (500, "INTERNAL_ERROR"):
                # MLflow's answer to a file://<other host> source
                if "is not a valid remote uri" not in answer.get("message", ""):
                    accepted.append((param.id, extra, status, answer))
            elif status != 400 or answer.get("error_code") != "INVALID_PARAMETER_VALUE":
                accepted.append((param.id, extra, status, answer))
            elif "source" not in answer.get("message", ""):
                accepted.append((param.id, extra, "message does not name the field", answer))
    assert accepted == []
    status, answer = server.call("GET", f"{api}/model-versions/search", query="filter=name%3D%27victim%27")
    assert status == 200 and answer.get("model_versions") is None  # nothing was stored
    # the ajax alias the UI uses (the path of CVE-2023-6977's exploit) refuses the same way
    status, answer = server.call(
        "POST", "/ajax-api/2.0/mlflow/model-versions/create", {"name": "victim", "source": "//proc/self/root"}
    )
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"


def test_server_accepts_its_own_locations(server: Any) -> None:
    api = "/api/2.0/mlflow"
    server.call("POST", f"{api}/registered-models/create", {"name": "fine"})
    status, answer = server.call("POST", f"{api}/runs/create", {"experiment_id": "0"})
    assert status == 200, answer
    run = answer["run"]["info"]
    source = run["artifact_uri"] + "/model"
    body = {"name": "fine", "source": source}
    status, answer = server.call("POST", f"{api}/model-versions/create", body)
    assert status == 400 and "must identify the resource" in answer["message"]  # whose run?
    status, answer = server.call("POST", f"{api}/model-versions/create", {**body, "run_id": run["run_id"]})
    assert status == 200, answer
    assert answer["model_version"]["source"] == source
    status, answer = server.call("GET", f"{api}/model-versions/get-download-uri", query="name=fine&version=1")
    assert (status, answer) == (200, {"artifact_uri": source})  # the stored URI, never fetched


@pytest.mark.parametrize(
    "model_id", ["..", ".", "..%2F..%2Fetc", "m-1/../../x", "%2e%2e", "m-1\\..\\x", " m-1"]
)
def test_logged_model_ids_that_are_paths_are_refused(server: Any, model_id: str) -> None:
    api = "/api/2.0/mlflow"
    quoted = urllib.parse.quote(model_id, safe="")
    for method, target, body in (
        ("GET", f"{api}/logged-models/{quoted}", None),
        ("PATCH", f"{api}/logged-models/{quoted}", {"status": "LOGGED_MODEL_READY"}),
        ("DELETE", f"{api}/logged-models/{quoted}", {}),
        (
            "POST",
            f"{api}/model-versions/create",
            {"name": "victim", "source": f"models:/{quoted}", "model_id": model_id},
        ),
        ("POST", f"{api}/runs/outputs", {"run_id": RUN_ID, "models": [{"model_id": model_id, "step": 0}]}),
    ):
        status, answer = server.call(method, target, body)
        assert status in (400, 404), (method, target, status, answer)
        assert answer["error_code"] in (
            "INVALID_PARAMETER_VALUE",
            "RESOURCE_DOES_NOT_EXIST",
            "ENDPOINT_NOT_FOUND",
        )
