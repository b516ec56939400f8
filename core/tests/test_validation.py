import pytest

from tracklet import validation as v
from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import TrackletException


def code_of(fn, *args):
    with pytest.raises(TrackletException) as e:
        fn(*args)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    return str(e.value)


@pytest.mark.parametrize("key", ["a", "a/b", "loss:val", "with space", "x.y-z_1", "é"])
def test_valid_keys(key):
    v.validate_key("metric", key)


@pytest.mark.parametrize("key", ["", "a!", "../x", "/abs", "a//b", "a/", ".", "x" * 251, None, 3])
def test_invalid_keys_name_the_rule(key):
    message = code_of(v.validate_key, "metric", key)
    assert "metric" in message.lower()


def test_metric_values():
    v.validate_metric("m", float("nan"), 0, 0)
    v.validate_metric("m", float("inf"), 0, 0)
    v.validate_metric("m", -float("inf"), 0, 0)
    assert "valid double" in code_of(v.validate_metric, "m", "1.0", 0, 0)
    code_of(v.validate_metric, "m", True, 0, 0)
    assert "Timestamp" in code_of(v.validate_metric, "m", 1.0, -1, 0)
    assert "Step" in code_of(v.validate_metric, "m", 1.0, 0, 1.5)


def test_value_lengths():
    v.validate_param("p", "x" * v.MAX_PARAM_VAL_LENGTH)
    assert "6000" in code_of(v.validate_param, "p", "x" * (v.MAX_PARAM_VAL_LENGTH + 1))
    v.validate_tag("t", "x" * v.MAX_TAG_VAL_LENGTH)
    assert "8000" in code_of(v.validate_tag, "t", "x" * (v.MAX_TAG_VAL_LENGTH + 1))


def test_batch_limits():
    ok_metrics = [Metric(f"m{i}", 1.0, 0, 0) for i in range(1000)]
    v.validate_batch(ok_metrics, [], [])
    assert "1000 metrics" in code_of(v.validate_batch, ok_metrics + [Metric("x", 1.0, 0, 0)], [], [])
    params = [Param(f"p{i}", "v") for i in range(101)]
    assert "100 params" in code_of(v.validate_batch, [], params, [])
    tags = [RunTag(f"t{i}", "v") for i in range(101)]
    assert "100 tags" in code_of(v.validate_batch, [], [], tags)
    assert "1000 entities" in code_of(v.validate_batch, ok_metrics, [Param("p", "v")], [])
    assert "Duplicate" in code_of(v.validate_batch, [], [Param("p", "a"), Param("p", "b")], [])
    v.validate_batch([], [Param("p", "a"), Param("p", "a")], [])


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "C:\\x",
        "c:/x",
        "a\\b",
        "%2e%2e/x",
        "a/%2E%2e/b",
        "%2Fetc/passwd",
        "a%5c..%5cb",
        "x\x00",
        "s3://b/k",
    ],
)
def test_artifact_paths_that_escape_are_refused(path):
    assert "artifact path" in code_of(v.validate_artifact_path, path).lower()


@pytest.mark.parametrize(
    "path,clean",
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("a/b", "a/b"),
        ("./a//b/", "a/b"),
        # a % that decodes to nothing dangerous is an ordinary character (MLflow's image names)
        ("images/dogs%step%3%2e347104.png", "images/dogs%step%3%2e347104.png"),
        ("100%.txt", "100%.txt"),
        ("x%2f1.png", "x%2f1.png"),
        ("x%5c1.png", "x%5c1.png"),
        ("x%001.png", "x%001.png"),
    ],
)
def test_artifact_paths_normalised(path, clean):
    assert v.validate_artifact_path(path) == clean


def test_names_and_ids():
    v.validate_experiment_name("exp")
    code_of(v.validate_experiment_name, "")
    code_of(v.validate_experiment_name, "x" * 501)
    v.validate_run_id("0123abcd")
    code_of(v.validate_run_id, "../etc")
    code_of(v.validate_max_results, 0)
    code_of(v.validate_max_results, 50001)
