"""The registry contract's argument checks word their refusals as MLflow 3.17.2 does
(compared with MLflow's own validation functions, imported here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils import validation as mv

from tracklet.exceptions import TrackletException
from tracklet.stores import registry as reg


def _same_refusal(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    with pytest.raises(MlflowException) as mlflow_error:
        theirs()
    with pytest.raises(TrackletException) as our_error:
        ours()
    assert our_error.value.message == mlflow_error.value.message
    assert our_error.value.error_code == mlflow_error.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("name", ["", "   ", None, "a/b", "a:b", "..", "./x", "a//b", "/abs"])
def test_model_names(name: Any) -> None:
    _same_refusal(lambda: reg.validate_model_name(name), lambda: mv._validate_model_name(name))


@pytest.mark.parametrize("name", ["ok", "my model", "model.v2", "ünï", "a-b_c"])
def test_good_model_names(name: str) -> None:
    mv._validate_model_name(name)
    assert reg.validate_model_name(name) == name


@pytest.mark.parametrize("version", ["abc", "1.5", "", "1e3"])
def test_versions(version: Any) -> None:
    _same_refusal(lambda: reg.canonical_version(version), lambda: mv._validate_model_version(version))


@pytest.mark.parametrize(("given", "canonical"), [("1", "1"), (3, "3"), ("007", "7")])
def test_good_versions(given: Any, canonical: str) -> None:
    assert reg.canonical_version(given) == canonical


@pytest.mark.parametrize("alias", ["", None, "has space", "a/b", "é!", "x" * 256])
def test_alias_names(alias: Any) -> None:
    _same_refusal(lambda: reg.validate_model_alias(alias), lambda: mv._validate_model_alias_name(alias))


@pytest.mark.parametrize("alias", ["latest", "LaTeSt", "v1", "V42"])
def test_reserved_aliases(alias: str) -> None:
    _same_refusal(
        lambda: reg.validate_model_alias(alias, reserved=True),
        lambda: mv._validate_model_alias_name_reserved(alias),
    )


@pytest.mark.parametrize(
    ("key", "value"), [(None, "v"), ("a b!", "v"), ("../x", "v"), ("k" * 251, "v"), ("k", "v" * 100_001)]
)
def test_registered_model_tags(key: Any, value: Any) -> None:
    _same_refusal(
        lambda: reg.validate_registered_model_tag(key, value),
        lambda: mv._validate_registered_model_tag(key, value),
    )


@pytest.mark.parametrize(
    ("key", "value"), [("k", None), ("../x", "v"), ("k" * 251, "v"), ("k", "v" * 100_001)]
)
def test_model_version_tags(key: Any, value: Any) -> None:
    _same_refusal(
        lambda: reg.validate_model_version_tag(key, value), lambda: mv._validate_model_version_tag(key, value)
    )


@pytest.mark.parametrize("name", ["", "a/b", "a:b", "a.b", "a%b", 'a"b', "it's"])
def test_logged_model_names(name: str) -> None:
    _same_refusal(lambda: reg.validate_logged_model_name(name), lambda: mv._validate_logged_model_name(name))


def test_shared_refusals_read_as_mlflows_stores_word_them() -> None:
    assert reg.no_such_registered_model("m").message == "Registered Model with name=m not found"
    assert reg.registered_model_exists("m").message == "Registered Model (name=m) already exists."
    assert reg.no_such_model_version("m", "3").message == "Model Version (name=m, version=3) not found"
    assert reg.alias_not_found("a").message == "Registered model alias a not found."
    assert reg.no_such_logged_model("m-1").message == "Model 'm-1' not found"
    assert reg.no_such_registered_model("m").error_code == "RESOURCE_DOES_NOT_EXIST"
    assert reg.registered_model_exists("m").error_code == "RESOURCE_ALREADY_EXISTS"
    assert reg.logged_model_experiment_not_active("1").error_code == "INVALID_STATE"
