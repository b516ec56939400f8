"""Differential test: tracklet's in-memory search against MLflow's own SearchUtils.

The same runs (and experiments) are built twice, as tracklet entities and as MLflow
entities; every filter and order-by that MLflow supports must select and order the
same ids. Skipped when mlflow is not importable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from tracklet import entities as tl
from tracklet.search import (
    decode_page_token,
    encode_page_token,
    filter_experiments,
    filter_runs,
    sort_experiments,
    sort_runs,
)


@pytest.fixture(scope="module")
def mlflow_search() -> ModuleType:
    import mlflow.utils.search_utils

    return mlflow.utils.search_utils


@pytest.fixture(scope="module")
def mlflow_entities() -> ModuleType:
    import mlflow.entities

    return mlflow.entities


@dataclass
class RunSpec:
    """One run, described once and built as either library's entity."""

    run_id: str
    start_time: int
    info: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[tuple[str, str, str]] = field(default_factory=list)


def _maybe(rng: random.Random, value: Any, chance: float = 0.75) -> Any:
    return value if rng.random() < chance else None


def _pick(rng: random.Random, choices: dict[str, list[Any]], chance: float = 0.75) -> dict[str, Any]:
    """For each key, maybe one of its values."""
    picked = {key: _maybe(rng, rng.choice(values), chance) for key, values in choices.items()}
    return {key: value for key, value in picked.items() if value is not None}


def _run_spec(rng: random.Random) -> RunSpec:
    spec = RunSpec(
        run_id="".join(rng.choices("0123456789abcdef", k=32)),
        start_time=rng.choice([100, 200, 200, 300, 400, 400, 500]),
        info={
            "status": rng.choice(["RUNNING", "FINISHED", "FAILED", "KILLED"]),
            "user_id": rng.choice(["ann", "bob", "Bob", "cy"]),
            "run_name": _maybe(rng, rng.choice(["alpha", "beta", "Beta-2", "gamma_x", "delta"])),
            "end_time": _maybe(rng, rng.choice([600, 700, 800])),
            "artifact_uri": rng.choice(["s3://bucket/a", "file:///tmp/x", "gs://g/y"]),
        },
    )
    spec.metrics = _pick(
        rng,
        {
            "m1": [0.0, 0.5, 1.0, 1.0, -2.5, math.nan],
            "m2": [1e-3, 3.0, 7.0, 7.0],
            "my metric": [1.0, 2.0],
        },
    )
    spec.params = _pick(rng, {"p1": ["a", "b", "B", "a_b", "abc"], "p2": ["1", "10", "2"]})
    spec.tags = _pick(rng, {"t1": ["x", "X", "yes", "50%"], "mlflow.note": ["n1", "n2"], "a b": ["v"]}, 0.6)
    for _ in range(rng.choice([0, 0, 1, 2])):
        spec.datasets.append(
            (
                rng.choice(["train", "eval"]),
                rng.choice(["d1", "d2", "d3"]),
                rng.choice(["training", "validation"]),
            )
        )
    return spec


@pytest.fixture(scope="module")
def specs() -> list[RunSpec]:
    rng = random.Random(20240601)
    return [_run_spec(rng) for _ in range(120)]


def _tracklet_run(spec: RunSpec) -> tl.Run:
    return tl.Run(
        tl.RunInfo(run_id=spec.run_id, experiment_id="1", start_time=spec.start_time, **spec.info),
        tl.RunData(
            [tl.Metric(k, v, 0, 0) for k, v in spec.metrics.items()],
            [tl.Param(k, v) for k, v in spec.params.items()],
            [tl.RunTag(k, v) for k, v in spec.tags.items()],
        ),
        tl.RunInputs(
            [
                tl.DatasetInput(
                    tl.Dataset(name, digest, "local", "{}"), [tl.InputTag("mlflow.data.context", ctx)]
                )
                for name, digest, ctx in spec.datasets
            ]
        ),
    )


def _mlflow_run(spec: RunSpec, me: ModuleType) -> Any:
    return me.Run(
        me.RunInfo(
            run_id=spec.run_id,
            experiment_id="1",
            lifecycle_stage="active",
            start_time=spec.start_time,
            **spec.info,
        ),
        me.RunData(
            metrics=[me.Metric(k, v, 0, 0) for k, v in spec.metrics.items()],
            params=[me.Param(k, v) for k, v in spec.params.items()],
            tags=[me.RunTag(k, v) for k, v in spec.tags.items()],
        ),
        me.RunInputs(
            dataset_inputs=[
                me.DatasetInput(
                    me.Dataset(name, digest, "local", "{}"), [me.InputTag("mlflow.data.context", ctx)]
                )
                for name, digest, ctx in spec.datasets
            ]
        ),
    )


RUN_FILTERS = [
    "metrics.m1 = 1",
    "metrics.m1 != 1.0",
    "metrics.m1 < 0.5",
    "metrics.m1 <= 0.5",
    "metrics.m1 > -1",
    "metrics.m1 >= -2.5e0",
    "metrics.`my metric` = 2",
    'metrics."my metric" > 1',
    "metric.m2 > .5 and metrics.m1 >= 0",
    "params.p1 = 'a'",
    'params.p1 != "a"',
    "params.p1 LIKE 'a%'",
    "params.p1 LIKE 'a_b'",
    "params.p1 like '%b'",
    "params.p1 ILIKE 'b'",
    "params.p1 IS NULL",
    "params.p2 IS NOT NULL AND params.p1 IS NULL",
    "param.p2 = '10'",
    "parameters.p2 LIKE '1%'",
    "tags.t1 = 'x'",
    "tags.t1 ILIKE 'X'",
    "tags.t1 LIKE '50%'",
    "tags.t1 != 'yes'",
    "tags.`a b` = 'v'",
    "tags.mlflow.note = 'n1'",
    "tag.t1 IS NULL",
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "attribute.user_id ILIKE 'bob'",
    "run.user_id LIKE 'b%'",
    "run_name = 'beta'",
    "run_name ILIKE '%A%'",
    "`run name` LIKE '%_x'",
    "artifact_uri LIKE 's3://%'",
    "start_time >= 300",
    "created < 300",
    "end_time > 650",
    "end_time = 700 AND status = 'FINISHED'",
    "datasets.name = 'train'",
    "datasets.name != 'train'",
    "datasets.digest IN ('d1', 'd3')",
    "datasets.digest NOT IN ('d1')",
    "datasets.context = 'validation' AND datasets.name = 'eval'",
    "dataset.context LIKE 'train%'",
    "metrics.m1 > 0 AND params.p1 != 'b' AND tags.t1 IS NOT NULL AND start_time > 100",
]


@pytest.mark.parametrize("filter_string", RUN_FILTERS)
def test_filters_select_the_same_runs(
    filter_string: str, specs: list[RunSpec], mlflow_search: ModuleType, mlflow_entities: ModuleType
) -> None:
    expected = [
        r.info.run_id
        for r in mlflow_search.SearchUtils.filter(
            [_mlflow_run(s, mlflow_entities) for s in specs], filter_string
        )
    ]
    got = [r.info.run_id for r in filter_runs([_tracklet_run(s) for s in specs], filter_string)]
    assert got == expected


def test_run_id_in_list(specs: list[RunSpec], mlflow_search: ModuleType, mlflow_entities: ModuleType) -> None:
    chosen = ", ".join(f"'{s.run_id}'" for s in specs[::7])
    for filter_string in (f"run_id IN ({chosen})", f"attributes.run_id NOT IN ({chosen})"):
        expected = [
            r.info.run_id
            for r in mlflow_search.SearchUtils.filter(
                [_mlflow_run(s, mlflow_entities) for s in specs], filter_string
            )
        ]
        assert [
            r.info.run_id for r in filter_runs([_tracklet_run(s) for s in specs], filter_string)
        ] == expected
        assert expected


RUN_ORDER_BYS: list[list[str] | None] = [
    None,
    [],
    ["metrics.m1"],
    ["metrics.m1 DESC"],
    ["metrics.m2 ASC", "metrics.m1 DESC"],
    ["metrics.`my metric` desc"],
    ["params.p1"],
    ["params.p1 DESC", "params.p2"],
    ["tags.t1 DESC"],
    ["tags.`a b`"],
    ["attributes.start_time ASC"],
    ["start_time DESC"],
    ["created"],
    ["end_time DESC"],
    ["run_name"],
    ["attribute.run_name DESC", "metrics.m2"],
    ["status", "user_id DESC", "metrics.m1"],
    ["artifact_uri", "params.p2 DESC"],
    ["run_id DESC"],
]


@pytest.mark.parametrize("order_by", RUN_ORDER_BYS)
def test_order_bys_give_the_same_order(
    order_by: list[str] | None, specs: list[RunSpec], mlflow_search: ModuleType, mlflow_entities: ModuleType
) -> None:
    expected = [
        r.info.run_id
        for r in mlflow_search.SearchUtils.sort([_mlflow_run(s, mlflow_entities) for s in specs], order_by)
    ]
    assert [r.info.run_id for r in sort_runs([_tracklet_run(s) for s in specs], order_by)] == expected


def test_page_tokens_are_interchangeable(mlflow_search: ModuleType) -> None:
    utils = mlflow_search.SearchUtils
    for offset in (1, 17, 1000, 123456):
        assert decode_page_token(utils.create_page_token(offset)) == offset
        assert decode_page_token(utils.create_page_token(offset).decode()) == offset
        assert utils.parse_start_offset_from_page_token(encode_page_token(offset)) == offset


# -- experiments -----------------------------------------------------------------------------


def _experiment_specs() -> list[dict[str, Any]]:
    rng = random.Random(7)
    specs = []
    for number in range(101, 141):  # same-length ids: MLflow compares them as strings
        tags = {"team": rng.choice(["ml", "ML", "vision"])} if rng.random() < 0.6 else {}
        specs.append(
            {
                "experiment_id": str(number),
                "name": rng.choice(["exp", "Exp", "vision"]) + f"-{number % 7}",
                "artifact_location": f"file:///e/{number}",
                "tags": tags,
                "creation_time": rng.choice([10, 20, 20, 30]),
                "last_update_time": rng.choice([40, 50]),
            }
        )
    return specs


EXPERIMENT_FILTERS = [
    "name = 'exp-3'",
    "name != 'exp-3'",
    "name LIKE 'exp%'",
    "attribute.name ILIKE 'EXP-%'",
    "creation_time > 10",
    "creation_time <= 20 AND last_update_time = 50",
    "experiment_id = '105'",
    "experiment_id IN ('101', '120', '999')",
    "experiment_id NOT IN ('101', '120')",
    "tags.team = 'ml'",
    "tags.team ILIKE 'ml'",
    "tag.team != 'vision'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL AND name LIKE 'vision%'",
]

EXPERIMENT_ORDER_BYS = [
    ["name"],
    ["name DESC"],
    ["creation_time"],
    ["creation_time DESC", "name"],
    ["last_update_time DESC", "creation_time ASC"],
    ["experiment_id DESC"],
    ["attribute.name", "experiment_id"],
]


@pytest.mark.parametrize("filter_string", EXPERIMENT_FILTERS)
def test_experiment_filters_match(
    filter_string: str, mlflow_search: ModuleType, mlflow_entities: ModuleType
) -> None:
    specs = _experiment_specs()
    ours = [tl.Experiment(**s) for s in specs]
    theirs = [
        mlflow_entities.Experiment(
            **{
                **s,
                "lifecycle_stage": "active",
                "tags": [mlflow_entities.ExperimentTag(k, v) for k, v in s["tags"].items()],
            }
        )
        for s in specs
    ]
    expected = [e.experiment_id for e in mlflow_search.SearchExperimentsUtils.filter(theirs, filter_string)]
    assert [e.experiment_id for e in filter_experiments(ours, filter_string)] == expected


@pytest.mark.parametrize("order_by", [None, *EXPERIMENT_ORDER_BYS])
def test_experiment_orders_match(
    order_by: list[str] | None, mlflow_search: ModuleType, mlflow_entities: ModuleType
) -> None:
    specs = _experiment_specs()
    ours = [tl.Experiment(**s) for s in specs]
    theirs = [mlflow_entities.Experiment(**{**s, "lifecycle_stage": "active", "tags": []}) for s in specs]
    # MLflow's stores pass this default when the caller gives no order_by
    mlflow_order = order_by or ["creation_time DESC", "experiment_id ASC"]
    expected = [e.experiment_id for e in mlflow_search.SearchExperimentsUtils.sort(theirs, mlflow_order)]
    assert [e.experiment_id for e in sort_experiments(ours, order_by)] == expected
