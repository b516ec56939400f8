"""Trace search: the parser's AST, the in-memory evaluator, paging, and a differential
check against MLflow 3.17's own ``SearchTraceUtils`` (in-process, as the run search
differential does)."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import pytest

from tracklet.entities import TraceInfo, TraceLocation, TraceState
from tracklet.exceptions import TrackletException
from tracklet.search import (
    ATTRIBUTE,
    METADATA,
    TAG,
    And,
    Comparison,
    Or,
    OrderKey,
    decode_page_token,
    filter_traces,
    make_trace_search,
    parse_trace_filter,
    parse_trace_order_by,
    search_traces_in_memory,
)

T0 = 1_700_000_000_000
_DEFAULT = [OrderKey(ATTRIBUTE, "timestamp_ms", False), OrderKey(ATTRIBUTE, "trace_id", True)]


# == parsing =======================================================================================


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("status = 'OK'", Comparison(ATTRIBUTE, "status", "=", "OK")),
        ("attributes.state != 'OK'", Comparison(ATTRIBUTE, "status", "!=", "OK")),
        ("trace.status IN ('OK','ERROR')", Comparison(ATTRIBUTE, "status", "IN", ("OK", "ERROR"))),
        ("timestamp > 5", Comparison(ATTRIBUTE, "timestamp_ms", ">", 5)),
        ("timestamp_ms <= '7'", Comparison(ATTRIBUTE, "timestamp_ms", "<=", 7)),
        ("execution_time = 3", Comparison(ATTRIBUTE, "execution_time_ms", "=", 3)),
        ("end_time >= 1.5", Comparison(ATTRIBUTE, "end_time_ms", ">=", 1.5)),
        ("request_id = 'tr-1'", Comparison(ATTRIBUTE, "trace_id", "=", "tr-1")),
        ("trace_id NOT IN ('a')", Comparison(ATTRIBUTE, "trace_id", "NOT IN", ("a",))),
        ("client_request_id LIKE 'c%'", Comparison(ATTRIBUTE, "client_request_id", "LIKE", "c%")),
        ("name = 'x'", Comparison(TAG, "mlflow.traceName", "=", "x")),
        ("tags.Name ILIKE 'x'", Comparison(TAG, "mlflow.traceName", "ILIKE", "x")),
        ("prompt = 'p'", Comparison(TAG, "mlflow.linkedPrompts", "=", "p")),
        ("run_id = 'r'", Comparison(METADATA, "mlflow.sourceRun", "=", "r")),
        ("metadata.run_id IS NULL", Comparison(METADATA, "mlflow.sourceRun", "IS NULL", None)),
        ("tag.env IS NOT NULL", Comparison(TAG, "env", "IS NOT NULL", None)),
        ("tags.`a b` = 'v'", Comparison(TAG, "a b", "=", "v")),
        ("tags.mlflow.user = 'v'", Comparison(TAG, "mlflow.user", "=", "v")),
        ("request_metadata.k IN ('v')", Comparison(METADATA, "k", "IN", ("v",))),
        ("metadata.k != 'v'", Comparison(METADATA, "k", "!=", "v")),
    ],
)
def test_parse_resolves_mlflow_fields(filter_string: str, expected: Comparison) -> None:
    assert parse_trace_filter(filter_string) == expected


def test_parse_keeps_or_and_parentheses() -> None:
    parsed = parse_trace_filter("status = 'OK' AND (name = 'a' OR tags.t = 'b') OR run_id = 'r'")
    assert parsed == Or(
        (
            And(
                (
                    Comparison(ATTRIBUTE, "status", "=", "OK"),
                    Or((Comparison(TAG, "mlflow.traceName", "=", "a"), Comparison(TAG, "t", "=", "b"))),
                )
            ),
            Comparison(METADATA, "mlflow.sourceRun", "=", "r"),
        )
    )
    assert parse_trace_filter(None) is None
    assert parse_trace_filter("  ") is None


@pytest.mark.parametrize(
    "bad",
    [
        "status = OK",
        "status < 'OK'",
        "status IS NULL",
        "timestamp_ms = 'x'",
        "timestamp_ms LIKE '1'",
        "timestamp_ms IN ('1')",
        "foo = 'x'",
        "attributes.Name = 'x'",
        "metrics.m > 1",
        "params.p = 'x'",
        "span.type = 'LLM'",
        "span.attributes.model = 'x'",
        "feedback.rating > 1",
        "expectation.x = 'y'",
        "issue.id = 'x'",
        "text LIKE '%hi%'",
        "tags.t RLIKE 'x'",
        "status = 'OK' AND",
        "",  # not bad: no filter
    ],
)
def test_parse_refuses_what_mlflow_refuses(bad: str) -> None:
    if not bad:
        assert parse_trace_filter(bad) is None
        return
    with pytest.raises(TrackletException) as excinfo:
        parse_trace_filter(bad)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


def test_parse_order_by_completes_the_order() -> None:
    assert parse_trace_order_by(None) == _DEFAULT
    assert parse_trace_order_by([]) == _DEFAULT
    assert parse_trace_order_by(["timestamp ASC"]) == [
        OrderKey(ATTRIBUTE, "timestamp_ms", True),
        OrderKey(ATTRIBUTE, "trace_id", True),
    ]
    assert parse_trace_order_by(["name DESC", "request_id DESC", "run_id"]) == [
        OrderKey(TAG, "mlflow.traceName", False),
        OrderKey(ATTRIBUTE, "trace_id", False),
        OrderKey(METADATA, "mlflow.sourceRun", True),
        OrderKey(ATTRIBUTE, "timestamp_ms", False),
    ]
    assert parse_trace_order_by(["experiment_id", "tags.k DESC", "metadata.m"])[:3] == [
        OrderKey(ATTRIBUTE, "experiment_id", True),
        OrderKey(TAG, "k", False),
        OrderKey(METADATA, "m", True),
    ]
    for bad in (["client_request_id"], ["prompt"], ["timestamp", "timestamp_ms"], ["status UP"], "status"):
        with pytest.raises(TrackletException) as excinfo:
            parse_trace_order_by(bad)  # type: ignore[arg-type]
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException, match=r"`order_by` contains duplicate fields"):
        parse_trace_order_by(["timestamp", "timestamp_ms DESC"])


# == evaluation and paging =========================================================================


def _info(trace_id: str, **kwargs: Any) -> TraceInfo:
    experiment_id = kwargs.pop("experiment_id", "0")
    return TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=kwargs.pop("request_time", T0),
        state=kwargs.pop("state", TraceState.OK),
        **kwargs,
    )


def test_filter_traces_evaluates_every_field_kind() -> None:
    infos = [
        _info("a", execution_duration=10, tags={"mlflow.traceName": "x"}, trace_metadata={"k": "1"}),
        _info("b", request_time=T0 + 5, execution_duration=None, state=TraceState.ERROR),
        _info("c", request_time=T0 + 5, execution_duration=2, client_request_id="cr", tags={"t": "v"}),
    ]

    def ids(filter_string: str, order_by: list[str] | None = None) -> list[str]:
        return [
            i.trace_id
            for i in filter_traces(infos, parse_trace_filter(filter_string), parse_trace_order_by(order_by))
        ]

    assert ids("") == ["b", "c", "a"]
    assert ids(f"end_time_ms >= {T0 + 7}") == ["c", "a"]  # b has no end: never matches
    assert ids("execution_time_ms != 10") == ["c"]
    assert ids("tags.t IS NULL") == ["b", "a"]
    assert ids("metadata.k = '1' OR client_request_id = 'cr'") == ["c", "a"]
    assert ids("status = 'ERROR' OR (tags.t = 'v' AND execution_time_ms < 5)") == ["b", "c"]
    assert ids("name != 'y'") == ["a"]
    assert ids("", ["execution_time_ms DESC"]) == ["a", "c", "b"]
    assert ids("", ["execution_time_ms ASC"]) == ["c", "a", "b"]
    assert ids("", ["trace_id DESC"]) == ["c", "b", "a"]


def test_search_in_memory_pages_with_mlflow_tokens() -> None:
    infos = [_info(f"t{i:02d}", request_time=T0 + i, experiment_id=str(i % 2)) for i in range(7)]
    search = make_trace_search(["0"], None, 2, None, None)
    seen: list[str] = []
    pages = 0
    while True:
        page, token = search_traces_in_memory(infos, search)
        seen.extend(i.trace_id for i in page)
        pages += 1
        if token is None:
            break
        assert decode_page_token(token) == search.offset + 2
        search = make_trace_search(["0"], None, 2, None, token)
    assert seen == ["t06", "t04", "t02", "t00"] and pages == 2
    with pytest.raises(TrackletException):
        make_trace_search(["0"], None, 2, None, "garbage")


# == against MLflow ================================================================================


@pytest.fixture(scope="module")
def mlflow_search() -> ModuleType:
    pytest.importorskip("mlflow")
    import mlflow.utils.search_utils

    return mlflow.utils.search_utils


def _specs(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    specs = []
    for i in range(count):
        tags = {"env": rng.choice(["prod", "dev", "Prod"]), "team": rng.choice(["a", "b"])}
        if rng.random() < 0.7:
            tags["mlflow.traceName"] = rng.choice(["predict", "Predict_batch", "train", "chat"])
        if rng.random() < 0.3:
            del tags["env"]
        metadata = {}
        if rng.random() < 0.6:
            metadata["mlflow.sourceRun"] = rng.choice(["r1", "r2"])
        if rng.random() < 0.5:
            metadata["user"] = rng.choice(["ann", "bob"])
        specs.append(
            {
                "trace_id": f"tr-{i:032x}",
                "experiment_id": rng.choice(["0", "1"]),
                "request_time": T0 + rng.choice([0, 10, 10, 20, 30]),
                "execution_duration": rng.choice([1, 5, 50, 500]),
                "state": rng.choice(["OK", "ERROR", "IN_PROGRESS"]),
                "client_request_id": rng.choice([None, "c-1", "c-2"]),
                "tags": tags,
                "metadata": metadata,
            }
        )
    return specs


def _build(spec: dict[str, Any], entities: Any) -> Any:
    return entities.TraceInfo(
        trace_id=spec["trace_id"],
        trace_location=entities.TraceLocation.from_experiment_id(spec["experiment_id"]),
        request_time=spec["request_time"],
        state=entities.TraceState(spec["state"]),
        client_request_id=spec["client_request_id"],
        execution_duration=spec["execution_duration"],
        trace_metadata=dict(spec["metadata"]),
        tags=dict(spec["tags"]),
    )


# Filters MLflow's in-memory search supports (no IN on tags, no end_time: its TraceInfo has
# no such property) and their order-by lists.
_DIFFERENTIAL_FILTERS = [
    "",
    "status = 'OK'",
    "attributes.status != 'ERROR'",
    "status IN ('OK', 'IN_PROGRESS')",
    "status NOT IN ('OK')",
    f"timestamp_ms > {T0 + 10}",
    f"timestamp >= {T0 + 10}",
    f"timestamp_ms = {T0 + 20}",
    f"timestamp_ms != {T0 + 20}",
    "execution_time_ms < 50",
    "execution_time <= 50",
    "name = 'predict'",
    "name != 'predict'",
    "name LIKE 'pre%'",
    "name ILIKE 'pre%'",
    "tags.env = 'prod'",
    "tags.env ILIKE 'PROD'",
    "tags.env IS NULL",
    "tags.env IS NOT NULL",
    "tag.team != 'a'",
    "run_id = 'r1'",
    "metadata.user = 'bob'",
    "request_metadata.user LIKE 'a%'",
    "metadata.user IS NOT NULL",
    "client_request_id = 'c-1'",
    "client_request_id IN ('c-1', 'c-2')",
    f"request_id = '{'tr-' + format(3, '032x')}'",
    "status = 'OK' AND tags.env = 'prod' AND execution_time_ms > 1",
]
_DIFFERENTIAL_ORDERS: list[list[str] | None] = [
    None,
    ["timestamp_ms ASC"],
    ["timestamp DESC"],
    ["request_id DESC"],
    ["execution_time_ms"],
    ["execution_time DESC", "timestamp_ms ASC"],
    ["status", "request_id"],
    ["experiment_id DESC"],
]


@pytest.mark.parametrize("seed", [1, 2])
def test_same_selection_and_order_as_mlflow(mlflow_search: ModuleType, seed: int) -> None:
    import mlflow.entities as ml

    from tracklet import entities as tl

    specs = _specs(seed, 40)
    ours = [_build(s, tl) for s in specs]
    theirs = [_build(s, ml) for s in specs]
    utils = mlflow_search.SearchTraceUtils
    wrong = []
    for filter_string in _DIFFERENTIAL_FILTERS:
        for order_by in _DIFFERENTIAL_ORDERS:
            expected = [t.trace_id for t in utils.sort(utils.filter(theirs, filter_string), order_by)]
            got = [
                i.trace_id
                for i in filter_traces(
                    ours, parse_trace_filter(filter_string), parse_trace_order_by(order_by)
                )
            ]
            if got != expected:
                wrong.append(f"{filter_string!r} {order_by}: got {got[:6]}…, MLflow {expected[:6]}…")
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize(
    "bad",
    [
        "status = OK",
        "status > 'OK'",
        "foo = 'x'",
        "metrics.m > 1",
        "params.p = 'x'",
        "attributes.Name = 'x'",
        "timestamp_ms LIKE '1%'",
    ],
)
def test_refused_by_mlflow_and_by_tracklet(mlflow_search: ModuleType, bad: str) -> None:
    import mlflow.entities as ml

    utils = mlflow_search.SearchTraceUtils
    sample = [_build(_specs(3, 1)[0], ml)]
    with pytest.raises(Exception) as theirs:
        utils.filter(sample, bad)
    assert getattr(theirs.value, "error_code", None) == "INVALID_PARAMETER_VALUE", theirs.value
    with pytest.raises(TrackletException) as ours:
        parse_trace_filter(bad)
    assert ours.value.error_code == "INVALID_PARAMETER_VALUE"


def test_page_tokens_are_mlflows(mlflow_search: ModuleType) -> None:
    utils = mlflow_search.SearchTraceUtils
    infos = [_info(f"t{i}", request_time=T0 + i) for i in range(5)]
    _, token = search_traces_in_memory(infos, make_trace_search(["0"], None, 2, None, None))
    assert token is not None
    assert utils.parse_start_offset_from_page_token(token) == 2
    theirs = utils.create_page_token(4).decode()
    page, token = search_traces_in_memory(infos, make_trace_search(["0"], None, 2, None, theirs))
    assert [i.trace_id for i in page] == ["t0"] and token is None
