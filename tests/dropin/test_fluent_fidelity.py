"""The fluent and artifact API under ``import tracklet as mlflow`` does what MLflow 3.17.2
does: the same snippet, run by each, observes the same."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.interop


def test_last_active_run_after_nested_runs_is_the_outermost(compare):
    seen = compare("""
import threading
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
out["before_any"] = mlflow.last_active_run() is None
with mlflow.start_run(run_name="outer") as outer:
    with mlflow.start_run(run_name="inner", nested=True) as inner:
        mlflow.log_metric("m", 1.0)
        out["while_inner"] = [mlflow.last_active_run().info.run_name,
                              mlflow.last_active_run() is mlflow.active_run(),
                              mlflow.last_active_run().data.metrics]
    out["after_inner"] = mlflow.last_active_run().info.run_name
last = mlflow.last_active_run()
out["after_both"] = [last.info.run_name, last.info.status]
seen_in_thread = []
thread = threading.Thread(target=lambda: seen_in_thread.append(mlflow.last_active_run()))
thread.start(); thread.join()
out["other_thread"] = seen_in_thread == [None]
try:
    with mlflow.start_run(run_name="failing"):
        raise ValueError("boom")
except ValueError:
    pass
out["after_exception"] = [mlflow.active_run() is None, mlflow.last_active_run().info.run_name,
                          mlflow.last_active_run().info.status]
""")
    assert seen["after_both"] == ["outer", "FINISHED"] and seen["while_inner"][0] == "inner"


def test_log_dict_with_values_json_cannot_encode(compare):
    seen = compare("""
import datetime, os, tempfile
import mlflow
import numpy as np
mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
values = {"set": {3, 1}, "when": datetime.datetime(2020, 1, 2, 3, 4, 5), "np_float": np.float32(1.5),
          "np_int": np.int64(3), "array": np.array([1, 2]), "nan": float("nan"), "inf": float("inf"),
          "nested": {"b": [1, (2, 3)], "a": None}}
with mlflow.start_run() as run:
    for ext in ("json", "yaml", "yml", "txt"):
        out["log_" + ext] = failure(lambda: mlflow.log_dict(values, "d." + ext))
    out["tuple_key"] = failure(lambda: mlflow.log_dict({(1, 2): 3}, "t.json"))
    out["list"] = failure(lambda: mlflow.log_dict([1, {"a": 2}], "l.json"))
local = client.download_artifacts(run.info.run_id, "", tempfile.mkdtemp())
out["files"] = {name: open(os.path.join(local, name)).read() for name in sorted(os.listdir(local))}
""")
    assert '"set": "{1, 3}"' in seen["files"]["d.json"] and "NaN" in seen["files"]["d.json"]
    assert "!!set" in seen["files"]["d.yaml"] and "t.json" not in seen["files"]


def test_download_artifacts_of_a_run_without_artifact_folder(compare):
    seen = compare("""
import os
import mlflow
import mlflow.artifacts
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run() as never_logged:
    pass
experiment_id = mlflow.create_experiment("doomed")
with mlflow.start_run(experiment_id=experiment_id) as in_deleted:
    pass
mlflow.delete_experiment(experiment_id)
for label, run in (("never_logged", never_logged), ("deleted_experiment", in_deleted)):
    path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=os.path.join("dst", label))
    out[label] = [os.path.relpath(path), os.listdir(path)]
    out[label + "_no_dst"] = failure(lambda: mlflow.artifacts.download_artifacts(run_id=run.info.run_id), message=False)
    out[label + "_missing_file"] = failure(
        lambda: mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="nope.txt", dst_path="d2"),
        message=False)
""")
    assert seen["never_logged"] == ["dst/never_logged", []]


def test_first_hour_artifact_calls(compare):
    """Text, tables, artifact URIs, params and a few errors a training script meets first."""
    compare("""
import os, tempfile
import mlflow
import pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
with mlflow.start_run() as run:
    out["log_param_returns"] = mlflow.log_param("lr", 0.1)
    mlflow.log_text("héllo\\nwörld", "notes/readme.txt")
    mlflow.log_table({"a": [1, 2], "b": ["x", "y"]}, "tables/t.json")
    mlflow.log_table(pd.DataFrame({"a": [3], "b": ["z"]}), "tables/t.json")
    root = mlflow.get_artifact_uri()
    out["artifact_uri"] = [root.endswith(run.info.run_id + "/artifacts"), root.startswith("/"),
                           mlflow.get_artifact_uri("notes/readme.txt")[len(root):]]
    try:  # MLflow raises a bare Exception, tracklet an MlflowException: the same words
        mlflow.start_run()
    except Exception as e:
        out["second_start_run"] = str(e).replace(run.info.run_id, "<run_id>")
    out["bad_table"] = failure(lambda: mlflow.log_table({"a": [1]}, "t.csv"))
    out["table_char"] = failure(lambda: mlflow.log_table({"a": [1]}, "t:1.json"))
    out["tags"] = sorted(k for k in mlflow.get_run(run.info.run_id).data.tags if not k.startswith("mlflow.source")
                         and k != "mlflow.user")
local = client.download_artifacts(run.info.run_id, "", tempfile.mkdtemp())
out["text"] = open(os.path.join(local, "notes", "readme.txt"), encoding="utf-8").read()
out["table"] = open(os.path.join(local, "tables", "t.json")).read()
out["loaded_table"] = mlflow.load_table("tables/t.json", run_ids=[run.info.run_id]).to_dict("list")
out["end_run_without_run"] = mlflow.end_run()
""")


def test_first_hour_figures_searches_and_argument_errors(compare):
    seen = compare("""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
empty = mlflow.search_runs()
out["empty_search"] = [list(empty.columns), {c: str(t) for c, t in empty.dtypes.items()}]
with mlflow.start_run(run_name="r", tags={"t": 1}) as run:
    out["returns"] = [repr(mlflow.log_metric("m", np.float32(0.5), step=np.int64(2))),
                      repr(mlflow.log_metrics({"a": 1, "b": np.float64(2)})),
                      repr(mlflow.log_params({"p": [1, 2], "q": None})), repr(mlflow.set_tags({"x": 1.5}))]
    figure, axes = plt.subplots()
    axes.plot([1, 2])
    mlflow.log_figure(figure, "plots/fig.png")
    mlflow.log_figure(figure, "plots/fig.svg")
    out["figure_not_a_figure"] = failure(lambda: mlflow.log_figure(object(), "x.png"))
out["artifacts"] = [(f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id, "plots")]
out["no_experiment_named"] = failure(lambda: mlflow.set_experiment())
out["bad_output_format"] = failure(lambda: mlflow.search_runs(output_format="csv"))
frame = mlflow.search_runs()
out["search"] = [list(frame.columns)[:6], sorted(frame.columns), {c: str(t) for c, t in frame.dtypes.items()}]
out["search_list"] = [type(r).__name__ for r in mlflow.search_runs(output_format="list")]
""")
    assert seen["figure_not_a_figure"][0] == "TypeError" and len(seen["artifacts"]) == 2


def test_run_id_variable_and_a_bad_end_status(compare):
    compare("""
import os
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run() as first:
    pass
os.environ["MLFLOW_RUN_ID"] = first.info.run_id
resumed = mlflow.start_run()
out["resumed"] = [resumed.info.run_id == first.info.run_id, resumed.info.status, "MLFLOW_RUN_ID" in os.environ]
mlflow.end_run()
with mlflow.start_run() as second:
    out["next_is_new"] = second.info.run_id != first.info.run_id
os.environ["MLFLOW_RUN_ID"] = first.info.run_id
mlflow.start_run(run_id=second.info.run_id)
out["explicit_id_wins"] = [mlflow.active_run().info.run_id == second.info.run_id, "MLFLOW_RUN_ID" in os.environ]
mlflow.end_run()
out["end_run_clears_variable"] = "MLFLOW_RUN_ID" in os.environ
with mlflow.start_run() as third:
    pass
mlflow.start_run(run_id=third.info.run_id)
try:  # MLflow raises a bare Exception, tracklet an MlflowException: same words
    mlflow.end_run("BOGUS")
except Exception as e:
    out["bad_status"] = str(e)
out["after_bad_status"] = [mlflow.active_run() is None, mlflow.last_active_run().info.run_id == third.info.run_id,
                           mlflow.get_run(third.info.run_id).info.status]
""")


def test_mlflow_artifacts_helpers(compare):
    """``mlflow.artifacts``: where downloads land, what the loaders accept, and the errors."""
    seen = compare("""
import os
import mlflow
import mlflow.artifacts
import numpy as np
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run() as run:
    mlflow.log_dict({"a": 1}, "d/x.json")
    mlflow.log_dict({"a": 1}, "d/y.yaml")
    mlflow.log_text("hi", "t.txt")
    mlflow.log_text("not json", "bad.json")
    mlflow.log_text("deep", "deep/er/s.txt")
    mlflow.log_image(np.zeros((3, 4, 3), dtype=np.uint8), "img/i.png")
    with open("latin.txt", "wb") as f:
        f.write("é".encode("latin-1"))
    mlflow.log_artifact("latin.txt")
rid = run.info.run_id
base = "runs:/" + rid
where = lambda path: os.path.relpath(path).replace(rid, "<run>")
out["load_text"] = mlflow.artifacts.load_text(base + "/t.txt")
out["load_dict"] = mlflow.artifacts.load_dict(base + "/d/x.json")
out["load_yaml"] = failure(lambda: mlflow.artifacts.load_dict(base + "/d/y.yaml"))
out["load_not_json"] = failure(lambda: mlflow.artifacts.load_dict(base + "/bad.json"))
out["load_missing"] = failure(lambda: mlflow.artifacts.load_text(base + "/nope.txt"))
out["load_latin"] = [str(x).replace(rid, "<run>") for x in failure(lambda: mlflow.artifacts.load_text(base + "/latin.txt"))]
out["load_image"] = mlflow.artifacts.load_image(base + "/img/i.png").size
out["list"] = [(f.path, f.is_dir) for f in mlflow.artifacts.list_artifacts(run_id=rid)]
out["list_uri"] = [(f.path, f.is_dir) for f in mlflow.artifacts.list_artifacts(artifact_uri=base + "/d")]
out["list_path"] = [(f.path, f.is_dir) for f in mlflow.artifacts.list_artifacts(run_id=rid, artifact_path="d")]
out["download_uri_dir"] = where(mlflow.artifacts.download_artifacts(artifact_uri=base + "/d", dst_path="o1"))
out["download_run_file"] = where(mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="d/x.json", dst_path="o2"))
out["download_uri_deep_file"] = where(mlflow.artifacts.download_artifacts(artifact_uri=base + "/deep/er/s.txt", dst_path="o3"))
out["download_run_deep_dir"] = where(mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="deep/er", dst_path="o4"))
copy = mlflow.artifacts.download_artifacts(artifact_uri=base + "/deep/er/s.txt")
out["runs_uri_without_dst_is_a_copy"] = ["/artifacts/" not in copy, open(copy).read()]
in_place = mlflow.artifacts.download_artifacts(run_id=rid)
out["run_root_without_dst_is_in_place"] = where(in_place).endswith("<run>/artifacts")
out["download_missing"] = failure(lambda: mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="deep/nope", dst_path="o5"))
out["download_both"] = failure(lambda: mlflow.artifacts.download_artifacts(artifact_uri=base, run_id=rid))
out["download_neither"] = failure(lambda: mlflow.artifacts.download_artifacts())
out["download_uri_and_path"] = failure(lambda: mlflow.artifacts.download_artifacts(artifact_uri=base, artifact_path="x"))
out["list_both"] = failure(lambda: mlflow.artifacts.list_artifacts(artifact_uri=base, run_id=rid))
""")
    assert seen["download_run_file"] == "o2/x.json" and seen["load_yaml"][1] == "BAD_REQUEST"


def test_with_block_after_end_run_inside_it(compare):
    compare("""
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run(run_name="outer") as outer:
    with mlflow.start_run(run_name="inner", nested=True) as inner:
        mlflow.end_run()  # ends inner; leaving the block must not end outer
    out["outer_still_active"] = mlflow.active_run() is not None and mlflow.active_run().info.run_name == "outer"
try:
    with mlflow.start_run(run_name="interrupted") as interrupted:
        raise KeyboardInterrupt
except KeyboardInterrupt:
    pass
out["statuses"] = {r.info.run_name: r.info.status for r in mlflow.search_runs(output_format="list")}
""")


def test_experiments_through_the_fluent_api(compare):
    compare("""
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
experiment = mlflow.set_experiment("x")
out["created"] = [experiment.name, experiment.lifecycle_stage]
mlflow.delete_experiment(experiment.experiment_id)
out["set_deleted_by_name"] = failure(lambda: mlflow.set_experiment("x"))
out["set_deleted_by_id"] = failure(lambda: mlflow.set_experiment(experiment_id=experiment.experiment_id))
out["missing"] = failure(lambda: mlflow.get_experiment("12345"), message=False)
out["search"] = [e.name for e in mlflow.search_experiments()]
out["search_all"] = sorted(e.name for e in mlflow.search_experiments(view_type=3))
mlflow.set_experiment("y")
mlflow.set_experiment_tags({"a": 1})
mlflow.set_experiment_tag("b", "2")
out["tags"] = mlflow.get_experiment_by_name("y").tags
with mlflow.start_run() as parent:
    with mlflow.start_run(nested=True) as child:
        pass
out["parent"] = mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
out["no_parent"] = mlflow.get_parent_run(parent.info.run_id)
""")


def test_more_fluent_names_training_scripts_call(compare):
    """Names MLflow training scripts call that are not tracking calls proper: async flushes,
    system metrics switches, streams, restores, experiment tag deletion."""
    compare("""
import io, os, tempfile
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("e")
mlflow.set_experiment_tags({"keep": "1", "drop": "2"})
mlflow.delete_experiment_tag("drop")
out["experiment_tags"] = mlflow.get_experiment_by_name("e").tags
out["returns"] = [mlflow.enable_system_metrics_logging(), mlflow.disable_system_metrics_logging(),
                  mlflow.flush_async_logging()]
out["flush_artifacts_starts_a_run"] = [mlflow.active_run() is None, mlflow.flush_artifact_async_logging(),
                                       mlflow.active_run() is not None]
mlflow.end_run()
with mlflow.start_run() as run:
    mlflow.log_stream(io.BytesIO(bytes(range(256)) * 100), "bin/data.bin")
local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="bin/data.bin", dst_path=tempfile.mkdtemp())
out["stream"] = open(local, "rb").read() == bytes(range(256)) * 100
mlflow.delete_run(run.info.run_id)
mlflow.restore_run(run.info.run_id)
out["restored_run"] = mlflow.get_run(run.info.run_id).info.lifecycle_stage
experiment_id = mlflow.get_experiment_by_name("e").experiment_id
mlflow.delete_experiment(experiment_id)
mlflow.restore_experiment(experiment_id)
out["restored_experiment"] = mlflow.get_experiment(experiment_id).lifecycle_stage
""")
