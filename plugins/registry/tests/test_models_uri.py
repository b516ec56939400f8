"""``models:/`` URIs: parsing (tracklet.uri) and the ``models`` artifact scheme
(tracklet_registry.models_artifacts) through tracklet.artifacts, on the file store and sqlite."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracklet
from tracklet import artifacts
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.testing import raises_code
from tracklet.uri import ParsedModelUri, is_models_uri, parse_models_uri, split_models_uri
from tracklet_registry.models_artifacts import REGISTERED_MODEL_META_FILE_NAME, ModelsArtifactRepository

# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/m/3", ParsedModelUri(name="m", version="3")),
        ("models:/m@champion", ParsedModelUri(name="m", alias="champion")),
        ("models:/m/Production", ParsedModelUri(name="m", stage="Production")),
        ("models:/m/staging", ParsedModelUri(name="m", stage="staging")),
        ("models:/m/latest", ParsedModelUri(name="m")),
        ("models:/m/LATEST", ParsedModelUri(name="m")),
        ("models:/m-0123abc", ParsedModelUri(model_id="m-0123abc")),
        ("models:/a@b@c", ParsedModelUri(name="a@b", alias="c")),
    ],
)
def test_parse_models_uri(uri: str, parsed: ParsedModelUri) -> None:
    assert parse_models_uri(uri) == parsed
    assert is_models_uri(uri)


@pytest.mark.parametrize(
    "uri",
    ["models:/", "models:", "models:/m/", "models:/m/1/x", "models:/ /1", "models:/m@", "runs:/m/1", "m/1"],
)
def test_improper_models_uris_are_refused_in_mlflows_words(uri: str) -> None:
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        parse_models_uri(uri)
    assert info.value.message == (
        f"Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/name/suffix' or "
        "'models:/name@alias' where suffix is a version, stage, or the string 'latest' and where alias "
        "is a registered model alias. Only one of suffix or alias can be defined at a time."
    )


@pytest.mark.parametrize(
    ("uri", "split"),
    [
        ("models:/m/3", ("models:/m/3", "")),
        ("models:/m/3/", ("models:/m/3", "")),
        ("models:/m/3/data/x.json", ("models:/m/3", "data/x.json")),
        ("models:/m@champion/MLmodel", ("models:/m@champion", "MLmodel")),
        ("models:/m/latest/a/b", ("models:/m/latest", "a/b")),
        ("models:/m-abc", ("models:/m-abc", "")),
    ],
)
def test_split_models_uri(uri: str, split: tuple[str, str]) -> None:
    assert split_models_uri(uri) == split


def test_parsing_agrees_with_mlflow() -> None:
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository as MlflowRepository
    from mlflow.store.artifact.utils.models import _parse_model_uri

    for uri in ("models:/m/3", "models:/m@a", "models:/m/Staging", "models:/m/latest", "models:/m-1"):
        assert tuple(parse_models_uri(uri)) == tuple(_parse_model_uri(uri))
    for uri in ("models:/m/3/a/b", "models:/m@a/x", "models:/m/3"):
        assert split_models_uri(uri) == MlflowRepository.split_models_uri(uri)


# -- resolving through the registry -----------------------------------------------------------------------


@pytest.fixture(params=["file", "sqlite"])
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tracklet.MlflowClient]:
    """A client on a fresh store (set as the current tracking URI), with model ``m``:
    version 1 (alias ``champion``, stage Production) and version 2, each a run folder
    holding ``MLmodel`` and ``data/weights.txt``."""
    for variable in (
        "TRACKLET_REGISTRY_URI",
        "MLFLOW_REGISTRY_URI",
        "TRACKLET_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(variable, raising=False)
    uri = str(tmp_path / "mlruns") if request.param == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracklet.set_tracking_uri(uri)
    client = tracklet.MlflowClient(uri)
    client.create_registered_model("m")
    for number in (1, 2):
        run = client.create_run("0")
        client.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
        client.log_text(run.info.run_id, f"weights {number}", "model/data/weights.txt")
        client.create_model_version("m", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("m", "champion", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client.transition_model_version_stage("m", "1", "Production")
    yield client
    tracklet.set_tracking_uri(None)


@pytest.mark.parametrize(
    ("uri", "number"),
    [
        ("models:/m/1", 1),
        ("models:/m/2", 2),
        ("models:/m@champion", 1),
        ("models:/m/Production", 1),
        ("models:/m/production", 1),
        ("models:/m/None", 2),
        ("models:/m/latest", 2),
    ],
)
def test_every_form_reaches_its_version(
    registry: tracklet.MlflowClient, uri: str, number: int, tmp_path: Path
) -> None:
    text = Path(
        artifacts.download_artifacts(f"{uri}/data/weights.txt", dst_path=str(tmp_path / "d"))
    ).read_text()
    assert text == f"weights {number}"
    assert [f.path for f in artifacts.list_artifacts(f"{uri}/data")] == ["data/weights.txt"]


def test_download_a_whole_version_writes_registered_model_meta(
    registry: tracklet.MlflowClient, tmp_path: Path
) -> None:
    local = artifacts.download_artifacts("models:/m@champion", dst_path=str(tmp_path / "d"))
    assert sorted(os.listdir(local)) == ["MLmodel", "data", REGISTERED_MODEL_META_FILE_NAME]
    meta = Path(local, REGISTERED_MODEL_META_FILE_NAME).read_text()
    assert "model_name: m" in meta and "model_version: '1'" in meta
    assert Path(local, "data", "weights.txt").read_text() == "weights 1"


def test_download_without_dst_path_leaves_the_store_alone(registry: tracklet.MlflowClient) -> None:
    local = artifacts.download_artifacts("models:/m/2")
    assert Path(local, "data", "weights.txt").read_text() == "weights 2"
    assert REGISTERED_MODEL_META_FILE_NAME in os.listdir(local)
    # the version's own folder is untouched
    run_id = registry.get_model_version("m", "2").run_id
    assert [f.path for f in registry.list_artifacts(run_id, "model")] == ["model/MLmodel", "model/data"]


def test_explicit_registry_uri(registry: tracklet.MlflowClient, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with pytest.raises(TrackletException, match=r"Model Version \(name=m, version=1\) not found"):
        artifacts.download_artifacts("models:/m/1", dst_path=str(tmp_path / "x"), registry_uri=other)
    local = artifacts.download_artifacts(
        "models:/m/1/MLmodel", dst_path=str(tmp_path / "y"), registry_uri=registry.registry_uri
    )
    assert Path(local).read_text() == "flavors: {}\n"


def test_unknown_names_fail_as_mlflow(registry: tracklet.MlflowClient, tmp_path: Path) -> None:
    with pytest.raises(
        TrackletException, match="No versions of model with name 'm' and stage 'Staging' found"
    ):
        artifacts.download_artifacts("models:/m/Staging", dst_path=str(tmp_path / "d"))
    with pytest.raises(TrackletException, match="alias"):
        artifacts.download_artifacts("models:/m@nobody", dst_path=str(tmp_path / "d"))


def test_repository_reads_only_for_a_version(registry: tracklet.MlflowClient, tmp_path: Path) -> None:
    repo = ModelsArtifactRepository("models:/m/1")
    assert (repo.model_name, repo.model_version) == ("m", "1")
    assert repo.underlying_uri == registry.get_model_version_download_uri("m", "1")
    assert ModelsArtifactRepository.get_underlying_uri("models:/m@champion") == repo.underlying_uri
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ValueError, match="log_artifact is not supported for models:/<name>/<version> URIs"):
        repo.log_artifact(str(tmp_path / "f.txt"))


def test_logged_model_uri_reads_and_writes(registry: tracklet.MlflowClient, tmp_path: Path) -> None:
    model = registry.create_logged_model("0", name="lm")
    repo = ModelsArtifactRepository(f"models:/{model.model_id}")
    assert repo.model_name is None and repo.underlying_uri == model.artifact_location
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    repo.log_artifact(str(tmp_path / "MLmodel"))
    assert [f.path for f in artifacts.list_artifacts(f"models:/{model.model_id}")] == ["MLmodel"]
    mv = registry.create_model_version("m", f"models:/{model.model_id}", model_id=model.model_id)
    assert mv.model_id == model.model_id
    local = artifacts.download_artifacts(f"models:/m/{mv.version}/MLmodel", dst_path=str(tmp_path / "d"))
    assert Path(local).read_text() == "flavors: {}\n"


def test_copy_then_download_through_the_copy(registry: tracklet.MlflowClient, tmp_path: Path) -> None:
    registry.copy_model_version("models:/m@champion", "copied")
    local = artifacts.download_artifacts("models:/copied/1/data/weights.txt", dst_path=str(tmp_path / "d"))
    assert Path(local).read_text() == "weights 1"


def test_mlflows_import_path(registry: tracklet.MlflowClient) -> None:
    from tracklet.store.artifact.models_artifact_repo import ModelsArtifactRepository as AtMlflowsPath

    assert AtMlflowsPath is ModelsArtifactRepository
    assert AtMlflowsPath.is_models_uri("models:/m/1") and not AtMlflowsPath.is_models_uri("runs:/r/m")
    assert AtMlflowsPath.split_models_uri("models:/m/1/MLmodel") == ("models:/m/1", "MLmodel")
    assert AtMlflowsPath.get_underlying_uri("models:/m/1") == registry.get_model_version_download_uri(
        "m", "1"
    )
