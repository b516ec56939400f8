"""Tracking data in a database MLflow created reads and writes the same in both tools.

Real MLflow 3.17.2 (in a subprocess) writes into a database of its own schema (sqlite,
and PostgreSQL and MariaDB/MySQL when reachable) what a project accumulates (:data:`SCENARIO`): experiments
with tags, a renamed and a deleted one; runs, nested runs, a failed and a deleted run;
params, tags, metric histories with NaN and ±inf; a dataset input; a trace with spans.

:data:`READER` dumps the database through each tool's public ``MlflowClient`` (every
experiment and run field, every history, searches with filters, OR, ordering and paging,
the traces); the dumps must be equal field by field and hold what was written. Then
tracklet and MLflow each add runs, values, a dataset, a nested run and an experiment
(:data:`MIXED`), in turn, on the same database: both still read everything alike, MLflow
keeps working on it (its own search, history and logging), and tracklet created, altered
and stamped nothing (same tables, same ``alembic_version``).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import pytest
from _interop_tools import differences, run_script, schema

pytestmark = pytest.mark.interop

PRELUDE = r"""
import json, math, os, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "mlflow":
    import mlflow as m
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
else:
    import tracklet as m
    from tracklet import MlflowClient
    from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
uri, state_file = sys.argv[2], sys.argv[3]
m.set_tracking_uri(uri)
c = MlflowClient(tracking_uri=uri)
T0 = 1_700_000_000_000


def dataset(name, digest):
    return DatasetInput(
        Dataset(name, digest, "local", json.dumps({"uri": f"/data/{name}.csv"}), '{"c": 1}', None),
        [InputTag("mlflow.data.context", "training")],
    )
"""

SCENARIO = (
    PRELUDE
    + r"""
S = {}
a = c.create_experiment("interop-a", tags={"team": "ml", "note": "first"})
b = c.create_experiment("interop-b")
c.set_experiment_tag(b, "k", "v")
c.rename_experiment(b, "interop-b2")
gone = c.create_experiment("interop-gone")
c.delete_experiment(gone)
S["experiments"] = [a, b, gone]

m.set_experiment(experiment_id=a)
with m.start_run(run_name="parent") as parent:
    m.log_params({"lr": "0.1", "layers": 3})
    m.set_tags({"stage": "train"})
    for i in range(5):
        m.log_metric("loss", 1.0 / (i + 1), step=i, timestamp=T0 + i)
    m.log_metric("loss", float("nan"), step=5, timestamp=T0 + 5)
    m.log_metric("big", float("inf"), step=0, timestamp=T0)
    m.log_metric("small", float("-inf"), step=0, timestamp=T0)
    m.log_metric("same", 1.0, step=3, timestamp=T0)
    m.log_metric("same", 2.0, step=3, timestamp=T0)
    with m.start_run(run_name="child", nested=True) as child:
        m.log_metric("acc", 0.5, step=1, timestamp=T0)
        m.log_param("depth", "4")
c.log_inputs(parent.info.run_id, [dataset("train", "d1"), dataset("eval", "d2")])
failed = c.create_run(a, run_name="failed", start_time=T0 + 10)
c.log_metric(failed.info.run_id, "loss", 9.0, timestamp=T0, step=0)
c.set_terminated(failed.info.run_id, "FAILED", end_time=T0 + 100)
deleted = c.create_run(b, run_name="deleted-run")
c.delete_run(deleted.info.run_id)
with m.start_span(name="root") as span:
    span.set_inputs({"q": 1})
    with m.start_span(name="inner") as inner:
        inner.set_attribute("k", "v")
    span.set_outputs({"a": 2})
with m.start_span(name="chat") as span:  # session, token usage: columns of MLflow's trace_info
    span.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8})
    m.update_current_trace(metadata={"mlflow.trace.session": "session-1"})
S["parent"], S["child"] = parent.info.run_id, child.info.run_id
with open(state_file, "w") as f:
    json.dump(S, f)
"""
)

#: What each tool adds, in turn, to the database the other wrote.
MIXED = (
    PRELUDE
    + r"""
with open(state_file) as f:
    S = json.load(f)
me = sys.argv[1]
a = S["experiments"][0]
run = c.create_run(a, run_name=f"by-{me}", tags={"who": me}, start_time=T0 + 50).info.run_id
c.log_batch(run, metrics=[Metric("loss", 0.3, T0 + 10, 0), Metric("loss", float("nan"), T0 + 11, 1),
                          Metric("big", float("inf"), T0, 0), Metric("small", float("-inf"), T0, 0)],
            params=[Param("p", me)], tags=[RunTag("t", me)])
c.log_metric(run, "loss", 0.1, timestamp=T0 + 12, step=2)
c.log_inputs(run, [dataset("train", "d1"), dataset(f"new-{me}", "d9")])
nested = c.create_run(a, run_name=f"nested-{me}", tags={"mlflow.parentRunId": run}).info.run_id
c.log_metric(nested, "acc", 0.75, timestamp=T0, step=0)
c.set_terminated(nested, "KILLED", end_time=T0 + 999)
c.set_terminated(run, "FINISHED", end_time=T0 + 1000)
c.set_tag(S["parent"], f"touched-by-{me}", "yes")
c.delete_tag(S["parent"], "stage") if me == "tracklet" else c.set_tag(S["parent"], "stage", "again")
made = c.create_experiment(f"made-by-{me}", tags={"by": me})
c.set_experiment_tag(S["experiments"][1], f"seen-by-{me}", "yes")
m.set_experiment(experiment_id=a)
with m.start_span(name=f"chat-{me}") as span:
    span.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3})
    m.update_current_trace(metadata={"mlflow.trace.session": f"session-{me}"}, tags={"by": me})
S.setdefault("runs", {})[me] = run
S["experiments"].append(made)
with open(state_file, "w") as f:
    json.dump(S, f)
"""
)

READER = (
    PRELUDE
    + r"""
with open(state_file) as f:
    S = json.load(f)


def num(x):
    return "NaN" if isinstance(x, float) and math.isnan(x) else x


def code(call):
    try:
        return call()
    except Exception as e:
        return {"error": getattr(e, "error_code", type(e).__name__)}


def exp(e):
    return {"experiment_id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "tags": e.tags, "creation_time": e.creation_time,
            "last_update_time": e.last_update_time}


def run(r):
    i = r.info
    return {
        "info": {"run_id": i.run_id, "run_name": i.run_name, "experiment_id": i.experiment_id,
                 "user_id": i.user_id, "status": i.status, "start_time": i.start_time,
                 "end_time": i.end_time, "artifact_uri": i.artifact_uri,
                 "lifecycle_stage": i.lifecycle_stage},
        "metrics": {k: num(v) for k, v in r.data.metrics.items()},
        "params": r.data.params,
        "tags": r.data.tags,
        # (MLflow gives a run's inputs in the database's order, which is unspecified)
        "inputs": sorted([d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
                    d.dataset.schema, d.dataset.profile, sorted([t.key, t.value] for t in d.tags)]
                   for d in r.inputs.dataset_inputs),
        "histories": {k: [[p.key, num(p.value), p.timestamp, p.step] for p in c.get_metric_history(i.run_id, k)]
                      for k in sorted(r.data.metrics)},
    }


def ids(runs):
    return [r.info.run_id for r in runs]


out = {"experiments": [exp(e) for e in c.search_experiments(view_type=ViewType.ALL, order_by=["name ASC"])]}
ex = [e["experiment_id"] for e in out["experiments"]]
out["runs"] = {r.info.run_id: run(r) for r in c.search_runs(ex, run_view_type=ViewType.ALL, max_results=1000)}
out["order"] = ids(c.search_runs(ex, run_view_type=ViewType.ALL))
a = S["experiments"][0]
searches = {
    "loss": ("metrics.loss < 0.5", []),
    "like": ("attributes.run_name LIKE 'ch%'", []),
    "ilike": ("attributes.run_name ILIKE 'BY-%' AND params.p != 'x'", []),
    "status": ("attributes.status != 'RUNNING'", ["attributes.end_time DESC"]),
    "by_metric": ("", ["metrics.loss DESC", "attributes.run_name ASC"]),
    "by_param": ("", ["params.lr ASC"]),
    "big": ("metrics.big > 1e300", []),
    "dataset": ("dataset.name = 'train'", []),
}
for name, (flt, order) in searches.items():
    out["search/" + name] = code(lambda: ids(c.search_runs([a], flt, order_by=order or None)))
pages, token = [], None
while True:
    page = c.search_runs([a], "", max_results=2, page_token=token, order_by=["attributes.start_time ASC"])
    pages.append(ids(page))
    token = page.token
    if not token:
        break
out["pages"] = pages
out["experiment_search"] = code(lambda: [e.name for e in c.search_experiments(filter_string="name LIKE 'made-%'", order_by=["name DESC"])])
if sys.argv[1] == "tracklet":  # MLflow's search has no OR: tracklet's compiler on MLflow's tables
    out["tracklet_only"] = {
        "or": ids(c.search_runs([a], "params.lr = '0.1' OR tags.who = 'mlflow' OR (tags.who = 'tracklet' AND metrics.loss >= 0)", order_by=["attributes.run_name ASC"])),
        "experiments_or": [e.name for e in c.search_experiments(filter_string="tags.team = 'ml' OR name LIKE 'made-%'", order_by=["name DESC"])],
    }
out["by_name"] = code(lambda: exp(c.get_experiment_by_name("interop-b2")))


def span(s):
    return {"name": s.name, "span_id": s.span_id, "parent_id": s.parent_id, "inputs": s.inputs,
            "outputs": s.outputs, "attributes": {k: v for k, v in s.attributes.items()},
            "start": s.start_time_ns, "end": s.end_time_ns, "status": str(s.status.status_code)}


traces = {}
for t in c.search_traces(experiment_ids=[a]):
    info = t.info
    full = c.get_trace(info.trace_id)
    traces[info.trace_id] = {
        "state": str(info.state), "request_time": info.request_time, "duration": info.execution_duration,
        "preview": [info.request_preview, info.response_preview],
        "metadata": {k: v for k, v in info.trace_metadata.items() if k != "mlflow.trace.sizeBytes"},
        "tags": info.tags, "spans": sorted((span(s) for s in full.data.spans), key=lambda d: d["span_id"]),
    }
out["traces"] = traces
out["trace_searches"] = {
    flt: sorted(t.info.trace_id for t in c.search_traces(experiment_ids=[a], filter_string=flt))
    for flt in ("metadata.`mlflow.trace.session` = 'session-1'", "tags.`mlflow.traceName` = 'chat'",
                "trace.name LIKE 'chat%'", "metadata.`mlflow.trace.session` LIKE 'session-%'")
}
print(json.dumps(out, sort_keys=True))
"""
)

TABLES = r"""
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.connect() as conn:
    inspector = sa.inspect(conn)
    tables = {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names()}
    indexes = {t: sorted(i["name"] or "" for i in inspector.get_indexes(t)) for t in tables}
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
print(json.dumps({"tables": tables, "indexes": indexes, "revision": revision}, sort_keys=True))
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLET_"))}
    env["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # the export is done when the script ends
    return env


def _run(script: str, tool: str, uri: str, state: pathlib.Path, cwd: pathlib.Path) -> Any:
    return run_script(script, tool, uri, state, cwd, _env())


def _schema(uri: str, tmp_path: pathlib.Path) -> dict[str, Any]:
    return schema(TABLES, uri, tmp_path, _env())


def _views(uri: str, state: pathlib.Path, tmp_path: pathlib.Path) -> dict[str, Any]:
    """Each tool's dump; tracklet's OR searches (which MLflow's search lacks) in ``"or"``."""
    views = {tool: _run(READER, tool, uri, state, tmp_path) for tool in ("mlflow", "tracklet")}
    views["or"] = views["tracklet"].pop("tracklet_only")
    return views


def test_mlflow_db_tracklet_reads_what_mlflow_wrote(mlflow_db: str, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    _run(SCENARIO, "mlflow", mlflow_db, state, tmp_path)
    views = _views(mlflow_db, state, tmp_path)
    assert differences(views["mlflow"], views["tracklet"]) == []
    view, written = views["tracklet"], json.loads(state.read_text())
    parent = view["runs"][written["parent"]]
    assert parent["histories"]["loss"][-1] == ["loss", "NaN", 1_700_000_000_005, 5]
    assert parent["metrics"]["big"] == 1.7976931348623157e308  # MLflow stores and reads +inf so
    assert parent["metrics"]["same"] == 2.0
    assert parent["params"] == {"lr": "0.1", "layers": "3"}
    assert [d[:2] for d in parent["inputs"]] == [["eval", "d2"], ["train", "d1"]]
    child = view["runs"][written["child"]]
    assert child["tags"]["mlflow.parentRunId"] == written["parent"]
    assert view["search/dataset"] == [written["parent"]]
    assert views["or"]["or"] == [written["parent"]]
    assert views["or"]["experiments_or"] == ["interop-a"]
    assert [e["lifecycle_stage"] for e in view["experiments"] if e["name"] == "interop-gone"] == ["deleted"]
    assert len(view["traces"]) == 2
    by_name = {t["tags"]["mlflow.traceName"]: t for t in view["traces"].values()}
    assert {s["name"] for s in by_name["root"]["spans"]} == {"root", "inner"}
    chat = by_name["chat"]
    assert chat["metadata"]["mlflow.trace.session"] == "session-1"
    assert json.loads(chat["metadata"]["mlflow.trace.tokenUsage"])["total_tokens"] == 8
    assert all(len(found) == 1 for found in list(view["trace_searches"].values())[:2])


def test_mlflow_db_both_tools_write_in_turn_and_mlflow_keeps_working(
    mlflow_db: str, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state.json"
    _run(SCENARIO, "mlflow", mlflow_db, state, tmp_path)
    before = _schema(mlflow_db, tmp_path)
    _run(MIXED, "tracklet", mlflow_db, state, tmp_path)
    assert _schema(mlflow_db, tmp_path) == before  # no table, column or index created; nothing stamped
    views = _views(mlflow_db, state, tmp_path)
    assert differences(views["mlflow"], views["tracklet"]) == []
    _run(MIXED, "mlflow", mlflow_db, state, tmp_path)
    views = _views(mlflow_db, state, tmp_path)
    assert differences(views["mlflow"], views["tracklet"]) == []
    assert _schema(mlflow_db, tmp_path) == before
    view, written = views["mlflow"], json.loads(state.read_text())
    mine = view["runs"][written["runs"]["tracklet"]]
    assert mine["histories"]["loss"] == [
        ["loss", 0.3, 1_700_000_000_010, 0],
        ["loss", "NaN", 1_700_000_000_011, 1],
        ["loss", 0.1, 1_700_000_000_012, 2],
    ]
    assert mine["metrics"] == view["runs"][written["runs"]["mlflow"]]["metrics"]
    assert mine["metrics"]["big"] == 1.7976931348623157e308
    assert mine["info"]["status"] == "FINISHED" and mine["info"]["end_time"] == 1_700_000_001_000
    assert mine["params"] == {"p": "tracklet"}
    assert sorted(d[0] for d in mine["inputs"]) == ["new-tracklet", "train"]
    parent = view["runs"][written["parent"]]
    assert {"touched-by-tracklet", "touched-by-mlflow"} <= set(parent["tags"])
    assert parent["tags"]["stage"] == "again"
    nested = [r for r in view["runs"].values() if r["info"]["run_name"] == "nested-tracklet"]
    assert [r["tags"]["mlflow.parentRunId"] for r in nested] == [written["runs"]["tracklet"]]
    assert nested[0]["info"]["status"] == "KILLED"
    chats = {t["tags"]["mlflow.traceName"]: t for t in view["traces"].values()}
    assert chats["chat-tracklet"]["metadata"]["mlflow.trace.session"] == "session-tracklet"
    assert chats["chat-tracklet"]["tags"]["by"] == "tracklet"
    assert len(view["trace_searches"]["metadata.`mlflow.trace.session` LIKE 'session-%'"]) == 3
    names = [e["name"] for e in view["experiments"]]
    assert {"made-by-tracklet", "made-by-mlflow"} <= set(names)
    assert view["experiment_search"] == ["made-by-tracklet", "made-by-mlflow"]
    mlflow_run = written["runs"]["mlflow"]
    assert views["or"]["or"] == sorted(
        [written["parent"], mlflow_run, written["runs"]["tracklet"]],
        key=lambda r: view["runs"][r]["info"]["run_name"],
    )
    assert views["or"]["experiments_or"] == ["made-by-tracklet", "made-by-mlflow", "interop-a"]
