"""The real ``mlflow`` client against ``tracklet server``, side by side with ``mlflow server``.

One script written for MLflow (fluent API and ``MlflowClient``: experiments, runs,
params, metrics with NaN and infinities, ``log_batch``, metric history, search with
filters, order and paging, tags, deletion, artifacts through the proxy with
``log_artifact``, ``log_dict``, ``log_text``, ``list_artifacts`` and
``download_artifacts``) runs in a subprocess against each server. What it observes,
with ids and clock times left out, must be identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracklet_http.testing import (  # noqa: E402
    ServerProcess,
    free_port,
    mlflow_server_args,
    start_server,
    tracklet_server_args,
)

pytestmark = pytest.mark.interop

SCRIPT = r"""
import json, math, os, sys, tempfile, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
out = {}

def num(v):
    return repr(float(v))

exp_id = client.create_experiment("interop", tags={"team": "vision"})
exp = client.get_experiment(exp_id)
out["experiment"] = [exp.name, exp.tags, exp.lifecycle_stage, exp.artifact_location.split(":")[0]]
out["by_name"] = client.get_experiment_by_name("interop").experiment_id == exp_id
out["missing_by_name"] = client.get_experiment_by_name("no such experiment") is None
try:
    client.create_experiment("interop")
except MlflowException as e:
    out["duplicate_experiment"] = e.error_code

mlflow.set_experiment("interop")
names = {}
for i in range(7):
    with mlflow.start_run(run_name=f"r{i}") as run:
        names[run.info.run_id] = f"r{i}"
        mlflow.log_param("lr", 0.1 * (i % 3))
        mlflow.log_params({"layers": i, "opt": "adam" if i % 2 else "sgd"})
        mlflow.log_metric("loss", 1.0 / (i + 1))
        for step in range(5):
            mlflow.log_metric("acc", i + step / 10, step=step)
        mlflow.set_tag("parity", "even" if i % 2 == 0 else "odd")
        mlflow.set_tags({"k": str(i)})
        mlflow.log_dict({"i": i, "name": f"r{i}"}, "cfg/config.json")
        mlflow.log_text("hello", "notes.txt")
ids = {v: k for k, v in names.items()}

client.log_batch(
    ids["r0"],
    metrics=[Metric("nan", float("nan"), 1, 0), Metric("inf", float("inf"), 1, 0),
             Metric("ninf", float("-inf"), 1, 0), Metric("big", 1e300, 1, 1)],
    params=[Param("batch_param", "1")],
    tags=[RunTag("batch_tag", "x")],
)
r0 = client.get_run(ids["r0"])
out["r0"] = {
    "metrics": {k: num(v) for k, v in sorted(r0.data.metrics.items())},
    "params": dict(sorted(r0.data.params.items())),
    "tags": {k: v for k, v in sorted(r0.data.tags.items()) if not k.startswith("mlflow.")},
    "status": r0.info.status, "name": r0.info.run_name, "lifecycle": r0.info.lifecycle_stage,
    "end_time_set": r0.info.end_time is not None,
}
out["history"] = [[m.step, num(m.value)] for m in client.get_metric_history(ids["r3"], "acc")]

found = mlflow.search_runs(
    experiment_names=["interop"],
    filter_string="params.opt = 'adam' and metrics.loss < 0.4",
    order_by=["metrics.loss ASC"],
    output_format="list",
)
out["search"] = [names[r.info.run_id] for r in found]
out["search_tags"] = [names[r.info.run_id] for r in client.search_runs(
    [exp_id], "tags.parity = 'even'", order_by=["attributes.run_name DESC"])]
out["search_like"] = sorted(names[r.info.run_id] for r in client.search_runs([exp_id], "attributes.run_name LIKE 'r%'"))

pages, token = [], None
while True:
    page = client.search_runs([exp_id], order_by=["params.layers DESC"], max_results=3, page_token=token)
    pages.append([names[r.info.run_id] for r in page])
    token = page.token
    if not token:
        break
out["pages"] = pages
exps = client.search_experiments(filter_string="name = 'interop'")
out["search_experiments"] = [e.name for e in exps]

client.delete_tag(ids["r2"], "k")
out["deleted_tag"] = "k" in client.get_run(ids["r2"]).data.tags
client.set_experiment_tag(exp_id, "stage", "dev")
client.rename_experiment(exp_id, "interop-renamed")
exp = client.get_experiment(exp_id)
out["renamed"] = [exp.name, exp.tags.get("stage")]

client.delete_run(ids["r4"])
out["deleted_only"] = [names[r.info.run_id] for r in client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)]
out["active_count"] = len(client.search_runs([exp_id]))
client.restore_run(ids["r4"])
out["active_after_restore"] = len(client.search_runs([exp_id]))
client.set_terminated(ids["r5"], "FAILED")
out["terminated"] = client.get_run(ids["r5"]).info.status

out["artifacts_root"] = [(f.path, f.is_dir) for f in client.list_artifacts(ids["r1"])]
out["artifacts_cfg"] = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(ids["r1"], "cfg")]
with tempfile.TemporaryDirectory() as tmp:
    local = client.download_artifacts(ids["r1"], "cfg", tmp)
    with open(os.path.join(local, "config.json")) as f:
        out["downloaded_cfg"] = json.load(f)
    src = os.path.join(tmp, "weights.bin")
    with open(src, "wb") as f:
        f.write(bytes(range(256)) * 1000)
    client.log_artifact(ids["r1"], src, "model")
    path = mlflow.artifacts.download_artifacts(run_id=ids["r1"], artifact_path="model/weights.bin",
                                               dst_path=os.path.join(tmp, "d"))
    with open(path, "rb") as f:
        out["roundtrip_bytes"] = f.read() == bytes(range(256)) * 1000
out["load_dict"] = mlflow.artifacts.load_dict(f"runs:/{ids['r2']}/cfg/config.json")
out["load_text"] = mlflow.artifacts.load_text(f"runs:/{ids['r2']}/notes.txt")

for label, call in {
    "missing_run": lambda: client.get_run("0" * 32),
    "missing_experiment": lambda: client.get_experiment("987654"),
    "bad_metric": lambda: client.log_batch(ids["r0"], metrics=[Metric("m", 1.0, 1, 0)] * 1001),
    "param_change": lambda: client.log_param(ids["r0"], "batch_param", "2"),
}.items():
    try:
        call()
        out["error_" + label] = None
    except MlflowException as e:
        out["error_" + label] = e.error_code
print("RESULT " + json.dumps(out, sort_keys=True))
"""


def _observe(url: str, tmp: Path) -> dict[str, object]:
    script = tmp / "interop_script.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), url],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        },
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def _serve(args_for: object, tmp: Path, name: str) -> ServerProcess:
    root = tmp / name
    root.mkdir()
    port = free_port()
    # one worker process (MLflow's default is 4): parallel test workers each start servers
    args = args_for(port, f"sqlite:///{root / 'db.sqlite'}", str(root / "artifacts"), "--workers", "1")  # type: ignore[operator]
    return start_server(args, port, root / "server.log", {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})


def test_mlflow_client_sees_the_same_on_tracklet_server_as_on_mlflow_server(tmp_path: Path) -> None:
    ours = _serve(tracklet_server_args, tmp_path, "tracklet")
    try:
        seen_on_tracklet = _observe(ours.url, tmp_path)
    finally:
        ours.stop()
    theirs = _serve(mlflow_server_args, tmp_path, "mlflow")
    try:
        seen_on_mlflow = _observe(theirs.url, tmp_path)
    finally:
        theirs.stop()
    # MLflow's SQL store clamps +-inf to +-1.7976931348623157e+308 when it stores them;
    # tracklet keeps infinities (as MLflow's file store does). The only known difference.
    for key in ("inf", "ninf"):
        value = seen_on_mlflow["r0"]["metrics"][key]  # type: ignore[index]
        if value.lstrip("-") == repr(sys.float_info.max):
            seen_on_mlflow["r0"]["metrics"][key] = value.replace(repr(sys.float_info.max), "inf")  # type: ignore[index]
    # sanity: the script really did something on both
    assert seen_on_mlflow["search"] and seen_on_mlflow["roundtrip_bytes"] is True
    for key in sorted(seen_on_mlflow):
        assert seen_on_tracklet.get(key) == seen_on_mlflow[key], key
    assert seen_on_tracklet == seen_on_mlflow
