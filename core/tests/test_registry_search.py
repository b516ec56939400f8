"""Registry search (tracklet.search) against MLflow 3.17.2's own in-memory search, imported
here: the same models match and come back in the same order, page tokens interchange,
and the refusals MLflow words are worded alike."""

from __future__ import annotations

import base64
import json
from typing import Any

import mlflow.entities as ml
import mlflow.entities.model_registry as ml_registry
import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import (
    SearchLoggedModelsPaginationToken,
    SearchLoggedModelsUtils,
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)

import tracklet.entities as tl
import tracklet.entities.model_registry as tl_registry
from tracklet import search
from tracklet.exceptions import TrackletException
from tracklet.search import ATTRIBUTE, METRIC, TAG, And, Comparison, LoggedModelOrderKey, Or, OrderKey

# name, creation, updated, tags
_MODELS = [
    ("alpha", 5, 50, {"team": "vision", "tier": "gold"}),
    ("beta", 3, 70, {"team": "nlp"}),
    ("gamma-Big", 9, 10, {}),
    ("delta", 1, 90, {"team": "vision"}),
    ("epsilon", 7, 70, {"tier": "silver"}),
]
# name, version, run_id, source, updated, tags
_VERSIONS = [
    ("alpha", "1", "r1", "s3://b/alpha/1", 40, {"fw": "torch"}),
    ("alpha", "2", "r2", "s3://b/alpha/2", 80, {}),
    ("alpha", "10", "r2", "s3://b/alpha/10", 80, {"fw": "jax"}),
    ("beta", "1", "r3", "s3://b/beta/1", 20, {"fw": "torch"}),
    ("gamma-Big", "1", "r1", "file:///g/1", 60, {}),
    ("gamma-Big", "2", "r4", "file:///g/2", 30, {"fw": "torch", "x": "y"}),
]


def _models(module: Any) -> list[Any]:
    return [
        module.RegisteredModel(n, c, u, tags=[module.RegisteredModelTag(k, v) for k, v in t.items()])
        for n, c, u, t in _MODELS
    ]


def _versions(module: Any) -> list[Any]:
    """The versions as ``module``'s entities; MLflow's file store hands its search int
    version numbers, so the MLflow side gets ints (tracklet's entities hold strings)."""
    as_int = module is ml_registry
    return [
        module.ModelVersion(
            n,
            int(v) if as_int else v,
            int(v),
            u,
            source=s,
            run_id=r,
            tags=[module.ModelVersionTag(k, val) for k, val in t.items()],
        )
        for n, v, r, s, u, t in _VERSIONS
    ]


_MODEL_FILTERS = [
    "",
    "name = 'alpha'",
    "name != 'alpha'",
    "name LIKE 'a%'",
    "name LIKE '%big'",
    "name ILIKE '%BIG'",
    "name IN ('beta', 'delta')",
    "name NOT IN ('beta', 'delta')",
    "tags.team = 'vision'",
    "tags.team != 'vision'",
    "tags.tier LIKE 'g%'",
    "tags.team = 'vision' AND tags.tier = 'gold'",
    "tags.`team` ILIKE 'NLP'",
    "name = 'nope'",
]


@pytest.mark.parametrize("filter_string", _MODEL_FILTERS)
def test_registered_model_filters_match_mlflows(filter_string: str) -> None:
    ours = search.filter_registered_models(_models(tl_registry), filter_string, max_results=1000)
    theirs = SearchModelUtils.sort(SearchModelUtils.filter(_models(ml_registry), filter_string), [])
    assert [m.name for m in ours] == [m.name for m in theirs]


_ORDERS = [
    [],
    ["name DESC"],
    ["creation_timestamp"],
    ["creation_timestamp DESC"],
    ["last_updated_timestamp DESC"],
    ["last_updated_timestamp ASC", "name DESC"],
]


@pytest.mark.parametrize("order_by", _ORDERS, ids=str)
def test_registered_model_order_matches_mlflows(order_by: list[str]) -> None:
    ours = search.filter_registered_models(_models(tl_registry), None, order_by, 1000)
    theirs = SearchModelUtils.sort(_models(ml_registry), order_by)
    assert [m.name for m in ours] == [m.name for m in theirs]


_VERSION_FILTERS = [
    "",
    "name = 'alpha'",
    "name LIKE 'gamma%'",
    "run_id = 'r2'",
    "run_id IN ('r1', 'r4')",
    "run_id NOT IN ('r1')",
    "version_number = 2",
    "version_number >= 2",
    "version_number < 10 AND name = 'alpha'",
    "version_number = '10'",
    "source_path = 's3://b/alpha/1'",
    "source_path LIKE 'file://%'",
    "tags.fw = 'torch'",
    "tags.fw != 'torch'",
    "tags.fw LIKE 'j%' AND run_id = 'r2'",
]


@pytest.mark.parametrize("filter_string", _VERSION_FILTERS)
def test_model_version_filters_match_mlflows(filter_string: str) -> None:
    ours = search.filter_model_versions(_versions(tl_registry), filter_string)
    theirs = SearchModelVersionUtils.filter(_versions(ml_registry), filter_string)
    assert {(v.name, v.version) for v in ours} == {(v.name, str(v.version)) for v in theirs}


@pytest.mark.parametrize(
    "order_by",
    [[], ["version_number ASC"], ["last_updated_timestamp DESC"], ["name DESC", "version_number ASC"]],
    ids=str,
)
def test_model_version_order_matches_mlflows(order_by: list[str]) -> None:
    ours = search.filter_model_versions(_versions(tl_registry), None, order_by)
    # MLflow's file and SQL stores pass this order when the caller gives none
    default = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
    theirs = SearchModelVersionUtils.sort(_versions(ml_registry), order_by or default)
    assert [(v.name, v.version) for v in ours] == [(v.name, str(v.version)) for v in theirs]


def test_or_and_parentheses_are_kept_for_the_registry() -> None:
    found = search.filter_model_versions(
        _versions(tl_registry), "(name = 'beta' OR tags.x = 'y') AND run_id != 'r1'"
    )
    assert {(v.name, v.version) for v in found} == {("beta", "1"), ("gamma-Big", "2")}
    models = search.filter_registered_models(_models(tl_registry), "tags.tier = 'gold' OR name LIKE 'e%'")
    assert [m.name for m in models] == ["alpha", "epsilon"]


def test_the_ast_a_compiler_sees() -> None:
    assert search.parse_registered_model_filter("name LIKE 'a%' OR tags.t = 'x'") == Or(
        (Comparison(ATTRIBUTE, "name", "LIKE", "a%"), Comparison(TAG, "t", "=", "x"))
    )
    assert search.parse_model_version_filter("version_number > '3' AND source_path = 's'") == And(
        (Comparison(ATTRIBUTE, "version_number", ">", 3), Comparison(ATTRIBUTE, "source_path", "=", "s"))
    )
    assert search.parse_logged_model_filter("metrics.acc > 1 AND creation_time > 5") == And(
        (Comparison(METRIC, "acc", ">", 1.0), Comparison(ATTRIBUTE, "creation_timestamp", ">", 5))
    )
    assert search.registered_model_sort_keys(["last_updated_timestamp DESC"]) == [
        OrderKey(ATTRIBUTE, "last_updated_timestamp", False),
        OrderKey(ATTRIBUTE, "name", True),
    ]
    assert search.model_version_sort_keys(None) == [
        OrderKey(ATTRIBUTE, "last_updated_timestamp", False),
        OrderKey(ATTRIBUTE, "name", True),
        OrderKey(ATTRIBUTE, "version_number", False),
    ]
    assert search.logged_model_sort_keys([{"field_name": "metrics.acc", "dataset_name": "d"}]) == [
        LoggedModelOrderKey(METRIC, "acc", True, "d", None),
        LoggedModelOrderKey(ATTRIBUTE, "creation_timestamp", False),
        LoggedModelOrderKey(ATTRIBUTE, "model_id", True),
    ]


@pytest.mark.parametrize(
    ("kind", "filter_string"),
    [
        ("registered_model", "run_id = 'x'"),
        ("registered_model", "metrics.a > 1"),
        ("registered_model", "creation_timestamp > 1"),
        ("model_version", "creation_timestamp > 1"),
        ("model_version", "version_number = 'abc'"),
        ("model_version", "name = 'a' AND"),
        ("logged_model", "datasets.name = 'x'"),
        ("logged_model", "run_id = 'x'"),
    ],
)
def test_bad_filters_are_refused(kind: str, filter_string: str) -> None:
    parse = getattr(search, f"parse_{kind}_filter")
    with pytest.raises(TrackletException) as excinfo:
        parse(filter_string)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


def test_duplicate_order_fields_are_refused_in_mlflows_words() -> None:
    with pytest.raises(TrackletException) as excinfo:
        search.parse_model_version_order_by(["name", "name DESC"])
    assert excinfo.value.message == "`order_by` contains duplicate fields: ['name', 'name DESC']"
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException):
        search.parse_registered_model_order_by(["version_number"])


def test_deleted_and_prompt_versions_are_left_out() -> None:
    versions = _versions(tl_registry)
    versions.append(tl_registry.ModelVersion("alpha", "3", 3, current_stage="Deleted_Internal"))
    prompt = tl_registry.ModelVersionTag("mlflow.prompt.is_prompt", "true")
    versions.append(tl_registry.ModelVersion("p", "1", 1, tags=[prompt]))
    found = {(v.name, v.version) for v in search.filter_model_versions(versions)}
    assert ("alpha", "3") not in found and ("p", "1") not in found and len(found) == len(_VERSIONS)
    prompt_model = tl_registry.RegisteredModel(
        "p", tags=[tl_registry.RegisteredModelTag("mlflow.prompt.is_prompt", "true")]
    )
    assert "p" not in [m.name for m in search.filter_registered_models([*_models(tl_registry), prompt_model])]


def test_pages_use_mlflows_tokens() -> None:
    first = search.filter_registered_models(_models(tl_registry), None, None, 2)
    assert [m.name for m in first] == ["alpha", "beta"]
    assert SearchUtils.parse_start_offset_from_page_token(first.token) == 2
    mlflow_token = SearchUtils.create_page_token(4)
    last = search.filter_registered_models(_models(tl_registry), None, None, 2, mlflow_token)
    assert [m.name for m in last] == ["gamma-Big"] and last.token is None
    with pytest.raises(TrackletException) as excinfo:
        search.filter_model_versions(_versions(tl_registry), page_token="%%%")
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(("max_results", "limit"), [(0, 1000), (1001, 1000), (-3, 1000), (True, 1000)])
def test_max_results_for_models(max_results: Any, limit: int) -> None:
    with pytest.raises(TrackletException) as excinfo:
        search.filter_registered_models(_models(tl_registry), max_results=max_results)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"


# -- logged models ----------------------------------------------------------------------------


def _logged(module: Any) -> list[Any]:
    rows = [
        (
            "m-1",
            "alpha",
            10,
            "clf",
            2,
            {"team": "a"},
            {"lr": "0.1"},
            [("acc", 0.9, 1, "ds", "d1"), ("acc", 0.5, 2, "other", "d2")],
        ),
        ("m-2", "beta", 30, "reg", 1, {}, {"lr": "0.01"}, [("acc", 0.7, 1, "ds", "d1")]),
        ("m-3", "gamma", 20, "clf", 2, {"team": "b"}, {}, []),
        ("m-4", "delta", 20, None, 3, {"team": "a"}, {"lr": "0.1"}, [("loss", 0.2, 1, None, None)]),
    ]
    out = []
    for model_id, name, created, model_type, status, tags, params, metrics in rows:
        out.append(
            module.LoggedModel(
                "1",
                model_id,
                name,
                f"file:///a/{model_id}",
                created,
                created + 1,
                model_type,
                None,
                status,
                tags=tags,
                params=params,
                metrics=[
                    module.Metric(k, v, t, 0, dataset_name=dn, dataset_digest=dd)
                    for k, v, t, dn, dd in metrics
                ],
            )
        )
    return out


_LOGGED_FILTERS = [
    None,
    "name = 'alpha'",
    "model_type = 'clf'",
    "status = 'READY'",
    "tags.team = 'a'",
    "params.lr = '0.1'",
    "params.lr LIKE '0.0%'",
    "metrics.acc > 0.6",
    "metrics.loss < 1",
    "creation_timestamp >= 20",
    "creation_timestamp > 10 AND tags.team != 'b'",
    "last_updated_timestamp = 11",
]


@pytest.mark.parametrize("filter_string", _LOGGED_FILTERS)
@pytest.mark.parametrize(
    "datasets", [None, [{"dataset_name": "ds"}], [{"dataset_name": "other", "dataset_digest": "d2"}]]
)
def test_logged_model_filters_match_mlflows(filter_string: str | None, datasets: Any) -> None:
    ours = search.filter_logged_models(_logged(tl), filter_string, datasets)
    theirs = SearchLoggedModelsUtils.sort(
        SearchLoggedModelsUtils.filter_logged_models(_logged(ml), filter_string, datasets), None
    )
    assert [m.model_id for m in ours] == [m.model_id for m in theirs]


@pytest.mark.parametrize(
    "order_by",
    [
        None,
        [{"field_name": "name"}],
        [{"field_name": "creation_timestamp", "ascending": True}],
        [{"field_name": "metrics.acc", "ascending": False}],
        [{"field_name": "metrics.acc", "ascending": True}],
        [{"field_name": "metrics.acc", "dataset_name": "ds"}],
        [{"field_name": "model_id", "ascending": False}],
    ],
    ids=str,
)
def test_logged_model_order_matches_mlflows(order_by: Any) -> None:
    ours = search.filter_logged_models(_logged(tl), order_by=order_by)
    theirs = SearchLoggedModelsUtils.sort(_logged(ml), order_by)
    assert [m.model_id for m in ours] == [m.model_id for m in theirs]


@pytest.mark.parametrize(
    "order_by",
    [
        [{"field_name": "params.lr"}],
        [{"field_name": "bogus"}],
        [{"ascending": False}],
        [{"field_name": "name", "ascending": "yes"}],
        [{"field_name": "metrics.a", "dataset_digest": "x"}],
        ["name"],
    ],
    ids=str,
)
def test_logged_model_order_refusals_are_worded_as_mlflow(order_by: Any) -> None:
    with pytest.raises(MlflowException) as theirs:
        SearchLoggedModelsUtils.sort(_logged(ml), order_by)
    with pytest.raises(TrackletException) as ours:
        search.parse_logged_model_order_by(order_by)
    assert ours.value.message == theirs.value.message
    assert ours.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logged_model_tokens_are_mlflows() -> None:
    order = [{"field_name": "name"}]
    first = search.filter_logged_models(
        _logged(tl), "tags.team = 'a' OR name = 'beta'", None, order, 2, None, ["1"]
    )
    assert [m.name for m in first] == ["alpha", "beta"]
    assert first.token is not None
    decoded = SearchLoggedModelsPaginationToken.decode(first.token)
    assert decoded.offset == 2 and decoded.experiment_ids == ["1"] and decoded.order_by == order
    rest = search.filter_logged_models(
        _logged(tl), "tags.team = 'a' OR name = 'beta'", None, order, 2, first.token, ["1"]
    )
    assert [m.name for m in rest] == ["delta"] and rest.token is None
    mlflow_token = SearchLoggedModelsPaginationToken(["1"], None, None, 3).encode()
    assert [
        m.model_id
        for m in search.filter_logged_models(_logged(tl), page_token=mlflow_token, experiment_ids=["1"])
    ] == ["m-1"]
    with pytest.raises(TrackletException) as excinfo:
        search.filter_logged_models(_logged(tl), "name = 'x'", None, order, 2, first.token, ["1"])
    assert excinfo.value.message.startswith("Filter string in the page token does not match")
    other = base64.b64encode(json.dumps({"experiment_ids": ["9"], "offset": 1}).encode()).decode()
    with pytest.raises(TrackletException):
        search.filter_logged_models(_logged(tl), page_token=other, experiment_ids=["1"])
