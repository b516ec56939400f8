"""In-memory search: filtering, ordering and paging real Run and Experiment entities."""

from __future__ import annotations

import base64
import json
import math

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
from tracklet.search import (
    decode_page_token,
    encode_page_token,
    filter_experiments,
    filter_runs,
    search_experiments_in_memory,
    search_runs_in_memory,
    sort_experiments,
    sort_runs,
)


def make_run(
    run_id: str,
    start_time: int | None = 0,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    datasets: list[tuple[str, str, str | None]] | None = None,
    **info: object,
) -> Run:
    """A run; ``datasets`` are (name, digest, context or None)."""
    data = RunData(
        [Metric(k, v, 0, 0) for k, v in (metrics or {}).items()],
        [Param(k, v) for k, v in (params or {}).items()],
        [RunTag(k, v) for k, v in (tags or {}).items()],
    )
    inputs = RunInputs(
        [
            DatasetInput(
                Dataset(name, digest, "local", "{}"), [InputTag("mlflow.data.context", ctx)] if ctx else []
            )
            for name, digest, ctx in datasets or []
        ]
    )
    return Run(RunInfo(run_id=run_id, start_time=start_time, **info), data, inputs)  # type: ignore[arg-type]


def ids(runs: list[Run]) -> list[str]:
    return [run.info.run_id for run in runs]


@pytest.fixture
def runs() -> list[Run]:
    return [
        make_run(
            "a",
            10,
            {"loss": 0.5, "acc": 0.9},
            {"model": "cnn", "lr": "0.1"},
            {"team": "vision"},
            status="FINISHED",
            run_name="alpha",
            user_id="ann",
            end_time=20,
            artifact_uri="s3://b/a",
        ),
        make_run(
            "b",
            30,
            {"loss": 0.2},
            {"model": "rnn"},
            {"team": "Vision", "note": "50% done"},
            status="RUNNING",
            run_name="beta",
            user_id="bob",
            artifact_uri="file:///tmp/b",
        ),
        make_run(
            "c",
            20,
            {"loss": math.nan, "acc": 0.7},
            {"model": "c_n"},
            {},
            status="FAILED",
            run_name="gamma",
            user_id="ann",
            end_time=25,
            artifact_uri="s3://b/c",
        ),
        make_run("d", 20, {}, {}, {"team": "nlp"}, status="FINISHED", run_name=None, user_id="cy"),
    ]


# -- filtering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.loss = 0.5", ["a"]),
        ("metrics.loss != 0.5", ["b", "c"]),  # NaN != 0.5; d has no loss, so never matches
        ("metrics.loss < 0.5", ["b"]),
        ("metrics.loss <= 0.5", ["a", "b"]),
        ("metrics.loss > 0.2", ["a"]),
        ("metrics.loss >= 0.2", ["a", "b"]),
        ("metrics.acc > 0", ["a", "c"]),
        ("metrics.missing > -1e9", []),
    ],
)
def test_metric_comparisons(runs: list[Run], filter_string: str, expected: list[str]) -> None:
    assert ids(filter_runs(runs, filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.model = 'cnn'", ["a"]),
        ("params.model != 'cnn'", ["b", "c"]),
        ("params.model LIKE '%nn'", ["a", "b"]),
        ("params.model LIKE 'c_n'", ["a", "c"]),
        ("params.model LIKE 'C%'", []),
        ("params.model ILIKE 'C%'", ["a", "c"]),
        ("params.model IS NULL", ["d"]),
        ("params.model IS NOT NULL", ["a", "b", "c"]),
        ("params.model IN ('rnn', 'cnn')", ["a", "b"]),
        ("params.model NOT IN ('rnn')", ["a", "c"]),
        ("params.lr = '0.1'", ["a"]),
        ("tags.team = 'vision'", ["a"]),
        ("tags.team ILIKE 'vision'", ["a", "b"]),
        ("tags.team != 'nlp'", ["a", "b"]),
        ("tags.team IS NULL", ["c"]),
        ("tags.note LIKE '50\\%%'", []),  # no escape character: the backslash is literal
        ("tags.note LIKE '50%'", ["b"]),
        ("tags.note LIKE '%\\% done'", []),
    ],
)
def test_param_and_tag_comparisons(runs: list[Run], filter_string: str, expected: list[str]) -> None:
    assert ids(filter_runs(runs, filter_string)) == expected


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("a.c", "abc", False),  # regex characters are literal
        ("a.c", "a.c", True),
        ("a_c", "abc", True),
        ("a_c", "abbc", False),
        ("a%c", "ac", True),
        ("a%c", "a\nb\nc", True),
        ("%", "", True),
        ("", "", True),
        ("a", "ab", False),
        ("(x)+", "(x)+", True),
    ],
)
def test_like_patterns(pattern: str, value: str, matches: bool) -> None:
    run = make_run("r", params={"p": value})
    assert filter_runs([run], f"params.p LIKE '{pattern}'") == ([run] if matches else [])
    assert filter_runs([run], f"params.p ILIKE '{pattern.upper()}'") == ([run] if matches else [])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("attributes.status = 'FINISHED'", ["a", "d"]),
        ("status != 'FINISHED'", ["b", "c"]),
        ("run_name LIKE '%a'", ["a", "b", "c"]),
        ("`run name` = 'beta'", ["b"]),
        ("run_name != 'beta'", ["a", "c"]),  # d has no name
        ("user_id = 'ann'", ["a", "c"]),
        ("artifact_uri LIKE 's3://%'", ["a", "c"]),
        ("run_id IN ('a', 'c', 'zz')", ["a", "c"]),
        ("run_id NOT IN ('a', 'c')", ["b", "d"]),
        ("start_time > 10", ["b", "c", "d"]),
        ("created >= 30", ["b"]),
        ("end_time < 25", ["a"]),
        ("end_time != 0", ["a", "c"]),  # running runs have no end time
    ],
)
def test_attribute_comparisons(runs: list[Run], filter_string: str, expected: list[str]) -> None:
    assert ids(filter_runs(runs, filter_string)) == expected


def test_dataset_comparisons() -> None:
    runs = [
        make_run("x", datasets=[("train", "d1", "training"), ("eval", "d2", "evaluation")]),
        make_run("y", datasets=[("train", "d3", None)]),
        make_run("z"),
    ]
    assert ids(filter_runs(runs, "datasets.name = 'train'")) == ["x", "y"]
    assert ids(filter_runs(runs, "datasets.name != 'train'")) == ["x"]  # any input that differs
    assert ids(filter_runs(runs, "datasets.digest IN ('d2', 'd3')")) == ["x", "y"]
    assert ids(filter_runs(runs, "datasets.digest NOT IN ('d1', 'd2')")) == ["y"]
    assert ids(filter_runs(runs, "datasets.context = 'training'")) == ["x"]
    assert ids(filter_runs(runs, "datasets.context LIKE '%ation'")) == ["x"]
    assert ids(filter_runs(runs, "datasets.name ILIKE 'TR%' AND datasets.context = 'evaluation'")) == ["x"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.model = 'cnn' OR params.model = 'rnn'", ["a", "b"]),
        ("tags.team = 'nlp' OR metrics.loss < 0.3 AND params.model = 'rnn'", ["b", "d"]),
        ("tags.team = 'nlp' OR metrics.loss < 0.3 AND params.model = 'cnn'", ["d"]),
        ("(tags.team = 'nlp' OR metrics.loss < 0.3) AND params.model = 'rnn'", ["b"]),
        ("status = 'FINISHED' AND (user_id = 'cy' OR metrics.acc > 0.8)", ["a", "d"]),
        ("metrics.loss > 0 AND metrics.acc > 0 AND params.model LIKE 'c%'", ["a"]),
        ("user_id = 'x' OR user_id = 'y' OR user_id = 'cy'", ["d"]),
    ],
)
def test_and_or_parentheses(runs: list[Run], filter_string: str, expected: list[str]) -> None:
    assert ids(filter_runs(runs, filter_string)) == expected


def test_no_filter_keeps_every_run_in_order(runs: list[Run]) -> None:
    assert ids(filter_runs(runs, None)) == ["a", "b", "c", "d"]
    assert ids(filter_runs(iter(runs), "")) == ["a", "b", "c", "d"]


def test_filter_errors_raise_before_anything(runs: list[Run]) -> None:
    with pytest.raises(TrackletException) as info:
        filter_runs(runs, "metrics.loss = 'x'")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


# -- ordering ------------------------------------------------------------------------------


def test_default_order_is_start_time_desc_then_run_id(runs: list[Run]) -> None:
    assert ids(sort_runs(runs, None)) == ["b", "c", "d", "a"]
    assert ids(sort_runs(list(reversed(runs)), [])) == ["b", "c", "d", "a"]


def test_runs_without_start_time_sort_last_by_default() -> None:
    runs = [make_run("n", None), make_run("o", 5), make_run("m", None)]
    assert ids(sort_runs(runs, None)) == ["o", "m", "n"]


def test_missing_and_nan_sort_last_in_both_directions(runs: list[Run]) -> None:
    # loss: a=0.5, b=0.2, c=NaN, d=missing
    assert ids(sort_runs(runs, ["metrics.loss"])) == ["b", "a", "c", "d"]
    assert ids(sort_runs(runs, ["metrics.loss ASC"])) == ["b", "a", "c", "d"]
    assert ids(sort_runs(runs, ["metrics.loss DESC"])) == ["a", "b", "c", "d"]


def test_order_by_params_tags_and_attributes(runs: list[Run]) -> None:
    assert ids(sort_runs(runs, ["params.model"])) == ["c", "a", "b", "d"]
    assert ids(sort_runs(runs, ["params.model DESC"])) == ["b", "a", "c", "d"]
    assert ids(sort_runs(runs, ["tags.team"])) == ["b", "d", "a", "c"]
    assert ids(sort_runs(runs, ["attributes.run_name DESC"])) == ["c", "b", "a", "d"]
    assert ids(sort_runs(runs, ["end_time"])) == ["a", "c", "b", "d"]
    assert ids(sort_runs(runs, ["start_time ASC"])) == ["a", "c", "d", "b"]


def test_ties_keep_the_default_order(runs: list[Run]) -> None:
    # user_id: ann (a, c), bob, cy; a and c tie -> start_time DESC puts c first
    assert ids(sort_runs(runs, ["user_id"])) == ["c", "a", "b", "d"]
    # status FINISHED: a (10) and d (20) tie -> d first
    assert ids(sort_runs(runs, ["status DESC"])) == ["b", "d", "a", "c"]


def test_first_order_key_wins(runs: list[Run]) -> None:
    assert ids(sort_runs(runs, ["user_id DESC", "metrics.acc"])) == ["d", "b", "c", "a"]
    assert ids(sort_runs(runs, ["user_id", "metrics.acc DESC"])) == ["a", "c", "b", "d"]


def test_same_start_time_ties_break_on_run_id() -> None:
    runs = [make_run(run_id, 7) for run_id in ("q", "e", "w")]
    assert ids(sort_runs(runs, None)) == ["e", "q", "w"]
    assert ids(sort_runs(runs, ["metrics.absent DESC"])) == ["e", "q", "w"]


# -- paging --------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 10, 11])
def test_paging_through_all_results(page_size: int) -> None:
    runs = [make_run(f"r{i:02d}", i, {"m": float(i % 4)}) for i in range(10)]
    expected = ids(sort_runs(runs, ["metrics.m DESC"]))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search_runs_in_memory(runs, None, ["metrics.m DESC"], page_size, token)
        assert len(page) <= page_size
        seen += ids(page)
        pages += 1
        token = page.token
        if token is None:
            break
    assert seen == expected
    assert pages == max(1, math.ceil(10 / page_size))


def test_search_filters_sorts_then_pages(runs: list[Run]) -> None:
    first = search_runs_in_memory(runs, "metrics.loss >= 0 OR tags.team = 'nlp'", ["start_time"], 2, None)
    assert ids(first) == ["a", "d"]  # c's loss is NaN
    assert decode_page_token(first.token) == 2
    second = search_runs_in_memory(
        runs, "metrics.loss >= 0 OR tags.team = 'nlp'", ["start_time"], 2, first.token
    )
    assert ids(second) == ["b"]
    assert second.token is None


def test_empty_result_has_no_token() -> None:
    page = search_runs_in_memory([], "metrics.a > 1", None, 5, None)
    assert list(page) == [] and page.token is None


def test_token_past_the_end_gives_an_empty_page(runs: list[Run]) -> None:
    page = search_runs_in_memory(runs, None, None, 2, encode_page_token(50))
    assert list(page) == [] and page.token is None


def test_page_token_format_is_mlflows() -> None:
    token = encode_page_token(1000)
    assert json.loads(base64.b64decode(token)) == {"offset": 1000}
    assert decode_page_token(token) == 1000
    assert decode_page_token(token.encode()) == 1000
    assert decode_page_token(base64.b64encode(b'{"offset": "12"}').decode()) == 12


@pytest.mark.parametrize("empty", [None, ""])
def test_no_token_means_the_first_page(empty: str | None) -> None:
    assert decode_page_token(empty) == 0


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not base64!", "not base64"),
        ("abc", "not base64"),
        (base64.b64encode(b"not json").decode(), "not JSON"),
        (base64.b64encode(b"\xff\xfe").decode(), "not JSON"),
        (base64.b64encode(b"[1, 2]").decode(), 'expected {"offset"'),
        (base64.b64encode(b'{"page": 3}').decode(), 'expected {"offset"'),
        (base64.b64encode(b'{"offset": -1}').decode(), 'expected {"offset"'),
        (base64.b64encode(b'{"offset": 1.5}').decode(), 'expected {"offset"'),
        (base64.b64encode(b'{"offset": true}').decode(), 'expected {"offset"'),
        (base64.b64encode(b'{"offset": "x"}').decode(), 'expected {"offset"'),
    ],
)
def test_malformed_tokens(runs: list[Run], token: str, reason: str) -> None:
    for call in (lambda: decode_page_token(token), lambda: search_runs_in_memory(runs, None, None, 5, token)):
        with pytest.raises(TrackletException) as info:
            call()
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Invalid page token" in str(info.value) and reason in str(info.value)


def test_encode_rejects_negative_offsets() -> None:
    with pytest.raises(ValueError):
        encode_page_token(-1)


@pytest.mark.parametrize("max_results", [0, -1, 50001, True, "10", 2.5])
def test_max_results_is_validated(runs: list[Run], max_results: object) -> None:
    with pytest.raises(TrackletException) as info:
        search_runs_in_memory(runs, None, None, max_results, None)  # type: ignore[arg-type]
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "max_results" in str(info.value)


def test_bad_order_by_fails_even_with_no_runs() -> None:
    with pytest.raises(TrackletException):
        search_runs_in_memory([], None, ["metrics.a SIDEWAYS"], 10, None)


# -- experiments ---------------------------------------------------------------------------


@pytest.fixture
def experiments() -> list[Experiment]:
    return [
        Experiment(
            "1", "Default", "file:///e/1", tags={"team": "ml"}, creation_time=100, last_update_time=150
        ),
        Experiment(
            "2", "vision-cnn", "file:///e/2", tags={"team": "vision"}, creation_time=300, last_update_time=300
        ),
        Experiment("10", "vision-rnn", "file:///e/10", creation_time=300, last_update_time=400),
        Experiment("3", "nlp", "file:///e/3", tags={"note": "x"}, creation_time=None, last_update_time=None),
    ]


def experiment_ids(experiments: list[Experiment]) -> list[str]:
    return [e.experiment_id for e in experiments]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'nlp'", ["3"]),
        ("attribute.name LIKE 'vision-%'", ["2", "10"]),
        ("attributes.name ILIKE 'VISION-C%'", ["2"]),
        ("name != 'Default'", ["2", "10", "3"]),
        ("experiment_id IN ('1', '3')", ["1", "3"]),
        ("experiment_id NOT IN ('1', '3')", ["2", "10"]),
        ("creation_time > 100", ["2", "10"]),
        ("creation_time <= 300 AND last_update_time >= 300", ["2", "10"]),
        ("tags.team = 'vision'", ["2"]),
        ("tags.team IS NULL", ["10", "3"]),
        ("tags.team IS NOT NULL", ["1", "2"]),
        ("tags.team = 'ml' OR tags.note = 'x'", ["1", "3"]),
    ],
)
def test_experiment_filters(experiments: list[Experiment], filter_string: str, expected: list[str]) -> None:
    assert experiment_ids(filter_experiments(experiments, filter_string)) == expected


def test_experiment_default_order(experiments: list[Experiment]) -> None:
    # creation_time DESC (None last), then experiment_id ASC compared as numbers
    assert experiment_ids(sort_experiments(experiments, None)) == ["2", "10", "1", "3"]


def test_experiment_order_by_adds_id_desc_tie_breaker(experiments: list[Experiment]) -> None:
    assert experiment_ids(sort_experiments(experiments, ["creation_time"])) == ["1", "10", "2", "3"]
    assert experiment_ids(sort_experiments(experiments, ["last_update_time DESC"])) == ["10", "2", "1", "3"]
    assert experiment_ids(sort_experiments(experiments, ["name DESC"])) == ["10", "2", "3", "1"]
    assert experiment_ids(sort_experiments(experiments, ["experiment_id"])) == ["1", "2", "3", "10"]
    assert experiment_ids(sort_experiments(experiments, ["experiment_id DESC"])) == ["10", "3", "2", "1"]


def test_experiment_paging(experiments: list[Experiment]) -> None:
    first = search_experiments_in_memory(experiments, "name != 'x'", None, 3, None)
    assert experiment_ids(first) == ["2", "10", "1"]
    second = search_experiments_in_memory(experiments, "name != 'x'", None, 3, first.token)
    assert experiment_ids(second) == ["3"] and second.token is None


def test_experiment_search_validates_everything(experiments: list[Experiment]) -> None:
    for call in (
        lambda: search_experiments_in_memory(experiments, "metrics.a > 1", None, 10, None),
        lambda: search_experiments_in_memory(experiments, None, ["tags.team"], 10, None),
        lambda: search_experiments_in_memory(experiments, None, None, 0, None),
        lambda: search_experiments_in_memory(experiments, None, None, 10, "bogus"),
    ):
        with pytest.raises(TrackletException) as info:
            call()
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
