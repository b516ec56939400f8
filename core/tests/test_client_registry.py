"""MlflowClient's model registry and logged-model methods, and the fluent registry functions,
against the registry stores installed plugins serve: a local folder and sqlite.

The stores come from tracklet-registry through the plugin manager (the core never imports
it); these tests check what the client adds on top of a store, as MLflow's client does:
registry URI resolution, tag conversion, ``runs:/`` and ``models:/`` sources, stage
deprecation warnings, ``copy_model_version``, the logged-model path of ``register_model``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracklet
from tracklet import _config
from tracklet._model_registry import await_model_version_creation
from tracklet.exceptions import INVALID_PARAMETER_VALUE, NOT_FOUND, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.testing import raises_code

STORES = ("file", "sqlite", "http")


@pytest.fixture(autouse=True)
def _no_configured_uris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in (
        "TRACKLET_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        "TRACKLET_REGISTRY_URI",
        "MLFLOW_REGISTRY_URI",
    ):
        monkeypatch.delenv(variable, raising=False)
    yield
    tracklet.set_tracking_uri(None)
    tracklet.set_registry_uri(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tracklet_server(tmp_path: Path) -> Iterator[str]:
    """A ``tracklet server`` of its own (sqlite, artifact proxy in the test's folder), started
    as a separate process with the CLI; its URL."""
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracklet",
                "server",
                "--backend-store-uri",
                f"sqlite:///{tmp_path / 's.db'}",
            ]
            + ["--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # until it answers, or dies
            if server.poll() is not None:
                raise RuntimeError(f"tracklet server did not start: {log.read_text()}")
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5).close()
                break
            except OSError:
                try:
                    server.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        yield url
    finally:
        server.terminate()
        server.wait()


@pytest.fixture(params=STORES)
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The tracking (and so registry) URI of a fresh store, set as the current one: a folder,
    a sqlite database, or a ``tracklet server`` (the REST registry store)."""
    if request.param == "http":
        uri = str(request.getfixturevalue("tracklet_server"))
    elif request.param == "file":
        uri = str(tmp_path / "mlruns")
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracklet.set_tracking_uri(uri)
    return uri


@pytest.fixture
def client(tracking_uri: str) -> tracklet.MlflowClient:
    return tracklet.MlflowClient(tracking_uri)


def _source(client: tracklet.MlflowClient) -> tuple[str, str]:
    """A ``runs:/`` source and its run id, which every store (a server's source checks
    included) accepts."""
    run_id = _run_with_model(client)
    return f"runs:/{run_id}/model", run_id


def _run_with_model(client: tracklet.MlflowClient, path: str = "model") -> str:
    """A run holding ``<path>/MLmodel``; its id."""
    run = client.create_run("0")
    client.log_text(run.info.run_id, "flavors: {}\n", f"{path}/MLmodel")
    return run.info.run_id


# -- the registry URI ----------------------------------------------------------------------------


def test_registry_uri_resolves_as_mlflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tracking = str(tmp_path / "t")
    assert tracklet.MlflowClient(tracking).registry_uri == tracking  # the client's own tracking URI
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///m.db")
    assert tracklet.MlflowClient(tracking).registry_uri == "sqlite:///m.db"
    monkeypatch.setenv("TRACKLET_REGISTRY_URI", "sqlite:///t.db")
    assert tracklet.MlflowClient(tracking).registry_uri == "sqlite:///t.db"
    tracklet.set_registry_uri("sqlite:///set.db")
    assert tracklet.get_registry_uri() == "sqlite:///set.db"
    assert tracklet.MlflowClient(tracking).registry_uri == "sqlite:///set.db"
    assert tracklet.MlflowClient(tracking, registry_uri="sqlite:///x.db").registry_uri == "sqlite:///x.db"
    tracklet.set_registry_uri(None)
    monkeypatch.delenv("TRACKLET_REGISTRY_URI")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")
    tracklet.set_tracking_uri(tracking)
    assert tracklet.get_registry_uri() == tracking


def test_a_client_builds_no_registry_store_until_asked(tmp_path: Path) -> None:
    client = tracklet.MlflowClient(str(tmp_path / "mlruns"), registry_uri="nosuchscheme://x")
    client.create_experiment("e")  # tracking works without the registry
    with raises_code("FEATURE_DISABLED") as info:
        client.get_registered_model("m")
    assert "'nosuchscheme'" in info.value.message


def test_registry_on_another_store_than_tracking(tmp_path: Path) -> None:
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    client = tracklet.MlflowClient(str(tmp_path / "mlruns"), registry_uri=registry)
    client.create_registered_model("elsewhere")
    assert [m.name for m in tracklet.MlflowClient(registry).search_registered_models()] == ["elsewhere"]
    assert list(tracklet.MlflowClient(str(tmp_path / "mlruns")).search_registered_models()) == []


# -- registered models -------------------------------------------------------------------------------


def test_registered_model_lifecycle(client: tracklet.MlflowClient) -> None:
    created = client.create_registered_model("m", {"n": 1, "s": "x"}, "first")
    assert (created.name, created.tags, created.description) == ("m", {"n": "1", "s": "x"}, "first")
    assert client.update_registered_model("m", "second").description == "second"
    assert client.rename_registered_model("m", "m2") is None  # as MLflow 3.17.2's client
    assert client.get_registered_model("m2").description == "second"
    client.set_registered_model_tag("m2", "k", 3)
    client.delete_registered_model_tag("m2", "n")
    assert client.get_registered_model("m2").tags == {"k": "3", "s": "x"}
    assert [m.name for m in client.search_registered_models(filter_string="name = 'm2'")] == ["m2"]
    client.delete_registered_model("m2")
    with raises_code(RESOURCE_DOES_NOT_EXIST):
        client.get_registered_model("m2")


def test_rename_to_blank_is_refused_before_the_store(client: tracklet.MlflowClient) -> None:
    with pytest.raises(TrackletException, match="The name must not be an empty string."):
        client.rename_registered_model("m", "  ")


def test_a_prompt_tag_cannot_register_a_model(client: tracklet.MlflowClient) -> None:
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.create_registered_model("p", {"mlflow.prompt.is_prompt": "true"})
    assert info.value.message == "Prompts cannot be registered as models."


# -- model versions ----------------------------------------------------------------------------------


def test_create_model_version_from_runs_uri(client: tracklet.MlflowClient) -> None:
    run_id = _run_with_model(client)
    client.create_registered_model("m")
    mv = client.create_model_version("m", f"runs:/{run_id}/model", run_id, tags={"a": 1}, description="d")
    assert (mv.name, str(mv.version), mv.status, mv.current_stage) == ("m", "1", "READY", "None")
    assert (mv.source, mv.run_id, mv.tags, mv.description) == (
        f"runs:/{run_id}/model",
        run_id,
        {"a": "1"},
        "d",
    )
    assert client.get_model_version_download_uri("m", "1") == f"runs:/{run_id}/model"
    assert str(client.create_model_version("m", f"runs:/{run_id}/model", run_id).version) == "2"


def test_update_and_delete_model_version(client: tracklet.MlflowClient) -> None:
    client.create_registered_model("m")
    client.create_model_version("m", *_source(client))
    assert client.update_model_version("m", "1", "described").description == "described"
    with pytest.raises(
        TrackletException, match="Attempting to update model version with no new field values."
    ):
        client.update_model_version("m", "1")
    client.delete_model_version("m", "1")
    with raises_code(RESOURCE_DOES_NOT_EXIST):
        client.get_model_version("m", "1")


def test_copy_model_version(client: tracklet.MlflowClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.create_registered_model("src")
    client.create_model_version("src", *_source(client), tags={"t": "v"}, description="d")
    copy = client.copy_model_version("models:/src/1", "dst")
    assert (copy.name, str(copy.version), copy.source) == ("dst", "1", "models:/src/1")
    assert (copy.tags, copy.description) == ({"t": "v"}, "d")
    err = capsys.readouterr().err
    assert "Successfully registered model 'dst'." in err
    assert "Copied version '1' of model 'src' to version '1' of model 'dst'." in err
    again = client.copy_model_version("models:/src/latest", "dst")
    assert str(again.version) == "2"
    assert (
        "Registered model 'dst' already exists. Creating a new version of this model..."
        in capsys.readouterr().err
    )
    # the copy's files are the source version's
    assert client.get_model_version_download_uri("dst", "1") == client.get_model_version_download_uri(
        "src", "1"
    )


def test_copy_model_version_refuses_other_uris(client: tracklet.MlflowClient) -> None:
    with pytest.raises(TrackletException) as info:
        client.copy_model_version("runs:/abc/model", "dst")
    assert info.value.message == (
        "Unsupported source model URI: 'runs:/abc/model'. The `copy_model_version` API only copies "
        "models stored in the 'models:/' scheme."
    )
    with pytest.raises(TrackletException, match="Failed to fetch model version from source model URI"):
        client.copy_model_version("models:/missing/1", "dst")


def test_stages_warn_as_deprecated(client: tracklet.MlflowClient) -> None:
    client.create_registered_model("m")
    client.create_model_version("m", *_source(client))
    client.create_model_version("m", *_source(client))
    with pytest.warns(FutureWarning, match="Model registry stages will be removed"):
        moved = client.transition_model_version_stage("m", "1", "staging")
    assert moved.current_stage == "Staging"
    with pytest.warns(FutureWarning, match="get_latest_versions`` is deprecated since 2.9.0"):
        latest = client.get_latest_versions("m", stages=["None"])
    assert [str(v.version) for v in latest] == ["2"]
    with pytest.warns(FutureWarning):
        assert client.get_model_version_stages("m", "1") == ["None", "Staging", "Production", "Archived"]
    with pytest.warns(FutureWarning):
        client.transition_model_version_stage("m", "2", "Staging", archive_existing_versions=True)
    assert client.get_model_version("m", "1").current_stage == "Archived"
    with pytest.raises(TrackletException, match="The stage must not be an empty string."):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage("m", "1", " ")


def test_version_tags_by_version_or_stage(client: tracklet.MlflowClient) -> None:
    client.create_registered_model("m")
    client.create_model_version("m", *_source(client), tags={"t": "1", "t1": "2"})
    client.set_model_version_tag("m", "1", "n", 5)
    with pytest.warns(
        FutureWarning, match="The `stage` parameter of the `set_model_version_tag` API is deprecated"
    ):
        client.set_model_version_tag("m", key="s", value="x", stage="None")
    assert client.get_model_version("m", "1").tags == {"n": "5", "s": "x", "t": "1", "t1": "2"}
    client.delete_model_version_tag("m", "1", "t")
    with pytest.warns(FutureWarning, match="delete_model_version_tag"):
        client.delete_model_version_tag("m", key="t1", stage="None")
    assert client.get_model_version("m", "1").tags == {"n": "5", "s": "x"}
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.set_model_version_tag("m", "1", "k", "v", stage="None")
    assert info.value.message == "version and stage cannot be set together"
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.delete_model_version_tag("m", key="k")
    assert info.value.message == "version or stage must be set"
    with pytest.raises(TrackletException, match="Could not find any model version for Production stage"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            client.set_model_version_tag("m", key="k", value="v", stage="Production")


def test_aliases(client: tracklet.MlflowClient) -> None:
    client.create_registered_model("m")
    client.create_model_version("m", *_source(client))
    client.create_model_version("m", *_source(client))
    client.set_registered_model_alias("m", "champion", "1")
    assert str(client.get_model_version_by_alias("m", "champion").version) == "1"
    client.set_registered_model_alias("m", "champion", "2")
    aliases = client.get_registered_model("m").aliases  # MLflow's SQL store gives ints, its others strings
    assert {alias: str(version) for alias, version in aliases.items()} == {"champion": "2"}
    client.delete_registered_model_alias("m", "champion")
    with raises_code(INVALID_PARAMETER_VALUE):
        client.get_model_version_by_alias("m", "champion")


def test_search_model_versions_pages(client: tracklet.MlflowClient) -> None:
    client.create_registered_model("m")
    for _ in range(5):
        client.create_model_version("m", *_source(client))
    page = client.search_model_versions("name = 'm'", max_results=2, order_by=["version_number ASC"])
    assert [str(v.version) for v in page] == ["1", "2"] and page.token
    assert len(tracklet.search_model_versions(filter_string="name = 'm'")) == 5
    assert len(tracklet.search_model_versions(max_results=3, filter_string="name = 'm'")) == 3
    assert [m.name for m in tracklet.search_registered_models()] == ["m"]


def test_await_creation_raises_when_a_version_fails() -> None:
    from tracklet.entities.model_registry import ModelVersion

    failed = ModelVersion("m", "1", 0, status="FAILED_REGISTRATION", status_message="no files")

    class OneVersion:  # the store a pending version is read back from
        def get_model_version(self, name: str, version: str) -> ModelVersion:
            return failed

    pending = ModelVersion("m", "1", 0, status="PENDING_REGISTRATION")
    with pytest.raises(TrackletException) as info:
        await_model_version_creation(OneVersion(), pending, 10)
    assert info.value.message == (
        "Model version creation failed for model name: m version: 1 with status: FAILED_REGISTRATION "
        "and message: no files"
    )
    await_model_version_creation(OneVersion(), ModelVersion("m", "1", 0, status="READY"), 10)


# -- register_model -----------------------------------------------------------------------------------


def test_register_model_from_a_run_folder(tracking_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    client = tracklet.MlflowClient(tracking_uri)
    run_id = _run_with_model(client)
    mv = tracklet.register_model(f"runs:/{run_id}/model", "reg", tags={"k": "v"})
    assert (mv.name, str(mv.version), mv.run_id, mv.tags) == ("reg", "1", run_id, {"k": "v"})
    artifact_root = client.get_run(run_id).info.artifact_uri
    assert mv.source == f"{artifact_root}/model"
    err = capsys.readouterr().err
    assert "Successfully registered model 'reg'." in err and "Created version '1' of model 'reg'." in err
    assert str(tracklet.register_model(f"runs:/{run_id}/model", "reg").version) == "2"
    assert (
        "Registered model 'reg' already exists. Creating a new version of this model..."
        in capsys.readouterr().err
    )


def test_register_model_of_a_logged_model(tracking_uri: str) -> None:
    client = tracklet.MlflowClient(tracking_uri)
    with tracklet.start_run() as run:
        model = tracklet.initialize_logged_model(name="clf", params={"p": "1"})
    assert tracklet.last_logged_model().model_id == model.model_id  # type: ignore[union-attr]
    assert model.source_run_id == run.info.run_id
    mv = tracklet.register_model(f"runs:/{run.info.run_id}/clf", "reg")  # no MLmodel there: the logged model
    assert (mv.source, mv.model_id) == (f"models:/{model.model_id}", model.model_id)
    mv2 = tracklet.register_model(f"models:/{model.model_id}", "reg")
    assert mv2.model_id == model.model_id
    versions = json.loads(client.get_logged_model(model.model_id).tags["mlflow.modelVersions"])
    # each version as the store gives it (MLflow's own stores: a number; its REST store: a string)
    expected = [{"name": "reg", "version": mv.version}, {"name": "reg", "version": mv2.version}]
    if tracking_uri.startswith("http"):
        # as with MLflow: its server records each version (a number), then its client (the
        # version its REST store gave: a string)
        by_server = [
            {"name": "reg", "version": int(mv.version)},
            {"name": "reg", "version": int(mv2.version)},
        ]
        expected = [by_server[0], expected[0], by_server[1], expected[1]]
    assert versions == expected
    with raises_code(NOT_FOUND) as info:
        tracklet.register_model(f"runs:/{run.info.run_id}/nothing", "reg")
    assert (
        info.value.message
        == f"Unable to find a logged_model with artifact_path nothing under run {run.info.run_id}"
    )


# -- logged models ---------------------------------------------------------------------------------------


def test_logged_model_lifecycle(client: tracklet.MlflowClient) -> None:
    model = client.create_logged_model("0", name="m", tags={"t": "1"}, params={"p": "2"}, model_type="clf")
    assert (model.name, model.status, model.model_type) == ("m", "PENDING", "clf")
    assert model.artifact_location.endswith(f"models/{model.model_id}/artifacts")
    client.set_logged_model_tags(model.model_id, {"n": 1})
    client.delete_logged_model_tag(model.model_id, "t")
    client.log_model_params(model.model_id, {"q": 3})
    got = client.get_logged_model(model.model_id)
    assert (got.tags, got.params) == ({"n": "1"}, {"p": "2", "q": "3"})
    assert client.finalize_logged_model(model.model_id, "READY").status == "READY"
    assert [m.model_id for m in client.search_logged_models(["0"])] == [model.model_id]
    assert [m.model_id for m in tracklet.search_logged_models(output_format="list")] == [model.model_id]
    client.delete_logged_model(model.model_id)
    with raises_code(RESOURCE_DOES_NOT_EXIST):
        client.get_logged_model(model.model_id)


def test_logged_model_arguments_are_checked_as_mlflow(client: tracklet.MlflowClient) -> None:
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.get_logged_model("")
    assert info.value.message == "`model_id` must be a non-empty string, but got ''"
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.set_logged_model_tags("m-missing", {"a": "b"})
    assert info.value.message.startswith("Failed to get logged model with ID m-missing.")
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.search_logged_models("0")  # type: ignore[arg-type]
    assert info.value.message == "experiment_ids must be a list of strings, got <class 'str'>"


def test_create_external_model_is_ready_and_registrable(tracking_uri: str) -> None:
    model = tracklet.create_external_model(name="ext")
    assert (model.status, model.tags["mlflow.model.isExternal"]) == ("READY", "true")
    files = [f.path for f in tracklet.artifacts.list_artifacts(f"models:/{model.model_id}")]
    assert files == ["MLmodel"]
    assert str(tracklet.register_model(f"models:/{model.model_id}", "ext").version) == "1"


def test_config_resolution_helper() -> None:
    assert _config.resolve_registry_uri(None, "t") == "t"
    assert _config.resolve_registry_uri("r", "t") == "r"


def test_fluent_registry_calls_follow_set_registry_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking = str(tmp_path / "mlruns")
    tracklet.set_tracking_uri(tracking)
    client = tracklet.MlflowClient(tracking)
    run_id = _run_with_model(client)
    tracklet.register_model(f"runs:/{run_id}/model", "on-tracking")
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    tracklet.set_registry_uri(registry)  # applies to the next fluent call at once
    tracklet.register_model(f"runs:/{run_id}/model", "on-registry")
    assert [m.name for m in tracklet.search_registered_models()] == ["on-registry"]
    tracklet.set_registry_uri(None)
    assert [m.name for m in tracklet.search_registered_models()] == ["on-tracking"]
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)  # MLflow's variable is honoured
    assert [v.name for v in tracklet.search_model_versions()] == ["on-registry"]
