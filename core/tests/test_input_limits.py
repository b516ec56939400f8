"""Hostile input the core refuses with INVALID_PARAMETER_VALUE, for every store and the
client: oversized searches, forged page tokens, text no backend can store, integers
beyond int64, artifact paths too deep to create, and ids spelled another way."""

from __future__ import annotations

import base64
import json

import pytest

from tracklet import validation as v
from tracklet.exceptions import TrackletException
from tracklet.search import (
    MAX_FILTER_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_FILTER_VALUES,
    MAX_ORDER_BY_CLAUSE_LENGTH,
    MAX_ORDER_BY_CLAUSES,
    decode_page_token,
    parse_filter,
    parse_order_by,
    read_page_token,
)


def _refused(fn, *args, **kwargs) -> str:
    with pytest.raises(TrackletException) as info:
        fn(*args, **kwargs)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return str(info.value)


def _token(body: object) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


# -- search sizes -----------------------------------------------------------------------------


def test_order_by_clause_count_is_capped() -> None:
    keys = [f"metrics.m{i}" for i in range(MAX_ORDER_BY_CLAUSES)]
    assert len(parse_order_by(keys)) == MAX_ORDER_BY_CLAUSES
    message = _refused(parse_order_by, [*keys, "metrics.one_more"])
    assert f"at most {MAX_ORDER_BY_CLAUSES}" in message and "order_by" in message and "21" in message
    assert f"at most {MAX_ORDER_BY_CLAUSES}" in _refused(parse_order_by, ["name"] * 1000, "experiment")


def test_order_by_clause_length_is_capped() -> None:
    message = _refused(parse_order_by, ["tags.`" + "k" * MAX_ORDER_BY_CLAUSE_LENGTH + "`"])
    assert f"at most {MAX_ORDER_BY_CLAUSE_LENGTH} characters" in message


def test_filter_length_is_capped() -> None:
    long_value = "params.p = '" + "x" * MAX_FILTER_LENGTH + "'"
    message = _refused(parse_filter, long_value)
    assert f"at most {MAX_FILTER_LENGTH} characters" in message and "filter" in message


def test_filter_comparison_count_is_capped() -> None:
    at_limit = " AND ".join(f"metrics.m{i} > 1" for i in range(MAX_FILTER_COMPARISONS))
    parse_filter(at_limit)
    message = _refused(parse_filter, at_limit + " OR params.p = 'x'")
    assert f"at most {MAX_FILTER_COMPARISONS} comparisons" in message
    assert f"at most {MAX_FILTER_COMPARISONS} comparisons" in _refused(
        parse_filter, " OR ".join(["name = 'x'"] * 2_000), "experiment"
    )


def test_filter_in_list_values_are_capped() -> None:
    values = ",".join(f"'{i}'" for i in range(MAX_FILTER_VALUES))
    parse_filter(f"run_id IN ({values})")
    message = _refused(parse_filter, f"run_id IN ({values}, 'x')")
    assert f"at most {MAX_FILTER_VALUES} values" in message


def test_deep_nesting_is_refused_with_the_limit() -> None:
    message = _refused(parse_filter, "(" * 3000 + "params.a = 'b'" + ")" * 3000)
    assert "nested deeper than 50" in message


@pytest.mark.parametrize("bad", ["\x00", "\ud800", "a\udfffb"])
def test_filter_values_no_backend_can_store_are_refused(bad: str) -> None:
    message = _refused(parse_filter, f"params.p = '{bad}'")
    assert f"position {12 + bad.startswith('a')}" in message and "filter" in message


def test_order_by_with_a_lone_surrogate_is_refused() -> None:
    assert "order_by" in _refused(parse_order_by, ["tags.`\ud800`"])


# -- page tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        _token({"offset": -1}),
        _token({"offset": 2**63}),
        _token({"offset": 10**30}),
        _token({"offset": "9" * 40}),
        _token({"offset": "9" * 5000}),
        _token({"offset": 1.5}),
        _token({"offset": True}),
        _token({"offset": None}),
        _token([1]),
        base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        "not base64!",
    ],
)
def test_forged_page_tokens_are_refused(token: str) -> None:
    message = _refused(decode_page_token, token)
    assert "page token" in message.lower()


def test_largest_page_offset_is_int64() -> None:
    assert decode_page_token(_token({"offset": 2**63 - 1})) == 2**63 - 1
    assert decode_page_token(_token({"offset": "12"})) == 12
    offset, body = read_page_token(_token({"offset": 3, "after": [1], "id": "x"}))
    assert offset == 3 and body["after"] == [1]


# -- text, integers, paths ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\ud800", "x\udc00"])
def test_text_no_backend_can_store_is_refused(bad: str) -> None:
    assert "param value of 'k'" in _refused(v.validate_param, "k", bad)
    assert "tag value of 'k'" in _refused(v.validate_tag, "k", bad)
    assert "tag value of 'k'" in _refused(v.validate_experiment_tag, "k", bad)
    assert "experiment name" in _refused(v.validate_experiment_name, "e" + bad)
    assert "run name" in _refused(v.validate_run_name, bad)
    assert "dataset name" in _refused(v.validate_dataset, "n" + bad, "d")
    message = _refused(v.validate_text, "field", bad)
    assert "U+" in message and "position" in message


def test_ordinary_unicode_is_fine() -> None:
    v.validate_param("k", "é 😀 中文")
    v.validate_text("field", "tab\tnewline\n")


@pytest.mark.parametrize(("timestamp", "step"), [(2**63, 0), (0, 2**63), (0, -(2**63) - 1), (10**30, 0)])
def test_metric_timestamp_and_step_must_fit_int64(timestamp: int, step: int) -> None:
    message = _refused(v.validate_metric, "m", 1.0, timestamp, step)
    assert "64-bit" in message


def test_metric_int64_edges_are_fine() -> None:
    v.validate_metric("m", 1.0, 2**63 - 1, -(2**63))
    v.validate_metric("m", 1.0, 0, 2**63 - 1)


def test_artifact_paths_are_bounded() -> None:
    deep = "/".join(["a"] * (v.MAX_ARTIFACT_PATH_DEPTH + 1))
    assert f"at most {v.MAX_ARTIFACT_PATH_DEPTH} levels" in _refused(v.validate_artifact_path, deep)
    assert "at most" in _refused(v.validate_artifact_path, "/".join(["a"] * 3000))
    long = "x" * (v.MAX_ARTIFACT_PATH_LENGTH + 1)
    assert f"at most {v.MAX_ARTIFACT_PATH_LENGTH} characters" in _refused(v.validate_artifact_path, long)
    assert v.validate_artifact_path("/".join(["a"] * v.MAX_ARTIFACT_PATH_DEPTH)).count("/") == 255


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("01", "1"),
        ("00", "0"),
        ("1_0", "10"),
        (" 1", "1"),
        ("1 ", "1"),
        ("+1", "1"),
        ("\u0661", "1"),
        ("1\n", "1"),
        ("\uff11", "1"),
        ("0" * 60 + "7", "7"),
    ],
)
def test_non_canonical_numeric_experiment_ids_are_refused(spelling: str, canonical: str) -> None:
    message = _refused(v.validate_experiment_id, spelling)
    assert f"'{canonical}'" in message and "experiment_id" in message
    assert f"'{canonical}'" in _refused(v.canonical_experiment_id, spelling, "experiment_ids")


@pytest.mark.parametrize("good", ["0", "1", "123456789012345678", "abc", "a-b_c", "0x1", "1a"])
def test_canonical_experiment_ids_pass(good: str) -> None:
    v.validate_experiment_id(good)
    assert v.canonical_experiment_id(good) == good


def test_canonical_experiment_id_takes_a_json_integer() -> None:
    assert v.canonical_experiment_id(7) == "7"
    for bad in (-1, True, 1.0, None, ["1"], ""):
        assert "experiment_id" in _refused(v.canonical_experiment_id, bad)


@pytest.mark.parametrize("bad", ["abc\n", " abc", "ab c", "\u0661abc", "a\u00e9", "", "-a", "a" * 257])
def test_run_ids_are_ascii_and_whole(bad: str) -> None:
    assert "run" in _refused(v.validate_run_id, bad).lower()
    assert "run_ids" in _refused(v.canonical_run_id, bad, "run_ids")


def test_good_run_ids_pass() -> None:
    for good in ("0123456789abcdef0123456789abcdef", "01", "run-1_x"):
        v.validate_run_id(good)
        assert v.canonical_run_id(good) == good


def test_user_id_and_dataset_fields_fit_their_columns() -> None:
    from tracklet.entities import Dataset, DatasetInput, InputTag

    v.validate_user_id(None)
    v.validate_user_id("u" * v.MAX_USER_ID_LENGTH)
    assert "user_id" in _refused(v.validate_user_id, "u" * (v.MAX_USER_ID_LENGTH + 1))
    assert "user_id" in _refused(v.validate_user_id, "a\x00")

    def dataset_input(source_type: str = "local", key: str = "k", value: str = "v") -> DatasetInput:
        return DatasetInput(Dataset("d", "x", source_type, "src"), [InputTag(key, value)])

    v.validate_dataset_inputs([dataset_input()])
    assert "source_type" in _refused(v.validate_dataset_inputs, [dataset_input(source_type="s" * 37)])
    assert "input tag key" in _refused(v.validate_dataset_inputs, [dataset_input(key="k" * 256)])
    assert "value of input tag" in _refused(v.validate_dataset_inputs, [dataset_input(value="v" * 501)])


def test_errors_do_not_echo_a_huge_filter() -> None:
    message = _refused(parse_filter, "params.p ~ '" + "x" * 100_000 + "'")
    assert len(message) < 500 and "…" in message
