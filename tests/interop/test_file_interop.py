"""tracklet's file plugin and real MLflow read each other's ``mlruns`` folders.

(a) tracklet writes a folder (experiments with tags, runs with params, metric histories
with NaN and infinities, tags, dataset inputs, artifacts, a deleted run and a deleted
experiment); MLflow's ``MlflowClient`` reads it in a subprocess and prints what it sees
as JSON. (b) MLflow writes the same kind of folder in a subprocess; tracklet reads it.
In both directions the views of MLflow, of tracklet's ``FileStore`` and of
``tracklet.MlflowClient`` must be identical, field by field.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

import pytest

import tracklet
from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType

# This test is about the file plugin's own classes, so it imports them directly.
from tracklet_file.artifacts import LocalArtifactRepository  # noqa: TID251
from tracklet_file.store import FileStore  # noqa: TID251

pytestmark = pytest.mark.interop

# Shared by every reader (exec'd here and in MLflow's subprocess): the JSON view of a
# folder through an object with MLflow's client API.
DUMP_SOURCE = r'''
def _num(value):
    return repr(float(value))  # NaN and infinities compare as text


def _artifacts(api, run_id, path=None):
    out = {}
    for info in api.list_artifacts(run_id, path):
        if info.is_dir:
            out[info.path + "/"] = None
            out.update(_artifacts(api, run_id, info.path))
        else:
            out[info.path] = [info.file_size, api.read_artifact(run_id, info.path)]
    return out


def _run(api, run_id):
    run = api.get_run(run_id)
    fields = ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time",
              "end_time", "artifact_uri", "lifecycle_stage")
    return {
        "info": {name: getattr(run.info, name) for name in fields},
        "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "history": {
            key: [[m.timestamp, _num(m.value), m.step] for m in api.get_metric_history(run_id, key)]
            for key in run.data.metrics
        },
        "inputs": sorted(
            [d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
             d.dataset.schema, d.dataset.profile, sorted([t.key, t.value] for t in d.tags)]
            for d in run.inputs.dataset_inputs
        ),
        "artifacts": _artifacts(api, run_id) if run.info.lifecycle_stage == "active" else None,
    }


def dump(api, experiment_ids, run_ids):
    experiments = {}
    for experiment_id in experiment_ids:
        e = api.get_experiment(experiment_id)
        experiments[experiment_id] = {
            "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
            "creation_time": e.creation_time, "last_update_time": e.last_update_time,
        }
    listing = {
        "experiments": sorted(e.experiment_id for e in api.search_experiments(view_type=3)),
        "active_experiments": sorted(e.experiment_id for e in api.search_experiments(view_type=1)),
        "runs": {
            str(view): sorted(
                r.info.run_id for r in api.search_runs(sorted(experiment_ids), run_view_type=view)
            )
            for view in (1, 2, 3)
        },
    }
    return {"experiments": experiments, "runs": {r: _run(api, r) for r in run_ids}, "listing": listing}


class ClientApi:
    """MLflow's MlflowClient (or tracklet's), reading artifacts through downloads."""

    def __init__(self, client, scratch):
        self.client, self.scratch = client, scratch

    def __getattr__(self, name):
        return getattr(self.client, name)

    def read_artifact(self, run_id, path):
        import os, tempfile
        dst = tempfile.mkdtemp(dir=self.scratch)
        local = self.client.download_artifacts(run_id, path, dst)
        with open(local, "rb") as f:
            return f.read().decode("latin-1")
'''

MLFLOW_READ = (
    DUMP_SOURCE
    + r"""
import json, sys
from mlflow import MlflowClient
root, scratch, ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
api = ClientApi(MlflowClient(tracking_uri=root), scratch)
print(json.dumps(dump(api, ids["experiments"], ids["runs"])))
"""
)

MLFLOW_WRITE = (
    DUMP_SOURCE
    + r"""
import json, os, sys
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
root, scratch = sys.argv[1], sys.argv[2]
c = MlflowClient(tracking_uri=root)
exp = c.create_experiment("interop", tags={"team": "ml", "nested/key": "v"})
run = c.create_run(exp, start_time=1700000000000, tags={"t1": "v1"}, run_name="first")
rid = run.info.run_id
values = [0.5, float("nan"), 0.25, float("inf"), float("-inf")]
c.log_batch(rid, metrics=[Metric("loss", v, 1700000000000 + i, i) for i, v in enumerate(values)],
            params=[Param("lr", "0.01"), Param("layers/n", "3")], tags=[RunTag("note", "multi\nline")])
c.log_metric(rid, "nested/acc", 0.9, timestamp=1700000000100, step=3)
c.log_inputs(rid, [DatasetInput(Dataset("iris", "d1g3st", "local", '{"uri": "/data"}', '{"c": 1}', None),
                                [InputTag("mlflow.data.context", "train")])])
src = os.path.join(scratch, "src")
os.makedirs(os.path.join(src, "sub"))
for name, text in (("a.txt", "alpha"), ("sub/b.txt", "beta")):
    with open(os.path.join(src, name), "w") as f:
        f.write(text)
c.log_artifact(rid, os.path.join(src, "a.txt"))
c.log_artifacts(rid, src, "tree")
c.set_terminated(rid, "FINISHED", end_time=1700000009999)
deleted_run = c.create_run(exp, start_time=1700000000001, run_name="second").info.run_id
c.log_param(deleted_run, "x", "1")
c.delete_run(deleted_run)
doomed = c.create_experiment("doomed")
doomed_run = c.create_run(doomed, start_time=1700000000002).info.run_id
c.log_metric(doomed_run, "m", 1.0, timestamp=1, step=0)
c.delete_experiment(doomed)
default_run = c.create_run("0", start_time=1700000000003).info.run_id
ids = {"experiments": ["0", exp, doomed], "runs": [rid, deleted_run, doomed_run, default_run]}
print(json.dumps({"ids": ids, "dump": dump(ClientApi(c, scratch), ids["experiments"], ids["runs"])}))
"""
)


class StoreApi:
    """tracklet's FileStore and LocalArtifactRepository behind MLflow's client API."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def get_experiment(self, experiment_id: str) -> Any:
        return self.store.get_experiment(experiment_id)

    def get_run(self, run_id: str) -> Any:
        return self.store.get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> Any:
        return self.store.get_metric_history(run_id, key)

    def search_experiments(self, view_type: int) -> Any:
        return self.store.search_experiments(view_type=view_type)

    def search_runs(self, experiment_ids: list[str], run_view_type: int) -> Any:
        return self.store.search_runs(experiment_ids, "", run_view_type)

    def _repo(self, run_id: str) -> LocalArtifactRepository:
        return LocalArtifactRepository(self.store.get_run(run_id).info.artifact_uri or "")

    def list_artifacts(self, run_id: str, path: str | None) -> Any:
        return self._repo(run_id).list_artifacts(path)

    def read_artifact(self, run_id: str, path: str) -> str:
        return pathlib.Path(self._repo(run_id).download_artifacts(path)).read_bytes().decode("latin-1")


_namespace: dict[str, Any] = {}
exec(compile(DUMP_SOURCE, "<dump>", "exec"), _namespace)  # the same reader code as MLflow's side
dump = _namespace["dump"]
ClientApi = _namespace["ClientApi"]


def _mlflow(script: str, *args: str, cwd: str) -> Any:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    for name in ("MLFLOW_TRACKING_URI", "TRACKLET_TRACKING_URI"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tracklet_views(root: str, ids: dict[str, list[str]]) -> list[Any]:
    store = FileStore(root)
    scratch = tempfile.mkdtemp()
    views = [
        dump(StoreApi(store), ids["experiments"], ids["runs"]),
        dump(ClientApi(tracklet.MlflowClient(tracking_uri=root), scratch), ids["experiments"], ids["runs"]),
    ]
    store.close()
    return views


def _write_with_tracklet(root: str, scratch: pathlib.Path) -> dict[str, list[str]]:
    store = FileStore(root)
    exp = store.create_experiment("interop", tags=[RunTag("team", "ml"), RunTag("nested/key", "v")])
    rid = store.create_run(exp, "alice", 1_700_000_000_000, [RunTag("t1", "v1")], "first").info.run_id
    values = [0.5, float("nan"), 0.25, float("inf"), float("-inf")]
    store.log_batch(
        rid,
        [Metric("loss", v, 1_700_000_000_000 + i, i) for i, v in enumerate(values)],
        [Param("lr", "0.01"), Param("layers/n", "3")],
        [RunTag("note", "multi\nline")],
    )
    store.log_metric(rid, Metric("nested/acc", 0.9, 1_700_000_000_100, 3))
    dataset = Dataset("iris", "d1g3st", "local", '{"uri": "/data"}', '{"c": 1}', None)
    store.log_inputs(rid, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])
    (scratch / "src" / "sub").mkdir(parents=True)
    (scratch / "src" / "a.txt").write_text("alpha")
    (scratch / "src" / "sub" / "b.txt").write_text("beta")
    repo = LocalArtifactRepository(store.get_run(rid).info.artifact_uri or "")
    repo.log_artifact(str(scratch / "src" / "a.txt"))
    repo.log_artifacts(str(scratch / "src"), "tree")
    store.update_run_info(rid, "FINISHED", 1_700_000_009_999, None)
    deleted_run = store.create_run(exp, "alice", 1_700_000_000_001, [], "second").info.run_id
    store.log_param(deleted_run, Param("x", "1"))
    store.delete_run(deleted_run)
    doomed = store.create_experiment("doomed")
    doomed_run = store.create_run(doomed, "bob", 1_700_000_000_002, [], None).info.run_id
    store.log_metric(doomed_run, Metric("m", 1.0, 1, 0))
    store.delete_experiment(doomed)
    client = tracklet.MlflowClient(tracking_uri=root)
    default_run = client.create_run("0", start_time=1_700_000_000_003).info.run_id
    store.close()
    return {"experiments": ["0", exp, doomed], "runs": [rid, deleted_run, doomed_run, default_run]}


def _check_content(view: dict[str, Any], ids: dict[str, list[str]]) -> None:
    """The view holds what was written (so equal views are not equally empty)."""
    _default, exp, doomed = ids["experiments"]
    rid, deleted_run, doomed_run, default_run = ids["runs"]
    assert view["experiments"][exp]["tags"] == {"team": "ml", "nested/key": "v"}
    assert view["experiments"][doomed]["lifecycle_stage"] == "deleted"
    assert view["experiments"]["0"]["name"] == "Default"
    run = view["runs"][rid]
    assert run["info"]["run_name"] == "first" and run["info"]["status"] == "FINISHED"
    assert run["info"]["end_time"] == 1_700_000_009_999 and run["info"]["start_time"] == 1_700_000_000_000
    assert run["params"] == {"lr": "0.01", "layers/n": "3"}
    assert run["tags"]["note"] == "multi\nline" and run["tags"]["mlflow.runName"] == "first"
    assert run["history"]["loss"] == [
        [1_700_000_000_000 + i, v, i] for i, v in enumerate(["0.5", "nan", "0.25", "inf", "-inf"])
    ]
    assert run["metrics"] == {"loss": "-inf", "nested/acc": "0.9"}
    assert run["inputs"] == [
        ["iris", "d1g3st", "local", '{"uri": "/data"}', '{"c": 1}', None, [["mlflow.data.context", "train"]]]
    ]
    assert run["artifacts"] == {
        "a.txt": [5, "alpha"],
        "tree/": None,
        "tree/a.txt": [5, "alpha"],
        "tree/sub/": None,
        "tree/sub/b.txt": [4, "beta"],
    }
    assert view["runs"][deleted_run]["info"]["lifecycle_stage"] == "deleted"
    assert view["runs"][deleted_run]["params"] == {"x": "1"}
    assert view["runs"][doomed_run]["info"]["lifecycle_stage"] == "deleted"
    assert view["runs"][doomed_run]["metrics"] == {"m": "1.0"}
    assert view["runs"][default_run]["info"]["experiment_id"] == "0"
    listing = view["listing"]
    assert listing["experiments"] == sorted(ids["experiments"])
    assert listing["active_experiments"] == sorted(["0", exp])
    assert listing["runs"]["1"] == sorted([rid, default_run])
    assert listing["runs"]["2"] == sorted([deleted_run, doomed_run])
    assert listing["runs"]["3"] == sorted(ids["runs"])


def _json_round_trip(view: Any) -> Any:
    return json.loads(json.dumps(view))  # tuples become lists, as in MLflow's printed view


@pytest.mark.parametrize("form", ["path", "file-uri"])
def test_mlflow_reads_what_tracklet_wrote(tmp_path: pathlib.Path, form: str) -> None:
    root = str(tmp_path / "mlruns") if form == "path" else (tmp_path / "mlruns").as_uri()
    ids = _write_with_tracklet(root, tmp_path)
    seen_by_mlflow = _mlflow(MLFLOW_READ, root, str(tmp_path), json.dumps(ids), cwd=str(tmp_path))
    _check_content(seen_by_mlflow, {**ids})
    for view in _tracklet_views(root, ids):
        assert _json_round_trip(view) == seen_by_mlflow


def test_tracklet_reads_what_mlflow_wrote(tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    written = _mlflow(MLFLOW_WRITE, root, str(tmp_path), cwd=str(tmp_path))
    ids, seen_by_mlflow = written["ids"], written["dump"]
    _check_content(seen_by_mlflow, ids)
    for view in _tracklet_views(root, ids):
        assert _json_round_trip(view) == seen_by_mlflow
    assert ViewType.ALL == 3  # the view numbers the dump uses
