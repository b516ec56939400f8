"""Traces on a folder, both ways between tracklet and real MLflow 3.17.

One script (below) records traces through the client API of whichever tool runs it —
``@trace`` with nested spans under a run, a traced function that raises, the imperative
``start_trace``/``start_span``/``end_span``/``end_trace``, tags set and deleted, a trace
deleted — and one dumps what the tool reads back: every trace (``Trace.to_dict()``: its
info, with metadata and tags, and every span), through ``search_traces`` and
``get_trace``, plus the ids a few filtered, ordered and paged searches return, and
the fluent ``search_traces`` (a list, and the DataFrame's columns and rows).

(a) MLflow writes in a subprocess; MLflow's own dump of the folder and tracklet's must be
identical. (b) tracklet writes (its file store and ``traces.json``); MLflow's dump in a
subprocess and tracklet's must be identical.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import tracklet

# This test is about the file plugin's own store, so it imports it directly.
from tracklet_file.store import FileStore  # noqa: TID251

pytestmark = pytest.mark.interop

# Run with ``mlflow`` bound to real MLflow or to tracklet.
SCRIPT = r"""
FILTERS = [
    "status = 'OK'",
    "status = 'ERROR'",
    "tags.kind = 'manual'",
    "tags.reviewed = 'yes'",
    "name = 'pipeline'",
    "timestamp_ms > 0",
    "execution_time_ms >= 0",
    "request_metadata.`mlflow.trace_schema.version` = '3'",
]


def flush(mlflow):
    if hasattr(mlflow, "flush_trace_async_logging"):
        mlflow.flush_trace_async_logging()


def write(mlflow, root):
    import time

    mlflow.set_tracking_uri(root)
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("traced")
    mlflow.set_experiment(experiment_id=experiment_id)

    @mlflow.trace(name="llm", span_type="LLM", attributes={"model": "m-1"})
    def answer(question):
        return {"text": question.upper(), "tokens": [1, 2, 3]}

    @mlflow.trace(span_type="CHAIN")
    def pipeline(question):
        with mlflow.start_span("retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"q": question})
            span.set_outputs(["doc-1", "doc-2"])
            span.set_attribute("k", 2)
        mlflow.update_current_trace(tags={"env": "test"})
        return answer(question)

    @mlflow.trace
    def fails(x):
        raise ValueError(f"boom {x}")

    with mlflow.start_run() as run:
        pipeline("hello")
        time.sleep(0.002)
        pipeline("again")
    time.sleep(0.002)
    try:
        fails(1)
    except ValueError:
        pass
    time.sleep(0.002)
    root_span = client.start_trace("manual", inputs={"a": 1}, tags={"kind": "manual"}, experiment_id=experiment_id)
    child = client.start_span("child", trace_id=root_span.trace_id, parent_id=root_span.span_id, inputs={"b": 2})
    client.end_span(trace_id=child.trace_id, span_id=child.span_id, outputs={"c": 3}, attributes={"x": "y"})
    client.end_trace(root_span.trace_id, outputs={"d": 4})
    flush(mlflow)
    ids = [t.info.trace_id for t in client.search_traces(locations=[experiment_id], flush=True)]
    assert len(ids) == 4, ids
    client.set_trace_tag(ids[0], "reviewed", "yes")
    client.set_trace_tag(ids[1], "temporary", "x")
    client.delete_trace_tag(ids[1], "temporary")
    assert client.delete_traces(experiment_id, trace_ids=[ids[2]]) == 1
    return {"experiment_id": experiment_id, "run_id": run.info.run_id}


def dump(mlflow, root, experiment_id):
    client = mlflow.MlflowClient(tracking_uri=root)
    traces = client.search_traces(locations=[experiment_id])
    out = {
        "order": [t.info.trace_id for t in traces],
        "traces": {t.info.trace_id: t.to_dict() for t in traces},
        "get": {t.info.trace_id: client.get_trace(t.info.trace_id).to_dict() for t in traces},
        "searches": {
            f: [t.info.trace_id for t in client.search_traces(
                locations=[experiment_id], filter_string=f, order_by=["timestamp_ms ASC"])]
            for f in FILTERS
        },
        "infos_only": [t.to_dict() for t in client.search_traces(
            locations=[experiment_id], include_spans=False, order_by=["timestamp_ms ASC"])],
    }
    mlflow.set_tracking_uri(root)
    fluent = mlflow.search_traces(locations=[experiment_id], return_type="list", order_by=["timestamp_ms ASC"])
    out["fluent"] = [t.to_dict() for t in fluent]
    frame = mlflow.search_traces(locations=[experiment_id], filter_string="status = 'OK'")
    out["frame"] = {"columns": list(frame.columns), "trace_ids": list(frame["trace_id"])}
    pages, token = [], None
    while True:
        page = client.search_traces(locations=[experiment_id], max_results=2, page_token=token)
        pages.append([t.info.trace_id for t in page])
        token = page.token
        if not token:
            break
    out["pages"] = [p for p in pages if p]
    return out
"""

_MLFLOW_MAIN = r"""
import json, sys
import mlflow
root, mode = sys.argv[1], sys.argv[2]
if mode == "write":
    ids = write(mlflow, root)
else:
    ids = json.loads(sys.argv[3])
print(json.dumps({"ids": ids, "view": dump(mlflow, root, ids["experiment_id"])}))
"""

_namespace: dict[str, Any] = {}
exec(SCRIPT, _namespace)  # noqa: S102 - the shared test script, defined above


def _mlflow(*args: str, cwd: str) -> Any:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false"}
    for name in (
        "MLFLOW_TRACKING_URI",
        "TRACKLET_TRACKING_URI",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
    ):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT + _MLFLOW_MAIN, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tracklet_view(root: str, experiment_id: str) -> Any:
    tracklet.set_tracking_uri(root)
    try:
        view = _namespace["dump"](tracklet, root, experiment_id)
    finally:
        tracklet.set_tracking_uri(None)  # type: ignore[arg-type]
    return json.loads(json.dumps(view))


def _check_content(view: dict[str, Any], ids: dict[str, str]) -> None:
    """What the script recorded is there (so that two equal but empty views fail)."""
    traces = view["traces"]
    assert len(traces) == 3 and len(view["order"]) == 3
    by_name = {}
    for trace in traces.values():
        by_name.setdefault(trace["info"]["tags"]["mlflow.traceName"], []).append(trace)
    assert sorted(by_name) == ["fails", "manual", "pipeline"]
    pipeline = by_name["pipeline"][0]
    spans = {s["name"]: s for s in pipeline["data"]["spans"]}
    assert sorted(spans) == ["llm", "pipeline", "retrieve"]
    assert pipeline["info"]["trace_metadata"]["mlflow.sourceRun"] == ids["run_id"]
    assert pipeline["info"]["tags"]["env"] == "test"
    assert spans["llm"]["parent_span_id"] == spans["pipeline"]["span_id"]
    assert by_name["fails"][0]["info"]["state"] == "ERROR"
    manual = by_name["manual"][0]
    assert manual["info"]["tags"]["kind"] == "manual" and len(manual["data"]["spans"]) == 2
    assert all("temporary" not in t["info"]["tags"] for t in traces.values())
    assert [len(view["searches"][f]) for f in _namespace["FILTERS"]] == [2, 1, 1, 1, 1, 3, 3, 3]
    assert view["get"] == traces
    assert [t["info"]["trace_id"] for t in view["infos_only"]] == view["searches"]["timestamp_ms > 0"]
    assert [t["info"]["trace_id"] for t in view["fluent"]] == view["searches"]["timestamp_ms > 0"]
    assert all(t == traces[t["info"]["trace_id"]] for t in view["fluent"])
    assert sorted(view["frame"]["trace_ids"]) == sorted(view["searches"]["status = 'OK'"])
    assert [i for page in view["pages"] for i in page] == view["order"]
    assert view["order"] == view["searches"]["timestamp_ms > 0"][::-1]


def test_tracklet_reads_traces_mlflow_wrote(tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    written = _mlflow(root, "write", cwd=str(tmp_path))
    ids, mlflow_view = written["ids"], written["view"]
    _check_content(mlflow_view, ids)
    assert _tracklet_view(root, ids["experiment_id"]) == mlflow_view
    # The store on its own (no client) reads the same infos.
    store = FileStore(root)
    infos, _ = store.search_traces([ids["experiment_id"]], order_by=["timestamp_ms ASC"])
    assert [i.to_dict() for i in infos] == [t["info"] for t in mlflow_view["infos_only"]]


def test_mlflow_reads_traces_tracklet_wrote(tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    tracklet.set_tracking_uri(root)
    try:
        ids = _namespace["write"](tracklet, root)
    finally:
        tracklet.set_tracking_uri(None)  # type: ignore[arg-type]
    tracklet_view = _tracklet_view(root, ids["experiment_id"])
    _check_content(tracklet_view, ids)
    read = _mlflow(root, "read", json.dumps(ids), cwd=str(tmp_path))
    assert read["view"] == tracklet_view
