"""What MLflow scripts find under ``import tracklet as mlflow`` beyond tracking calls:
autolog (accepted, logs nothing, says so once), framework flavor modules (import; model
functions give directions), ``tracklet.data`` datasets for ``log_input``, image
conversion. Differential checks against MLflow are in tests/dropin."""

from __future__ import annotations

import importlib
import json
import re
import warnings
from pathlib import Path

import pytest

import tracklet as mlflow
from tracklet import _flavors
from tracklet.exceptions import MlflowException

FLAVORS = ["sklearn", "pytorch", "keras", "xgboost", "lightgbm", "transformers", "pyfunc", "models"]
AUTOLOG_FLAVORS = ["sklearn", "pytorch", "keras", "xgboost", "lightgbm", "transformers"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def autolog_not_yet_warned(monkeypatch):
    monkeypatch.setattr(_flavors, "_autolog_warned", False)


def test_autolog_warns_once_per_process_and_returns_none(autolog_not_yet_warned):
    with pytest.warns(
        UserWarning, match=r"tracklet\.autolog\(\) does nothing: tracklet logs nothing automatically"
    ):
        assert mlflow.autolog() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any further warning fails the test
        for flavor in AUTOLOG_FLAVORS:
            assert importlib.import_module(f"tracklet.{flavor}").autolog() is None
        assert mlflow.autolog(log_models=False) is None


@pytest.mark.parametrize("flavor", AUTOLOG_FLAVORS)
def test_flavor_autolog_names_itself(flavor, autolog_not_yet_warned):
    module = importlib.import_module(f"tracklet.{flavor}")
    with pytest.warns(UserWarning, match=rf"tracklet\.{flavor}\.autolog\(\) does nothing"):
        module.autolog()


def test_autolog_disable_or_silent_says_nothing(autolog_not_yet_warned):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlflow.autolog(disable=True)
        importlib.import_module("tracklet.sklearn").autolog(silent=True)
    assert _flavors._autolog_warned is False  # the one warning is still to come


@pytest.mark.parametrize("flavor", FLAVORS)
def test_flavor_modules_import_and_model_functions_give_directions(flavor):
    module = importlib.import_module(f"tracklet.{flavor}")
    assert getattr(mlflow, flavor) is module
    names = (
        ["log_model", "save_model", "load_model"] if flavor != "models" else ["infer_signature", "set_model"]
    )
    for name in names:
        with pytest.raises(MlflowException) as e:
            getattr(module, name)("model", artifact_path="model")
        assert e.value.error_code == "NOT_IMPLEMENTED"
        assert f"tracklet.{flavor}.{name}" in str(e.value) and f"mlflow.{flavor}" in str(e.value)
        assert "tracklet.log_artifact" in str(e.value)
    with pytest.raises(AttributeError, match="tracklet.log_artifact"):
        module.some_other_function  # noqa: B018
    with pytest.raises(AttributeError):
        module.__wrapped__  # noqa: B018 - dunders stay plain AttributeErrors (inspect, pickle)


def _repository_distributions() -> set[str]:
    names = set()
    for pyproject in [
        REPO / "core" / "pyproject.toml",
        *REPO.glob("plugins/*/pyproject.toml"),
        *REPO.glob("contrib/*/pyproject.toml"),
    ]:
        match = re.search(r'(?m)^name\s*=\s*"([^"]+)"', pyproject.read_text())
        assert match, pyproject
        names.add(match.group(1))
    return names


def test_messages_name_only_packages_this_repository_contains(autolog_not_yet_warned):
    messages = [_flavors.no_models_message(flavor, "log_model") for flavor in FLAVORS]
    with pytest.warns(UserWarning) as warned:
        mlflow.autolog()
    messages += [str(w.message) for w in warned]
    ours = _repository_distributions()
    assert "tracklet" in ours
    for message in messages:
        for package in re.findall(r"\btracklet-[a-z0-9-]+", message):
            assert package in ours, message
        assert "pip install" not in message, message


def test_python_model_subclasses_define_predict():
    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    assert Echo().predict(None, [1]) == [1]
    with pytest.raises(NotImplementedError):
        mlflow.pyfunc.PythonModel().predict(None, [1])


# -- tracklet.data ----------------------------------------------------------------------------


def test_datasets_are_logged_with_their_fields(tracking_uri):
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    with mlflow.start_run() as run:
        mlflow.log_input(mlflow.data.from_pandas(frame, source="data/f.csv", name="f"), context="train")
        mlflow.log_inputs(
            [
                mlflow.data.from_numpy(np.zeros((2, 3))),
                mlflow.data.from_dict({"x": [1, 2]}, source="s3://b/k"),
            ],
            ["eval", None],
            [None, {"team": "a"}],
        )
    inputs = {
        i.dataset.name + i.dataset.source_type: i
        for i in mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    }
    assert sorted(inputs) == ["datasetcode", "datasets3", "flocal"]
    f = inputs["flocal"]
    assert json.loads(f.dataset.source) == {"uri": "data/f.csv"} and len(f.dataset.digest) == 8
    assert json.loads(f.dataset.schema) == {
        "mlflow_colspec": [
            {"type": "long", "name": "a", "required": True},
            {"type": "string", "name": "b", "required": False},
        ]
    }
    assert json.loads(f.dataset.profile) == {"num_rows": 2, "num_elements": 4}
    assert [(t.key, t.value) for t in f.tags] == [("mlflow.data.context", "train")]
    assert "mlflow.source.name" in json.loads(inputs["datasetcode"].dataset.source)["tags"]
    assert [(t.key, t.value) for t in inputs["datasets3"].tags] == [("team", "a")]


def test_log_inputs_lists_must_pair_up(tracking_uri):
    with mlflow.start_run():
        with pytest.raises(MlflowException, match="same length"):
            mlflow.log_inputs([None], [], [])
        with pytest.raises(MlflowException, match="model_id"):  # not a LoggedModelInput
            mlflow.log_input(None, model=object())


def test_dataset_sources_resolve_as_mlflow_resolves_them():
    from tracklet.data._sources import resolve_source

    assert [
        (s._get_source_type(), s.to_dict())
        for s in map(resolve_source, ["a/b.csv", "file:///x", "https://h/d", "gs://b/k"])
    ] == [
        ("local", {"uri": "a/b.csv"}),
        ("local", {"uri": "file:///x"}),
        ("http", {"url": "https://h/d"}),
        ("gs", {"uri": "gs://b/k"}),
    ]
    with pytest.raises(ValueError, match="name MLflow artifacts"):
        resolve_source("runs:/abc/data")


# -- image conversion -------------------------------------------------------------------------


def test_float_pixels_truncate_and_out_of_range_rescale_with_a_warning():
    import numpy as np

    from tracklet.multimedia import convert_to_pil_image

    assert np.asarray(convert_to_pil_image(np.array([[0.5, 1.0]]))).tolist() == [
        [127, 255]
    ]  # x*255, truncated
    with pytest.warns(UserWarning, match="Rescaling values to"):
        rescaled = convert_to_pil_image(np.array([[-1.0, 1.0]]))
    assert np.asarray(rescaled).tolist() == [[0, 255]]
    with pytest.raises(ValueError, match="Integer pixel values out of acceptable range"):
        convert_to_pil_image(np.array([[256]]))
    with pytest.raises(TypeError, match="Invalid array data type"):
        convert_to_pil_image(np.array([["a"]]))


def test_system_metrics_switches_are_accepted_and_say_so_once(monkeypatch):
    from tracklet import _autolog

    monkeypatch.setattr(_autolog, "_system_metrics_warned", False)
    with pytest.warns(UserWarning, match="tracklet collects no system metrics"):
        assert mlflow.enable_system_metrics_logging() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mlflow.enable_system_metrics_logging() is None
        assert mlflow.disable_system_metrics_logging() is None


def test_runs_artifact_repo_import_path_and_underlying_uri(tracking_uri):
    from tracklet.store.artifact.runs_artifact_repo import RunsArtifactRepository

    with mlflow.start_run() as run:
        pass
    uri = f"runs:/{run.info.run_id}/model"
    assert RunsArtifactRepository.is_runs_uri(uri) and not RunsArtifactRepository.is_runs_uri("/tmp/x")
    assert RunsArtifactRepository.get_underlying_uri(uri) == run.info.artifact_uri + "/model"
    assert RunsArtifactRepository.get_underlying_uri(f"runs:/{run.info.run_id}") == run.info.artifact_uri
