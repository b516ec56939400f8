"""Conformance tests for search_runs and search_experiments: MLflow's filter grammar
(metrics., params., tags., attributes.), tracklet's OR and parentheses, order-by,
view types and paging with page tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tracklet.entities import Metric, Param, RunTag, ViewType
from tracklet.stores import TrackingStore
from tracklet.testing._support import T0, UNKNOWN_EXPERIMENT_ID, pages, raises_code

# name: (start offset, user, status, metrics, params, tags). "gamma" logged acc=0.99 at
# step 0 and 0.5 at step 1: filters see only the latest value.
_RUNS: dict[str, tuple[int, str, str, dict[str, float], dict[str, str], dict[str, str]]] = {
    "alpha": (
        1,
        "alice",
        "FINISHED",
        {"acc": 0.9, "loss": 0.3},
        {"model": "cnn", "lr": "0.1"},
        {"team": "vision", "data set": "v2-big"},
    ),
    "beta": (2, "bob", "RUNNING", {"acc": 0.7, "loss": 0.5}, {"model": "rnn", "lr": "0.01"}, {"team": "nlp"}),
    "gamma": (3, "alice", "FAILED", {"acc": 0.5}, {"model": "cnn"}, {"team": "vision", "baseline": "true"}),
    "delta-test": (4, "bob", "FINISHED", {}, {"model": "transformer"}, {}),
}

_FILTERS: list[tuple[str, set[str]]] = [
    ("", {"alpha", "beta", "gamma", "delta-test"}),
    ("metrics.acc > 0.6", {"alpha", "beta"}),
    ("metrics.acc >= 0.7", {"alpha", "beta"}),
    ("metrics.acc < 0.6", {"gamma"}),
    ("metrics.acc <= 0.5", {"gamma"}),
    ("metrics.acc = 0.9", {"alpha"}),
    ("metrics.acc != 0.9", {"beta", "gamma"}),
    ("metrics.acc > 0.95", set()),
    ("metric.loss < 0.4", {"alpha"}),
    ("params.model = 'cnn'", {"alpha", "gamma"}),
    ('params.model = "rnn"', {"beta"}),
    ("params.model != 'cnn'", {"beta", "delta-test"}),
    ("params.model LIKE 'c%'", {"alpha", "gamma"}),
    ("params.model LIKE '%n'", {"alpha", "beta", "gamma"}),
    ("params.model ILIKE 'CNN'", {"alpha", "gamma"}),
    ("params.lr = '0.1'", {"alpha"}),
    ("param.lr IS NULL", {"gamma", "delta-test"}),
    ("tags.team = 'vision'", {"alpha", "gamma"}),
    ("tags.team ILIKE 'VISION'", {"alpha", "gamma"}),
    ("tags.`data set` LIKE 'v2%'", {"alpha"}),
    ("tags.team IS NULL", {"delta-test"}),
    ("tags.team IS NOT NULL", {"alpha", "beta", "gamma"}),
    ("tags.mlflow.runName = 'beta'", {"beta"}),
    ("attributes.status = 'FINISHED'", {"alpha", "delta-test"}),
    ("status != 'FINISHED'", {"beta", "gamma"}),
    ("attributes.run_name = 'gamma'", {"gamma"}),
    ("run_name LIKE '%ta%'", {"beta", "delta-test"}),
    ("attributes.user_id = 'alice'", {"alpha", "gamma"}),
    (f"attributes.start_time > {T0 + 2}", {"gamma", "delta-test"}),
    (f"attributes.start_time <= {T0 + 1}", {"alpha"}),
    (f"attributes.end_time = {T0 + 100}", {"alpha", "gamma", "delta-test"}),
    ("params.model = 'cnn' AND metrics.acc > 0.6", {"alpha"}),
    ("params.model = 'cnn' and tags.team = 'vision' and status = 'FAILED'", {"gamma"}),
    ("params.model = 'rnn' OR tags.baseline = 'true'", {"beta", "gamma"}),
    ("(params.model = 'cnn' OR params.model = 'rnn') AND metrics.acc >= 0.7", {"alpha", "beta"}),
    ("params.model = 'rnn' OR params.model = 'cnn' AND metrics.acc > 0.8", {"alpha", "beta"}),
    ("(tags.team = 'nlp' OR (params.model = 'transformer' AND status = 'FINISHED'))", {"beta", "delta-test"}),
]

_ORDERS: list[tuple[list[str], list[str]]] = [
    ([], ["delta-test", "gamma", "beta", "alpha"]),
    (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta-test"]),
    (["start_time DESC"], ["delta-test", "gamma", "beta", "alpha"]),
    (["metrics.acc ASC"], ["gamma", "beta", "alpha", "delta-test"]),
    (["metrics.acc DESC"], ["alpha", "beta", "gamma", "delta-test"]),
    (["metrics.acc"], ["gamma", "beta", "alpha", "delta-test"]),
    (["params.model ASC"], ["gamma", "alpha", "beta", "delta-test"]),
    (["tags.team ASC"], ["beta", "gamma", "alpha", "delta-test"]),
    (["tags.team DESC", "attributes.run_name ASC"], ["alpha", "gamma", "beta", "delta-test"]),
    (["attributes.run_name DESC"], ["gamma", "delta-test", "beta", "alpha"]),
]

_BAD_RUN_SEARCHES: list[dict[str, Any]] = [
    {"filter_string": "metrics.acc >> 1"},
    {"filter_string": "params.model < 'x'"},
    {"filter_string": "params.model = cnn"},
    {"filter_string": "nonsense.key = 'x'"},
    {"filter_string": "metrics.acc > 0.5 AND"},
    {"filter_string": "(metrics.acc > 0.5"},
    {"order_by": ["metrics.acc SIDEWAYS"]},
    {"order_by": ["nonsense.key"]},
    {"page_token": "not a page token"},
    {"max_results": 0},
    {"max_results": -1},
    {"max_results": 50001},
]


class RunSearchTests:
    """search_runs over a small fixed set of runs."""

    @pytest.fixture
    def searchable(self, store: TrackingStore) -> dict[str, str]:
        """The runs of :data:`_RUNS` in a new experiment, plus an ``"experiment"`` entry, a
        deleted run (``"deleted"``) and a run in another experiment (``"elsewhere"``)."""
        experiment_id = store.create_experiment("search-runs")
        ids = {"experiment": experiment_id}
        for name, (offset, user, status, metrics, params, tags) in _RUNS.items():
            run_id = store.create_run(experiment_id, user, T0 + offset, [], name).info.run_id
            history = [Metric("acc", 0.99, T0, 0)] if name == "gamma" else []
            store.log_batch(
                run_id,
                history + [Metric(k, v, T0 + 10, 1) for k, v in metrics.items()],
                [Param(k, v) for k, v in params.items()],
                [RunTag(k, v) for k, v in tags.items()],
            )
            if status != "RUNNING":
                store.update_run_info(run_id, status, T0 + 100, None)
            ids[name] = run_id
        ids["deleted"] = store.create_run(experiment_id, "carol", T0 + 5, [], "deleted").info.run_id
        store.delete_run(ids["deleted"])
        other = store.create_experiment("search-runs-elsewhere")
        ids["elsewhere"] = store.create_run(other, "dave", T0 + 6, [], "elsewhere").info.run_id
        ids["other_experiment"] = other
        return ids

    @pytest.mark.parametrize(
        ("filter_string", "expected"), _FILTERS, ids=[f or "no-filter" for f, _ in _FILTERS]
    )
    def test_filter(
        self, store: TrackingStore, searchable: dict[str, str], filter_string: str, expected: set[str]
    ) -> None:
        found = store.search_runs([searchable["experiment"]], filter_string, ViewType.ACTIVE_ONLY)
        assert {r.info.run_name for r in found} == expected

    def test_filter_on_run_id(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        wanted = (searchable["alpha"], searchable["gamma"])
        found = store.search_runs([searchable["experiment"]], f"attributes.run_id IN {wanted!r}")
        assert {r.info.run_id for r in found} == set(wanted)
        found = store.search_runs([searchable["experiment"]], f"attributes.run_id = '{searchable['beta']}'")
        assert [r.info.run_id for r in found] == [searchable["beta"]]

    def test_results_carry_the_whole_run(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        (run,) = store.search_runs([searchable["experiment"]], "attributes.run_name = 'alpha'")
        assert run.data.metrics == {"acc": 0.9, "loss": 0.3}
        assert run.data.params == {"model": "cnn", "lr": "0.1"}
        assert run.data.tags["team"] == "vision"
        assert run.info.status == "FINISHED" and run.info.end_time == T0 + 100

    @pytest.mark.parametrize(
        ("order_by", "expected"), _ORDERS, ids=[" ".join(o) or "default" for o, _ in _ORDERS]
    )
    def test_order_by(
        self, store: TrackingStore, searchable: dict[str, str], order_by: list[str], expected: list[str]
    ) -> None:
        found = store.search_runs([searchable["experiment"]], "", ViewType.ACTIVE_ONLY, 100, order_by or None)
        assert [r.info.run_name for r in found] == expected

    @pytest.mark.parametrize("page_size", [1, 2, 3, 4, 5])
    def test_paging(self, store: TrackingStore, searchable: dict[str, str], page_size: int) -> None:
        pages = _pages(store, [searchable["experiment"]], page_size, ["metrics.acc DESC"])
        assert all(0 < len(page) <= page_size for page in pages)
        assert [name for page in pages for name in page] == ["alpha", "beta", "gamma", "delta-test"]

    def test_paging_with_a_filter(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        pages = _pages(
            store, [searchable["experiment"]], 1, None, "params.model = 'cnn' OR tags.team = 'nlp'"
        )
        assert pages == [["gamma"], ["beta"], ["alpha"]]

    def test_view_types(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        experiment = [searchable["experiment"]]
        active = {r.info.run_name for r in store.search_runs(experiment, "", ViewType.ACTIVE_ONLY)}
        deleted = {r.info.run_name for r in store.search_runs(experiment, "", ViewType.DELETED_ONLY)}
        every = {r.info.run_name for r in store.search_runs(experiment, "", ViewType.ALL)}
        assert active == set(_RUNS) and deleted == {"deleted"} and every == set(_RUNS) | {"deleted"}

    def test_several_experiments(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        both = [searchable["experiment"], searchable["other_experiment"]]
        found = store.search_runs(both, "attributes.start_time >= " + str(T0 + 4))
        assert [r.info.run_name for r in found] == ["elsewhere", "delta-test"]
        assert {r.info.experiment_id for r in found} == set(both)

    def test_unknown_experiment_has_no_runs(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        assert list(store.search_runs([UNKNOWN_EXPERIMENT_ID], "", ViewType.ALL)) == []

    def test_no_experiments_no_runs(self, store: TrackingStore, searchable: dict[str, str]) -> None:
        assert list(store.search_runs([], "", ViewType.ALL)) == []

    @pytest.mark.parametrize("bad", _BAD_RUN_SEARCHES, ids=[repr(b) for b in _BAD_RUN_SEARCHES])
    def test_invalid_search_is_refused(
        self, store: TrackingStore, searchable: dict[str, str], bad: dict[str, Any]
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.search_runs(
                [searchable["experiment"]],
                bad.get("filter_string", ""),
                ViewType.ACTIVE_ONLY,
                bad.get("max_results", 10),
                bad.get("order_by"),
                bad.get("page_token"),
            )


def _pages(
    store: TrackingStore,
    experiment_ids: list[str],
    page_size: int,
    order_by: list[str] | None,
    filter_string: str = "",
) -> list[list[str | None]]:
    """Run names, page by page, of a search_runs followed to its last page."""
    got = pages(
        lambda token: store.search_runs(
            experiment_ids, filter_string, ViewType.ACTIVE_ONLY, page_size, order_by, token
        ),
        limit=20,
    )
    return [[r.info.run_name for r in page] for page in got]


class ExperimentSearchTests:
    """search_experiments over a few named, tagged experiments."""

    @pytest.fixture
    def named(self, store: TrackingStore) -> dict[str, str]:
        """Experiments ``search-a``, ``search-b``, ``other-c`` and the deleted ``search-d``."""
        ids = {
            "search-a": store.create_experiment("search-a", tags=[RunTag("owner", "ann")]),
            "search-b": store.create_experiment("search-b", tags=[RunTag("owner", "bo")]),
            "other-c": store.create_experiment("other-c"),
            "search-d": store.create_experiment("search-d", tags=[RunTag("owner", "ann")]),
        }
        store.delete_experiment(ids["search-d"])
        return ids

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("name = 'search-a'", {"search-a"}),
            ("attribute.name = 'search-b'", {"search-b"}),
            ("name LIKE 'search-%'", {"search-a", "search-b"}),
            ("name ILIKE 'SEARCH-A'", {"search-a"}),
            ("name != 'Default'", {"search-a", "search-b", "other-c"}),
            ("creation_time > 0 AND name LIKE '%-%'", {"search-a", "search-b", "other-c"}),
            ("tags.owner = 'ann'", {"search-a"}),
            ("tags.owner != 'ann'", {"search-b"}),
            ("tags.owner LIKE '%o%'", {"search-b"}),
            ("name = 'search-a' OR tags.owner = 'bo'", {"search-a", "search-b"}),
            ("(name LIKE 'search-%' OR name = 'other-c') AND tags.owner = 'bo'", {"search-b"}),
        ],
    )
    def test_filter(
        self, store: TrackingStore, named: dict[str, str], filter_string: str, expected: set[str]
    ) -> None:
        assert {e.name for e in store.search_experiments(filter_string=filter_string)} == expected

    def test_view_types(self, store: TrackingStore, named: dict[str, str]) -> None:
        def names(view_type: int) -> set[str]:
            return {e.name for e in store.search_experiments(view_type, filter_string="name LIKE 'search-%'")}

        assert names(ViewType.ACTIVE_ONLY) == {"search-a", "search-b"}
        assert names(ViewType.DELETED_ONLY) == {"search-d"}
        assert names(ViewType.ALL) == {"search-a", "search-b", "search-d"}

    def test_order_by_name(self, store: TrackingStore, named: dict[str, str]) -> None:
        ascending = [e.name for e in store.search_experiments(order_by=["name ASC"])]
        assert ascending == ["Default", "other-c", "search-a", "search-b"]
        descending = [e.name for e in store.search_experiments(order_by=["name DESC"])]
        assert descending == list(reversed(ascending))

    def test_default_order_is_newest_first(self, store: TrackingStore, named: dict[str, str]) -> None:
        times = [e.creation_time or 0 for e in store.search_experiments(ViewType.ALL)]
        assert times == sorted(times, reverse=True)

    @pytest.mark.parametrize("page_size", [1, 2, 4, 5])
    def test_paging(self, store: TrackingStore, named: dict[str, str], page_size: int) -> None:
        got = pages(
            lambda token: store.search_experiments(ViewType.ALL, page_size, None, ["name ASC"], token)
        )
        assert all(0 < len(page) <= page_size for page in got)
        seen = [e.name for page in got for e in page]
        assert seen == ["Default", "other-c", "search-a", "search-b", "search-d"]

    @pytest.mark.parametrize(
        "bad",
        [
            {"filter_string": "metrics.acc > 1"},
            {"filter_string": "name = search-a"},
            {"filter_string": "name LIKE"},
            {"order_by": ["tags.owner"]},
            {"order_by": ["name UPWARDS"]},
            {"page_token": "not a page token"},
            {"max_results": 0},
            {"max_results": 50001},
        ],
        ids=repr,
    )
    def test_invalid_search_is_refused(
        self, store: TrackingStore, named: dict[str, str], bad: dict[str, Any]
    ) -> None:
        order_by: Sequence[str] | None = bad.get("order_by")
        with raises_code("INVALID_PARAMETER_VALUE"):
            store.search_experiments(
                ViewType.ACTIVE_ONLY,
                bad.get("max_results", 10),
                bad.get("filter_string"),
                order_by,
                bad.get("page_token"),
            )
