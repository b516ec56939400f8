"""Deleted, restored, renamed and shared: an ``mlruns`` folder reads the same in MLflow and tracklet.

One scenario script (:data:`SCENARIO`) is run in a subprocess under real MLflow or under
``import tracklet as mlflow``, so both tools write the same history through their public
``MlflowClient``: experiments with tags and an artifact location of their own, deleted
(moved to ``.trash``) with their runs and artifacts, restored, renamed; runs finished,
failed, killed, renamed, nested, deleted, restored, with dataset inputs and their tags,
with NaN and infinite metric points, with their ``artifacts`` folder removed. The mixed
cases let the second tool add runs, points, params, inputs and artifacts to the first
tool's experiments and runs, and delete and restore what the first one wrote.

The same reader script (:data:`READER`) then dumps the folder through each tool's public
API, ``MlflowClient`` and ``mlflow.artifacts``: experiments by id and name and per view
type; every run by ``get_run`` and by ``search_runs`` in each view type, with every
``RunInfo`` field, params, tags, latest metrics, full histories and inputs; artifacts
listed with sizes, read, downloaded whole. A call that fails is dumped as its error
code. Both dumps must be equal, field by field, and hold what was written.

Also read by both: a folder written by hand in older MLflow formats, and, in one
long-lived tracklet process whose caches are warm, a folder MLflow changed since.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.interop

TOOLS = ("mlflow", "tracklet")

#: Imports of either tool, chosen by the script's first argument.
PRELUDE = r"""
import json, os, shutil, sys
if sys.argv[1] == "mlflow":
    import mlflow as m
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
else:
    import tracklet as m
    from tracklet import MlflowClient
    from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
root, scratch, state_file = sys.argv[2], sys.argv[3], sys.argv[4]
state = {"experiments": {}, "runs": {}}
if os.path.exists(state_file):
    with open(state_file) as f:
        state = json.load(f)
c = MlflowClient(tracking_uri=root)


def files(name, content):
    folder = os.path.join(scratch, "src-" + name)
    for rel, text in content.items():
        os.makedirs(os.path.dirname(os.path.join(folder, rel)), exist_ok=True)
        with open(os.path.join(folder, rel), "w") as f:
            f.write(text)
    return folder
"""

#: What the first tool writes. Times are fixed where the API takes them.
SCENARIO = (
    PRELUDE
    + r"""
T = 1_700_000_000_000
E, R = state["experiments"], state["runs"]
E["interop"] = c.create_experiment("interop", tags={"team": "ml", "nested/key": "v"})
ext = os.path.join(scratch, "external-artifacts")
E["external"] = c.create_experiment("external", artifact_location=ext, tags={"where": "outside"})
E["doomed"] = c.create_experiment("doomed", tags={"fate": "trash"})
E["renamed"] = c.create_experiment("before-rename")
E["revived"] = c.create_experiment("revived", tags={"phase": "one"})

def run(key, exp, start, **kw):
    R[key] = c.create_run(E[exp], start_time=T + start, **kw).info.run_id
    return R[key]

rid = run("main", "interop", 0, tags={"t1": "v1"}, run_name="first")
values = [0.5, float("nan"), 0.25, float("inf"), float("-inf"), -0.0]
c.log_batch(rid, metrics=[Metric("loss", v, T + i, i) for i, v in enumerate(values)],
            params=[Param("lr", "0.01"), Param("layers/n", "3"), Param("empty", "")],
            tags=[RunTag("note", "multi\nline"), RunTag("unicode", "héllo ✓"), RunTag("drop", "x")])
c.log_metric(rid, "nested/acc", 0.9, timestamp=T + 100, step=3)
c.log_metric(rid, "same", 1.0, timestamp=T, step=0)
c.log_metric(rid, "same", 2.0, timestamp=T, step=0)
nan = float("nan")  # ties at one step and timestamp: which point is the latest value
c.log_batch(rid, metrics=[Metric(k, v, T, 0) for k, v in (("tie_nan_first", nan), ("tie_nan_first", 1.0),
            ("tie_num_first", 1.0), ("tie_num_first", nan), ("zeros", 0.0), ("zeros", -0.0))])
c.delete_tag(rid, "drop")
c.log_inputs(rid, [
    DatasetInput(Dataset("iris", "d1g3st", "local", '{"uri": "/data"}', '{"c": 1}', '{"rows": 3}'),
                 [InputTag("mlflow.data.context", "train"), InputTag("b", "2"), InputTag("a", "1")]),
    DatasetInput(Dataset("wine", "w1n3", "code", "{}", None, None), []),
])
c.log_artifact(rid, os.path.join(files("a", {"a.txt": "alpha"}), "a.txt"))
tree = files("tree", {"b.txt": "beta", "sub/c.bin": "gamma!", "sub/deep/d.txt": ""})
os.makedirs(os.path.join(tree, "sub", "empty"))
c.log_artifacts(rid, tree, "tree")
c.set_terminated(rid, "FINISHED", end_time=T + 9_999)

parent = run("parent", "interop", 10, run_name="parent")
child = run("child", "interop", 11, tags={"mlflow.parentRunId": parent}, run_name="child")
c.log_param(child, "depth", "1")
c.set_terminated(child, "FAILED", end_time=T + 12)
c.set_terminated(parent, "KILLED", end_time=T + 13)

c.update_run(run("renamed_run", "interop", 20, run_name="old-name"), name="new-name")
run("unnamed", "interop", 21)
run("user", "interop", 22)
c.log_param(run("deleted", "interop", 30, run_name="gone"), "x", "1")
c.delete_run(R["deleted"])
restored = run("restored", "interop", 31, run_name="back")
c.log_metric(restored, "m", 3.0, timestamp=T, step=1)
c.delete_run(restored)
c.restore_run(restored)
no_art = run("no_artifacts", "interop", 32, run_name="bare")
c.log_metric(no_art, "m", 1.0, timestamp=T, step=0)
shutil.rmtree(os.path.join(root.removeprefix("file://"), E["interop"], no_art, "artifacts"))

c.log_text(run("ext_art", "external", 40), "outside", "notes/o.txt")
run("ext_bare", "external", 41)

dr = run("doomed_run", "doomed", 50, run_name="in-trash")
c.log_metric(dr, "m", 1.0, timestamp=T, step=0)
c.log_param(dr, "p", "v")
c.log_inputs(dr, [DatasetInput(Dataset("iris", "d1g3st", "local", "{}", None, None), [InputTag("k", "v")])])
c.log_artifacts(dr, files("doomed", {"x.txt": "xx", "d/y.txt": "yyy"}))
c.delete_run(run("doomed_deleted", "doomed", 51))
c.delete_run(run("doomed_restored", "doomed", 52))
c.delete_experiment(E["doomed"])
c.restore_run(R["doomed_restored"])  # active again, in an experiment still in the trash

c.rename_experiment(E["renamed"], "after-rename")
c.log_text(run("renamed_exp_run", "renamed", 60), "r", "r.txt")

run("revived_active", "revived", 70)
c.delete_run(run("revived_deleted", "revived", 71))
c.log_text(R["revived_active"], "rv", "rv.txt")
c.delete_experiment(E["revived"])
c.restore_experiment(E["revived"])
c.set_experiment_tag(E["revived"], "phase", "two")

R["default"] = c.create_run("0", start_time=T + 80).info.run_id

if sys.argv[1] == "mlflow":  # MLflow 3's extras: a logged model, a trace, metrics on a dataset
    from mlflow.entities import LoggedModelInput, LoggedModelOutput
    mr = run("model_run", "interop", 85, run_name="with-model")
    model = c.create_logged_model(E["interop"], source_run_id=mr, name="net")
    c.log_inputs(mr, models=[LoggedModelInput(model.model_id)])
    c.log_outputs(mr, [LoggedModelOutput(model.model_id, 3)])
    c.log_metric(mr, "acc", 0.5, timestamp=T, step=3, dataset_name="iris", dataset_digest="d1g3st",
                 model_id=model.model_id)
    c.log_metric(mr, "acc", 0.75, timestamp=T + 1, step=4, dataset_name="iris", dataset_digest="d1g3st")
    m.set_tracking_uri(root)
    m.set_experiment(experiment_id=E["interop"])
    with m.start_span("span") as span:
        span.set_inputs({"x": 1})
with open(state_file, "w") as f:
    json.dump(state, f)
"""
)

#: What the second tool adds in the mixed cases: to the first tool's runs and experiments.
MIXED = (
    PRELUDE
    + r"""
T = 1_700_000_000_000
E, R = state["experiments"], state["runs"]
rid = R["main"]
R["second_tool"] = c.create_run(E["interop"], start_time=T + 90, run_name="by-the-other").info.run_id
c.log_metric(R["second_tool"], "loss", 0.1, timestamp=T, step=0)
c.log_inputs(R["second_tool"], [DatasetInput(Dataset("iris", "d1g3st", "local", "{}", None, None), [])])
c.log_text(R["second_tool"], "two", "two.txt")
R["second_child"] = c.create_run(E["interop"], start_time=T + 91, tags={"mlflow.parentRunId": R["parent"]}).info.run_id
c.log_metric(R["user"], "loss", 7.0, timestamp=T + 1, step=9)
c.log_param(R["user"], "added", "by other")
c.set_tag(R["user"], "note", "second")
c.log_inputs(R["user"], [DatasetInput(Dataset("wine", "w1n3", "code", "{}", None, None), [InputTag("k", "v")])])
c.log_text(R["user"], "late", "late/l.txt")
c.set_terminated(R["user"], "FINISHED", end_time=T + 99)
c.delete_run(R["unnamed"])
c.restore_run(R["deleted"])
c.rename_experiment(E["renamed"], "renamed-twice")
c.set_experiment_tag(E["interop"], "team", "changed")
E["second"] = c.create_experiment("second-tool")
R["second_exp_run"] = c.create_run(E["second"], start_time=T + 95).info.run_id
c.delete_experiment(E["external"])
with open(state_file, "w") as f:
    json.dump(state, f)
"""
)

#: Everything either tool's public API shows of the folder, as JSON.
READER = (
    PRELUDE
    + r"""
import tempfile
E, R = state["experiments"], state["runs"]


def code(e):
    return {"error": str(getattr(e, "error_code", type(e).__name__))}


def attempt(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - an error is part of the view
        return code(e)


def num(value):
    return repr(float(value))


def experiment(e):
    if e is None:
        return None
    return {"experiment_id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
            "creation_time": e.creation_time, "last_update_time": e.last_update_time}


INFO = ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time", "end_time",
        "artifact_uri", "lifecycle_stage")


def run_view(r):
    inputs = [[d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
               d.dataset.schema, d.dataset.profile, [[t.key, t.value] for t in d.tags]]
              for d in r.inputs.dataset_inputs]
    return {"info": {f: getattr(r.info, f) for f in INFO},
            "metrics": {k: num(v) for k, v in sorted(r.data.metrics.items())},
            "params": dict(sorted(r.data.params.items())),
            "tags": dict(sorted(r.data.tags.items())),
            "inputs": inputs}


def history(run_id, key):
    return [[p.timestamp, num(p.value), p.step] for p in c.get_metric_history(run_id, key)]


def tree(folder):
    out = {}
    for base, dirs, names in os.walk(folder):
        if not dirs and not names and base != folder:  # an empty folder
            out[os.path.relpath(base, folder).replace(os.sep, "/") + "/"] = None
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder).replace(os.sep, "/")] = f.read().decode("latin-1")
    return dict(sorted(out.items()))


def listing(run_id, path=None):
    out = {}
    for info in c.list_artifacts(run_id, path):
        if info.is_dir:
            out[info.path + "/"] = None
            out.update(listing(run_id, info.path))
        else:
            dst = tempfile.mkdtemp(dir=scratch)
            with open(c.download_artifacts(run_id, info.path, dst), "rb") as f:
                out[info.path] = [info.file_size, f.read().decode("latin-1")]
    return out


def downloaded(fn, **kwargs):
    dst = tempfile.mkdtemp(dir=scratch)
    local = fn(dst_path=dst, **kwargs)
    return {"relative": os.path.relpath(local, dst).replace(os.sep, "/"), "files": tree(local)}


def artifacts(run_id):
    return {
        "listing": attempt(listing, run_id),
        "client_download": attempt(downloaded, lambda dst_path: c.download_artifacts(run_id, "", dst_path)),
        "fluent_list": attempt(lambda: sorted([i.path, i.is_dir, i.file_size] for i in
                                              m.artifacts.list_artifacts(run_id=run_id, tracking_uri=root))),
        "fluent_download": attempt(downloaded, m.artifacts.download_artifacts, run_id=run_id,
                                   tracking_uri=root),
        "runs_uri": attempt(downloaded, m.artifacts.download_artifacts, artifact_uri=f"runs:/{run_id}/",
                            tracking_uri=root),
        "runs_uri_subpath": attempt(downloaded, m.artifacts.download_artifacts,
                                    artifact_uri=f"runs:/{run_id}/tree/sub", tracking_uri=root),
        "fluent_list_subpath": attempt(lambda: sorted([i.path, i.is_dir, i.file_size] for i in m.artifacts.list_artifacts(
            run_id=run_id, artifact_path="tree", tracking_uri=root))),
        "client_download_subpath": attempt(downloaded, lambda dst_path: c.download_artifacts(run_id, "tree", dst_path)),
    }


def missing_artifacts(run_id):  # reading artifact paths that do not exist
    return {
        "list_file": attempt(lambda: [i.path for i in c.list_artifacts(run_id, "nosuch.txt")]),
        "download_to": attempt(downloaded, lambda dst_path: c.download_artifacts(run_id, "nosuch.txt", dst_path)),
        "download_local": attempt(lambda: bool(c.download_artifacts(run_id, "nosuch.txt"))),
        "download_root_local": attempt(lambda: os.path.isdir(c.download_artifacts(run_id, ""))),
        "fluent_download_local": attempt(lambda: os.path.isdir(m.artifacts.download_artifacts(
            run_id=run_id, tracking_uri=root))),
        "fluent_download": attempt(downloaded, m.artifacts.download_artifacts, run_id=run_id,
                                   artifact_path="nosuch", tracking_uri=root),
    }


def full_run(run_id):
    r = attempt(c.get_run, run_id)
    if isinstance(r, dict):
        return {"get_run": r, "history": attempt(history, run_id, "m"), "artifacts": artifacts(run_id)}
    return {"get_run": run_view(r),
            "history": {k: attempt(history, run_id, k) for k in sorted(r.data.metrics)},
            "missing_history": attempt(history, run_id, "never-logged"),
            "parent": attempt(lambda: getattr(c.get_parent_run(run_id), "info", None) and c.get_parent_run(run_id).info.run_id),
            "artifacts": artifacts(run_id),
            "missing_artifacts": missing_artifacts(run_id)}


RUN_QUERIES = [
    ("metrics.loss > 0", ["metrics.loss DESC"]),
    ("metrics.loss < 1", []),
    ("metrics.same = 2", []),
    ("attributes.status = 'FINISHED'", ["attributes.end_time DESC"]),
    ("attributes.status != 'RUNNING'", ["attributes.run_name"]),
    ("attributes.run_name ILIKE '%NAME%'", []),
    ("params.lr = '0.01' and tags.t1 = 'v1'", []),
    ("params.empty = ''", []),
    ("tags.note LIKE 'multi%'", []),
    ("tags.\"mlflow.runName\" = 'first'", []),
    ("attributes.start_time > 1700000000020", ["attributes.start_time ASC"]),
    ("attributes.run_id IN ('%s')" % R.get("main"), []),
    ("datasets.name = 'iris'", []),
    ("datasets.context = 'train'", []),
    ("", ["params.lr DESC", "tags.note", "metrics.m"]),
    ("", ["attributes.user_id", "attributes.artifact_uri DESC"]),
]
EXPERIMENT_QUERIES = [
    ("name LIKE '%rename%'", []),
    ("tags.team = 'ml'", []),
    ("tags.team = 'changed'", []),
    ("attribute.name != 'Default'", ["name DESC"]),
    ("", ["last_update_time DESC", "experiment_id"]),
    ("", ["creation_time"]),
]


def pages():
    out, token = [], None
    while True:
        page = c.search_runs(ids, "", run_view_type=3, max_results=4, page_token=token)
        out.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            return out


ids = sorted(E.values()) + ["0"]
VIEWS = (("active", 1), ("deleted", 2), ("all", 3))
names = ["interop", "external", "doomed", "before-rename", "after-rename", "renamed-twice",
         "revived", "second-tool", "Default", "nosuch"] + state.get("names", [])
view = {
    "get_experiment": {i: attempt(lambda: experiment(c.get_experiment(i))) for i in ids + ["999999"]},
    "by_name": {n: attempt(lambda: experiment(c.get_experiment_by_name(n))) for n in names},
    "search_experiments": {name: [e.experiment_id for e in c.search_experiments(view_type=v)]
                           for name, v in VIEWS},
    "search_experiments_all": sorted((experiment(e) for e in c.search_experiments(view_type=3)),
                                     key=lambda e: e["experiment_id"]),
    "runs": {k: full_run(v) for k, v in sorted({**R, "unknown": "0" * 32}.items())},
    "search_runs": {
        name: [[r.info.run_id, run_view(r)] for r in c.search_runs(ids, run_view_type=v)]
        for name, v in VIEWS
    },
    "search_runs_per_experiment": {
        i: {name: [r.info.run_id for r in c.search_runs([i], run_view_type=v)] for name, v in VIEWS}
        for i in ids
    },
    "run_queries": {f"{f} | {o}": attempt(lambda: [r.info.run_id for r in c.search_runs(
        ids, f, run_view_type=3, order_by=o or None)]) for f, o in RUN_QUERIES},
    "pages": attempt(pages),
    "experiment_queries": {f"{f} | {o}": attempt(lambda: [e.experiment_id for e in c.search_experiments(
        view_type=3, filter_string=f, order_by=o or None)]) for f, o in EXPERIMENT_QUERIES},
    "by_parent": sorted(r.info.run_id for r in c.search_runs(
        ids, "tags.mlflow.parentRunId = '%s'" % R.get("parent"), run_view_type=3)),
}
print(json.dumps(view, sort_keys=True))
"""
)


def _run(script: str, tool: str, root: str, scratch: pathlib.Path, state: pathlib.Path) -> str:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    for name in ("MLFLOW_TRACKING_URI", "TRACKLET_TRACKING_URI"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", script, tool, root, str(scratch), str(state)],
        env=env,
        cwd=str(scratch),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{tool}: {done.stderr[-4000:]}"
    return done.stdout


def _views(root: str, scratch: pathlib.Path, state: pathlib.Path) -> dict[str, Any]:
    views = {}
    for tool in TOOLS:
        out = _run(READER, tool, root, scratch, state)
        views[tool] = json.loads(out.strip().splitlines()[-1])
    return views


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as readable paths (a plain ``==`` says only that they do)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'mlflow' if key in a else 'tracklet'}")
            else:
                out += _differences(a[key], b[key], f"{path}/{key}")
        return out
    return [] if a == b else [f"{path}: mlflow {a!r} != tracklet {b!r}"]


def _check_written(view: dict[str, Any], state: dict[str, Any], mixed: bool) -> None:
    """The dump holds what the scenario wrote (so equal dumps are not equally wrong)."""
    experiments, runs, r = state["experiments"], view["runs"], state["runs"]
    main = runs["main"]["get_run"]
    assert main["info"]["run_name"] == "first" and main["info"]["status"] == "FINISHED"
    assert main["params"] == {"empty": "", "layers/n": "3", "lr": "0.01"}
    assert main["tags"]["unicode"] == "héllo ✓" and "drop" not in main["tags"]
    assert runs["main"]["history"]["loss"] == [
        [1_700_000_000_000 + i, v, i] for i, v in enumerate(["0.5", "nan", "0.25", "inf", "-inf", "-0.0"])
    ]
    assert main["metrics"]["same"] == "2.0" and main["metrics"]["zeros"] == "0.0"
    assert main["metrics"]["tie_nan_first"] == "nan" and main["metrics"]["tie_num_first"] == "1.0"
    assert sorted(i[0] for i in main["inputs"]) == ["iris", "wine"]
    assert runs["main"]["artifacts"]["listing"]["tree/sub/c.bin"] == [6, "gamma!"]
    assert runs["child"]["get_run"]["tags"]["mlflow.parentRunId"] == r["parent"]
    assert runs["child"]["parent"] == r["parent"] and runs["parent"]["parent"] is None
    assert runs["renamed_run"]["get_run"]["info"]["run_name"] == "new-name"
    assert runs["restored"]["get_run"]["info"]["lifecycle_stage"] == "active"
    doomed = runs["doomed_run"]
    assert doomed["get_run"]["info"]["lifecycle_stage"] == "deleted"
    assert doomed["get_run"]["params"] == {"p": "v"} and doomed["history"]["m"] == [
        [1_700_000_000_000, "1.0", 0]
    ]
    assert doomed["artifacts"]["listing"] == {}  # its artifact_uri points where the folder was
    assert view["get_experiment"][experiments["doomed"]]["tags"] == {"fate": "trash"}
    assert runs["doomed_restored"]["get_run"]["info"]["lifecycle_stage"] == "active"
    assert r["doomed_restored"] in view["search_runs_per_experiment"][experiments["doomed"]]["active"]
    assert view["get_experiment"][experiments["revived"]]["tags"] == {"phase": "two"}
    assert view["by_name"]["before-rename"] is None
    assert runs["no_artifacts"]["get_run"] == {"error": "RESOURCE_DOES_NOT_EXIST"}  # as MLflow finds it
    assert r["no_artifacts"] in [run_id for run_id, _ in view["search_runs"]["active"]]
    assert r["doomed_run"] in [run_id for run_id, _ in view["search_runs"]["deleted"]]
    everything = [run_id for run_id, _ in view["search_runs"]["all"]]
    assert [run_id for page in view["pages"] for run_id in page] == everything and len(view["pages"]) > 2
    assert {r["main"], r["doomed_run"]} <= set(view["run_queries"]["datasets.name = 'iris' | []"])
    by_name = view["run_queries"]["attributes.status != 'RUNNING' | ['attributes.run_name']"]
    assert [x for x in by_name if x in (r["child"], r["main"], r["parent"])] == [
        r["child"],
        r["main"],
        r["parent"],
    ]
    if "model_run" in r:  # written by MLflow: five-field lines read with step 0 by both
        assert runs["model_run"]["history"]["acc"] == [
            [1_700_000_000_000, "0.5", 0],
            [1_700_000_000_001, "0.75", 0],
        ]
    if mixed:
        assert runs["user"]["history"]["loss"] == [[1_700_000_000_001, "7.0", 9]]
        assert runs["second_child"]["get_run"]["tags"]["mlflow.parentRunId"] == r["parent"]
        assert view["by_name"]["renamed-twice"]["experiment_id"] == experiments["renamed"]
        assert view["get_experiment"][experiments["external"]]["lifecycle_stage"] == "deleted"


def _compare(root: str, tmp_path: pathlib.Path, state: pathlib.Path, mixed: bool) -> None:
    views = _views(root, tmp_path, state)
    _check_written(views["mlflow"], json.loads(state.read_text()), mixed)
    assert _differences(views["mlflow"], views["tracklet"]) == []


@pytest.mark.parametrize("form", ["path", "file-uri"])
@pytest.mark.parametrize("writer", TOOLS)
def test_folder_written_by_one_tool_reads_the_same_in_both(
    tmp_path: pathlib.Path, writer: str, form: str
) -> None:
    folder = tmp_path / "mlruns"
    root, state = str(folder) if form == "path" else folder.as_uri(), tmp_path / "state.json"
    _run(SCENARIO, writer, root, tmp_path, state)
    _compare(root, tmp_path, state, mixed=False)


@pytest.mark.parametrize(("first", "second"), [TOOLS, TOOLS[::-1]])
def test_folder_written_by_both_tools_reads_the_same_in_both(
    tmp_path: pathlib.Path, first: str, second: str
) -> None:
    root, state = str(tmp_path / "mlruns"), tmp_path / "state.json"
    _run(SCENARIO, first, root, tmp_path, state)
    _run(MIXED, second, root, tmp_path, state)
    _compare(root, tmp_path, state, mixed=True)


def _write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_legacy_folder(root: pathlib.Path) -> dict[str, Any]:
    """A folder as older MLflow versions left it, written by hand: integer experiment ids,
    ``run_uuid`` and the source fields in runs' ``meta.yaml``, runs named only by their
    ``mlflow.runName`` tag, no ``status`` or ``lifecycle_stage``, metric lines with two and
    five fields, quoted and YAML-special values, folders that are not runs."""
    t = 1_600_000_000_000
    _write(
        root / "0" / "meta.yaml",
        f"artifact_location: {root}/0\nexperiment_id: '0'\nlifecycle_stage: active\nname: Default\n",
    )
    _write(
        root / "1" / "meta.yaml",
        f'artifact_location: "{root}/1"\nexperiment_id: 1\nlifecycle_stage: active\nname: "legacy"\n',
    )
    _write(root / "1" / "tags" / "mlflow.note.content", "old notes")
    _write(
        root / ".trash" / "7" / "meta.yaml",
        f"artifact_location: file://{root}/7\ncreation_time: {t}\nexperiment_id: '7'\n"
        f"last_update_time: {t + 5}\nlifecycle_stage: deleted\nname: '123'\n",
    )
    runs = {"old": "a" * 32, "minimal": "1" * 31 + "b", "killed": "c" * 32, "trashed": "d" * 32}
    old = root / "1" / runs["old"]
    _write(
        old / "meta.yaml",
        f"artifact_uri: {root}/1/{runs['old']}/artifacts\nend_time: {t + 9}\nentry_point_name: main\n"
        f"experiment_id: 1\nlifecycle_stage: active\nname: ''\nrun_id: {runs['old']}\nrun_uuid: {runs['old']}\n"
        "source_name: train.py\nsource_type: 4\nsource_version: abc123\nstart_time: "
        f"{t}\nstatus: 3\ntags: []\nuser_id: alice\n",
    )
    _write(old / "tags" / "mlflow.runName", "named-by-tag")
    _write(old / "tags" / "mlflow.source.name", "train.py")
    _write(old / "params" / "alpha", "0.5")
    _write(old / "metrics" / "two_fields", f"{t} 1.5\n{t + 1} nan\n")
    _write(old / "metrics" / "five_fields", f"{t} 2.5 3 iris d1g3st\n{t + 1} -inf 4 iris d1g3st\n")
    _write(old / "artifacts" / "model" / "MLmodel", "flavors: {}\n")
    minimal = root / "1" / runs["minimal"]
    _write(
        minimal / "meta.yaml",
        f"end_time: null\nexperiment_id: '1'\nrun_id: {runs['minimal']}\nstart_time: {t + 1}\nuser_id: ''\n",
    )
    killed = root / "1" / runs["killed"]
    _write(
        killed / "meta.yaml",
        f"artifact_uri: '{root}/1/{runs['killed']}/artifacts'\nend_time: null\nexperiment_id: '1'\n"
        f"lifecycle_stage: deleted\ndeleted_time: {t + 3}\nrun_id: {runs['killed']}\n"
        f"run_name: 'true'\nstart_time: {t + 2}\nstatus: 5\nuser_id: \"bob\"\n",
    )
    trashed = root / ".trash" / "7" / runs["trashed"]
    _write(
        trashed / "meta.yaml",
        f"artifact_uri: file://{root}/7/{runs['trashed']}/artifacts\nend_time: {t + 8}\nexperiment_id: '7'\n"
        f"lifecycle_stage: deleted\nrun_id: {runs['trashed']}\nrun_name: '2021-01-01'\nstart_time: {t + 4}\n"
        "status: 4\nuser_id: carol\n",
    )
    _write(trashed / "metrics" / "m", f"{t} 1.0 0\n")
    for run_dir in (old, minimal, killed, trashed):
        for folder in ("metrics", "params", "artifacts"):
            (run_dir / folder).mkdir(parents=True, exist_ok=True)
    (root / "1" / "not-a-run" / "artifacts").mkdir(parents=True)  # no meta.yaml: skipped by both
    (root / "models").mkdir()  # the model registry's folder, not an experiment
    return {"experiments": {"legacy": "1", "gone": "7"}, "runs": runs, "names": ["legacy", "123"]}


def test_folder_in_older_formats_reads_the_same_in_both(tmp_path: pathlib.Path) -> None:
    root, state_file = tmp_path / "mlruns", tmp_path / "state.json"
    state = _write_legacy_folder(root)
    state_file.write_text(json.dumps(state))
    views = _views(str(root), tmp_path, state_file)
    # The one known difference: a run without artifact_uri has no artifacts to read; MLflow
    # fails with a TypeError, tracklet with INVALID_PARAMETER_VALUE (not the current folder).
    for tool, error in (("mlflow", "TypeError"), ("tracklet", "INVALID_PARAMETER_VALUE")):
        minimal = views[tool]["runs"]["minimal"]
        calls = {**minimal.pop("artifacts"), **minimal.pop("missing_artifacts")}
        assert calls and all(outcome == {"error": error} for outcome in calls.values()), (tool, calls)
    assert _differences(views["mlflow"], views["tracklet"]) == []
    view = views["mlflow"]["runs"]
    old = view["old"]["get_run"]
    assert old["info"]["run_name"] == "named-by-tag" and old["info"]["status"] == "FINISHED"
    assert old["info"]["user_id"] == "alice" and old["info"]["end_time"] == 1_600_000_000_009
    assert view["old"]["history"]["two_fields"] == [
        [1_600_000_000_000, "1.5", 0],
        [1_600_000_000_001, "nan", 0],
    ]
    # MLflow 3.17 writes the step in five-field lines but reads step 0 from them.
    assert view["old"]["history"]["five_fields"] == [
        [1_600_000_000_000, "2.5", 0],
        [1_600_000_000_001, "-inf", 0],
    ]
    assert view["old"]["artifacts"]["listing"] == {"model/": None, "model/MLmodel": [12, "flavors: {}\n"]}
    minimal = view["minimal"]["get_run"]["info"]
    assert minimal["status"] == "RUNNING" and minimal["lifecycle_stage"] == "active"
    assert view["killed"]["get_run"]["info"]["status"] == "KILLED"
    assert view["killed"]["get_run"]["info"]["run_name"] == "true"
    assert view["trashed"]["get_run"]["info"]["run_name"] == "2021-01-01"
    assert views["mlflow"]["by_name"]["123"]["lifecycle_stage"] == "deleted"
    assert views["mlflow"]["search_experiments"]["all"] == ["7", "0", "1"]


def _read_in_this_process(root: str, scratch: pathlib.Path, state: pathlib.Path) -> Any:
    """The reader run here under tracklet: its stores stay cached between calls (one
    store per URI), as in a long-lived process that keeps reading a folder."""
    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["reader", "tracklet", root, str(scratch), str(state)]
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(READER, "<reader>", "exec"), {"__name__": "reader"})
    finally:
        sys.argv = argv
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_cached_tracklet_reader_sees_what_mlflow_changes_later(tmp_path: pathlib.Path) -> None:
    # tracklet reads (and caches) a folder, MLflow then deletes, restores, renames and logs
    # in it; the same tracklet process must now see exactly what a fresh MLflow sees.
    root, state = str(tmp_path / "mlruns"), tmp_path / "state.json"
    _run(SCENARIO, "tracklet", root, tmp_path, state)
    before = _read_in_this_process(root, tmp_path, state)
    _run(MIXED, "mlflow", root, tmp_path, state)
    after = _read_in_this_process(root, tmp_path, state)
    fresh = json.loads(_run(READER, "mlflow", root, tmp_path, state).strip().splitlines()[-1])
    _check_written(fresh, json.loads(state.read_text()), mixed=True)
    assert _differences(fresh, after) == []
    assert _differences(fresh, before) != []  # the folder did change in between
