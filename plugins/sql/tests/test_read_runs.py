"""Whole runs read back on sqlite: params and tags as one JSON object per run
(``tracklet_sql._read._json_objects``) give the same runs as one row per value."""

from __future__ import annotations

import math
import pathlib

import pytest

from tracklet.entities import Metric, Param, RunTag
from tracklet_sql import _read
from tracklet_sql.store import SqlStore

#: values JSON must carry unchanged: quotes, backslashes, controls, non-ASCII, long text
_AWKWARD = ['say "hi"', "back\\slash", "tab\tnew\nline\x01", "ünïcødé ✓ 𝔘", "", "x" * 6000, "null", "{}"]


@pytest.fixture
def store(tmp_path: pathlib.Path) -> SqlStore:
    store = SqlStore("sqlite:///" + str(tmp_path / "read.db"))
    experiment_id = store.create_experiment("read")
    for i in range(3):
        run_id = store.create_run(experiment_id, "u", 1000 + i, [], f"r{i}").info.run_id
        params = [Param(f"p{k:02d}", value) for k, value in enumerate(_AWKWARD)]
        tags = [RunTag("z", "last"), RunTag("a", _AWKWARD[i]), RunTag("ключ", "значение")]
        metrics = [Metric("m", 0.1 * i, 5, 1), Metric("inf", math.inf, 5, 0), Metric("nan", math.nan, 5, 0)]
        store.log_batch(run_id, metrics, params if i != 1 else [], tags)
    yield store
    store.close()


def _runs(store: SqlStore) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        ids = sorted(r[0] for r in conn.exec_driver_sql("SELECT run_uuid FROM runs"))
        runs = _read.load_runs(store.schema, conn, ids)
    return [
        {
            "info": dict(runs[i].info),
            "params": list(runs[i].data.params.items()),
            "tags": list(runs[i].data.tags.items()),
            "metrics": [m.to_dictionary() for m in runs[i].data.metric_objs],
        }
        for i in ids
    ]


def test_json_objects_read_the_same_runs_as_rows(store: SqlStore, monkeypatch: pytest.MonkeyPatch):
    assert _read._reads_json_objects(store.engine.dialect), "this sqlite should read JSON objects"
    by_json = _runs(store)
    monkeypatch.setattr(_read, "_reads_json_objects", lambda dialect: False)
    by_rows = _runs(store)
    assert repr(by_json) == repr(by_rows)  # repr: NaN == NaN, and the dicts' key order counts
    assert sorted(len(run["params"]) for run in by_json) == [0, len(_AWKWARD), len(_AWKWARD)]  # type: ignore[arg-type]
    assert all(dict(run["params"]).get("p05", "x" * 6000) == "x" * 6000 for run in by_json)  # type: ignore[call-overload]


def test_each_run_has_its_own_dicts(store: SqlStore):
    """from_points keeps the dicts it is given: no two runs may share one (the run
    without params gets an empty dict of its own)."""
    runs = store.search_runs([store.get_experiment_by_name("read").experiment_id], "", max_results=10)
    dicts = [d for run in runs for d in (run.data.params, run.data.tags, run.data.metrics)]
    assert len({id(d) for d in dicts}) == len(dicts)
