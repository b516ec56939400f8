"""Traces across clients and servers: the real MLflow 3.17.2 client against ``tracklet
server``, and tracklet's client against the same server, each reading what the other wrote.

One script, run in a subprocess under either library (``import mlflow`` or ``import tracklet
as mlflow``), writes traces: ``@mlflow.trace`` functions (nested, with a span type and
attributes, one raising), ``mlflow.start_span`` blocks (nested), ``MlflowClient().start_trace
/ start_span / end_span / end_trace`` (inputs, outputs, attributes, an ERROR span), trace tags
set and deleted, and a trace made under a run. Another reads them back with
``mlflow.search_traces`` and ``MlflowClient().get_trace`` (and filters: tag, status, run) and
prints what it sees (ids and clock times left out). Every pairing over ``tracklet server``
(sqlite, one per module) must see exactly what MLflow's client sees of what it wrote to
MLflow's own ``mlflow server``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tracklet_http.testing import (
    ServerProcess,
    free_port,
    mlflow_server_args,
    start_server,
    tracklet_server_args,
)

pytestmark = pytest.mark.interop

_IMPORT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import logging
logging.disable(logging.WARNING)
library, url, experiment_name = sys.argv[1:4]
if library == "mlflow":
    import mlflow
    from mlflow import MlflowClient
else:
    import tracklet as mlflow
    from tracklet import MlflowClient
mlflow.set_tracking_uri(url)
"""

WRITER = (
    _IMPORT
    + r"""
experiment = mlflow.set_experiment(experiment_name)


@mlflow.trace(span_type="LLM", attributes={"temperature": 0.5})
def answer(question, k=2):
    return {"answer": lookup(question) * k}


@mlflow.trace
def lookup(question):
    with mlflow.start_span("format", span_type="PARSER") as span:
        span.set_inputs({"q": question})
        span.set_attribute("n", 3)
        span.set_outputs(question.upper())
    return question.upper()


@mlflow.trace(name="exploding")
def boom(x):
    raise ValueError(f"bad {x}")


answer("hi")
try:
    boom(1)
except ValueError:
    pass

with mlflow.start_span("manual", span_type="CHAIN") as span:
    span.set_inputs([1, 2])
    span.set_attributes({"a": "b", "c": [1, 2]})
    with mlflow.start_span("manual-child") as child:
        child.set_inputs("text")
    span.set_outputs({"ok": True})

client = MlflowClient()
root = client.start_trace(
    "imperative", inputs={"x": 1}, attributes={"kind": "root"}, tags={"t1": "v1", "t2": "v2"},
    experiment_id=experiment.experiment_id,
)
child = client.start_span(
    "imperative-child", trace_id=root.trace_id, parent_id=root.span_id, span_type="TOOL", inputs={"y": 2}
)
client.end_span(
    trace_id=root.trace_id, span_id=child.span_id, outputs={"z": 3}, attributes={"factor": 2}, status="ERROR"
)
client.end_trace(trace_id=root.trace_id, outputs={"done": True})
mlflow.flush_trace_async_logging()
client.set_trace_tag(root.trace_id, "t3", "v3")
client.delete_trace_tag(root.trace_id, "t2")

with mlflow.start_run() as run:
    lookup("in a run")
mlflow.flush_trace_async_logging()
print("RESULT " + json.dumps({"run_id": run.info.run_id}))
"""
)

READER = (
    _IMPORT
    + r"""
run_id = sys.argv[4]
experiment_id = mlflow.get_experiment_by_name(experiment_name).experiment_id
client = MlflowClient()


def clean(value):
    return json.loads(json.dumps(value, default=repr, sort_keys=True))


def describe(trace):
    info = trace.info
    names = {s.span_id: s.name for s in trace.data.spans}
    spans = []
    for s in sorted(trace.data.spans, key=lambda s: (s.start_time_ns, s.name)):
        spans.append({
            "name": s.name, "parent": names.get(s.parent_id, s.parent_id), "type": s.span_type,
            "status": str(s.status.status_code), "description": s.status.description,
            "inputs": clean(s.inputs), "outputs": clean(s.outputs),
            "attributes": clean({k: v for k, v in s.attributes.items() if not k.startswith("mlflow.")}),
            "events": [
                [e.name, clean({k: v for k, v in e.attributes.items() if k in ("exception.type", "exception.message")})]
                for e in s.events
            ],
            "same_trace": s.trace_id == info.trace_id, "ordered": s.end_time_ns >= s.start_time_ns,
        })
    return {
        "name": info.tags.get("mlflow.traceName"), "state": str(info.state),
        "tags": {k: v for k, v in sorted(info.tags.items()) if not k.startswith("mlflow.")},
        "in_experiment": info.experiment_id == experiment_id,
        "in_run": info.trace_metadata.get("mlflow.sourceRun") == run_id,
        "request_preview": info.request_preview, "response_preview": info.response_preview,
        "spans": spans,
    }


def names(traces):
    return sorted(t.info.tags.get("mlflow.traceName") for t in traces)


found = mlflow.search_traces(experiment_ids=[experiment_id], return_type="list")
out = {
    "searched": sorted((describe(t) for t in found), key=lambda d: d["name"]),
    "got": sorted((describe(client.get_trace(t.info.trace_id)) for t in found), key=lambda d: d["name"]),
    "tag_filter": names(mlflow.search_traces(
        experiment_ids=[experiment_id], filter_string="tags.t1 = 'v1'", return_type="list")),
    "status_filter": names(mlflow.search_traces(
        experiment_ids=[experiment_id], filter_string="status = 'ERROR'", return_type="list")),
    "run_filter": names(mlflow.search_traces(experiment_ids=[experiment_id], run_id=run_id, return_type="list")),
    "client_page": [len(client.search_traces(experiment_ids=[experiment_id], max_results=2)), 2],
    "frame_rows": len(mlflow.search_traces(experiment_ids=[experiment_id])),
}
print("RESULT " + json.dumps(out, sort_keys=True))
"""
)


def _run(script: str, library: str, url: str, experiment: str, workdir: Path, *extra: str) -> dict[str, Any]:
    path = workdir / f"{library}_{abs(hash(script))}.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLET_"))}
    env["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # the export is done when the script ends
    proc = subprocess.run(
        [sys.executable, str(path), library, url, experiment, *extra],
        capture_output=True, text=True, timeout=600, cwd=workdir, env=env,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"{library} script failed against {url}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def _serve(kind: str, root: Path) -> ServerProcess:
    args_for = tracklet_server_args if kind == "tracklet" else mlflow_server_args
    port = free_port()
    # one worker process (MLflow's default is 4): parallel test workers each start servers
    args = args_for(port, f"sqlite:///{root / 'db.sqlite'}", str(root / "artifacts"), "--workers", "1")
    return start_server(args, port, root / "server.log")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(writer, server, reader) -> what the reader saw of what the writer wrote."""
    results: dict[tuple[str, str, str], dict[str, Any]] = {}
    plan = [("mlflow", "mlflow", ["mlflow"]), ("mlflow", "tracklet", ["mlflow", "tracklet"]),
            ("tracklet", "tracklet", ["mlflow", "tracklet"])]  # fmt: skip
    servers: dict[str, ServerProcess] = {}
    try:
        for writer, server_kind, readers in plan:
            if server_kind not in servers:
                servers[server_kind] = _serve(server_kind, tmp_path_factory.mktemp(f"{server_kind}-server"))
            url = servers[server_kind].url
            workdir = tmp_path_factory.mktemp(f"{writer}-writes-{server_kind}")
            experiment = f"written-by-{writer}"
            try:
                run_id = _run(WRITER, writer, url, experiment, workdir)["run_id"]
                for reader in readers:
                    results[writer, server_kind, reader] = _run(
                        READER, reader, url, experiment, workdir, run_id
                    )
            except AssertionError as e:
                log = servers[server_kind].output()[-4000:]
                raise AssertionError(f"{e}\n{server_kind} server log:\n{log}") from None
    finally:
        for server in servers.values():
            server.stop()
    return results


REFERENCE = ("mlflow", "mlflow", "mlflow")


def test_the_reference_saw_every_trace_the_script_wrote(
    seen: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    """MLflow's client on MLflow's server: the traces the script made, as it made them (so a
    comparison with it below cannot pass on empty or broken output)."""
    ref = seen[REFERENCE]
    by_name = {t["name"]: t for t in ref["got"]}
    assert sorted(by_name) == ["answer", "exploding", "imperative", "lookup", "manual"]
    assert ref["searched"] == ref["got"]
    assert [(s["name"], s["parent"]) for s in by_name["answer"]["spans"]] == [
        ("answer", None), ("lookup", "answer"), ("format", "lookup")
    ]  # fmt: skip
    assert by_name["answer"]["spans"][0]["attributes"] == {"temperature": 0.5}
    assert by_name["exploding"]["state"] == "ERROR"
    assert by_name["exploding"]["spans"][0]["events"][0][1]["exception.message"] == "bad 1"
    assert by_name["imperative"]["tags"] == {"t1": "v1", "t3": "v3"}
    assert by_name["imperative"]["spans"][1]["status"] == "SpanStatusCode.ERROR"
    assert by_name["imperative"]["spans"][1]["outputs"] == {"z": 3}
    assert [t["in_run"] for t in ref["got"]] == [False, False, False, True, False]
    assert ref["tag_filter"] == ["imperative"] and ref["status_filter"] == ["exploding"]
    assert ref["run_filter"] == ["lookup"] and ref["frame_rows"] == 5


@pytest.mark.parametrize(
    "pairing",
    [
        ("mlflow", "tracklet", "mlflow"),
        ("mlflow", "tracklet", "tracklet"),
        ("tracklet", "tracklet", "mlflow"),
        ("tracklet", "tracklet", "tracklet"),
    ],
    ids=lambda p: f"{p[0]}-writes-to-{p[1]}-server-{p[2]}-reads",
)
@pytest.mark.parametrize(
    "key", ["got", "searched", "tag_filter", "status_filter", "run_filter", "client_page", "frame_rows"]
)
def test_same_as_mlflow_on_its_own_server(
    seen: dict[tuple[str, str, str], dict[str, Any]], pairing: tuple[str, str, str], key: str
) -> None:
    assert seen[pairing][key] == seen[REFERENCE][key]
