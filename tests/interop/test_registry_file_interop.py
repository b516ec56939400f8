"""The model registry and logged models in an ``mlruns`` folder read the same in MLflow and tracklet.

One scenario script (:data:`SCENARIO`) runs in a subprocess under real MLflow 3.17 or under
``import tracklet as mlflow``, so either tool writes the same history through its public
``MlflowClient``: registered models with tags and descriptions, versions from runs, from
other sources and from logged models, version tags, aliases (set, moved, deleted, and
dropped with their version), stage transitions with and without archiving, updated
descriptions, deleted versions and models, a renamed model; logged models with tags
(set and deleted), params, a final status, and a deleted one.

The reader script (:data:`READER`) then dumps the folder through each tool's public API:
every registered model by search (filtered and ordered) and by name, every version by
search and by number with every field (the version number as a string: MLflow's local
stores give an int, its REST store and tracklet's stores the string), download URIs, alias and latest-version lookups,
logged models by id and by search; a call that fails is dumped as its error code. The
dumps of both tools must be equal, field by field, for a folder written by MLflow and for
one written by tracklet, and hold what was written.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from _interop_tools import differences, run_script, uri_free_env

pytestmark = pytest.mark.interop

TOOLS = ("mlflow", "tracklet")

PRELUDE = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "mlflow":
    import mlflow as m
    from mlflow import MlflowClient
else:
    import tracklet as m
    from tracklet import MlflowClient
root, state_file = sys.argv[2], sys.argv[3]
m.set_tracking_uri(root)
c = MlflowClient(tracking_uri=root, registry_uri=root)
"""

SCENARIO = (
    PRELUDE
    + r"""
S = {}
exp = c.create_experiment("registry-interop")
run = c.create_run(exp, run_name="trainer").info.run_id
S["exp"], S["run"] = exp, run

lm = c.create_logged_model(exp, name="clf", source_run_id=run, tags={"t1": "v1", "drop": "x"},
                           params={"lr": "0.1", "depth": "3"}, model_type="sklearn")
c.set_logged_model_tags(lm.model_id, {"t2": "v2"})
c.delete_logged_model_tag(lm.model_id, "drop")
c.log_model_params(lm.model_id, {"extra": "1"})
c.finalize_logged_model(lm.model_id, "READY")
if sys.argv[1] == "mlflow":  # (tracklet-file does not write a logged model's metrics yet)
    from mlflow.entities import Metric
    c.log_metric(run, "acc", 0.5, timestamp=1_700_000_000_000, step=0, model_id=lm.model_id)
    c.log_metric(run, "acc", 0.75, timestamp=1_700_000_000_001, step=1, model_id=lm.model_id)
    c.log_batch(run, metrics=[Metric("auc", 0.9, 1_700_000_000_002, 2, model_id=lm.model_id,
                                     dataset_name="eval", dataset_digest="d1")])
pending = c.create_logged_model(exp, name="pending")
failed = c.create_logged_model(exp, name="failed")
c.finalize_logged_model(failed.model_id, "FAILED")
gone = c.create_logged_model(exp, name="gone")
c.delete_logged_model(gone.model_id)
S["logged"] = {"clf": lm.model_id, "pending": pending.model_id, "failed": failed.model_id,
               "gone": gone.model_id}

c.create_registered_model("alpha", tags={"team": "ml", "drop": "x", "nested/key": "v"},
                          description="first model")
c.delete_registered_model_tag("alpha", "drop")
c.set_registered_model_tag("alpha", "added", "later")
c.update_registered_model("alpha", description="the first model")
v1 = c.create_model_version("alpha", f"runs:/{run}/model", run_id=run, tags={"k": "v", "gone": "y"},
                            description="from a run", run_link="http://example/run")
v2 = c.create_model_version("alpha", "s3://bucket/alpha/2", description="from a bucket")
v3 = c.create_model_version("alpha", f"models:/{lm.model_id}", model_id=lm.model_id)
v4 = c.create_model_version("alpha", "s3://bucket/alpha/4")
v5 = c.create_model_version("alpha", "models:/alpha/2")
c.delete_model_version_tag("alpha", "1", "gone")
c.set_model_version_tag("alpha", "2", "quality", "good")
c.update_model_version("alpha", "2", description="from a bucket, checked")
c.transition_model_version_stage("alpha", "2", "Production")
c.transition_model_version_stage("alpha", "3", "staging")
c.transition_model_version_stage("alpha", "1", "Production", archive_existing_versions=True)
c.transition_model_version_stage("alpha", "5", "Archived")
c.set_registered_model_alias("alpha", "champion", "1")
c.set_registered_model_alias("alpha", "challenger", "2")
c.set_registered_model_alias("alpha", "challenger", "3")
c.set_registered_model_alias("alpha", "temp", "2")
c.delete_registered_model_alias("alpha", "temp")
c.set_registered_model_alias("alpha", "doomed", "4")
c.delete_model_version("alpha", "4")

c.create_registered_model("beta")
c.create_model_version("beta", "s3://bucket/beta/1")
c.delete_registered_model("beta")

c.create_registered_model("gamma", description="to be renamed")
# (MLflow 3.17's file store fails to rename a model whose versions have tags)
c.create_model_version("gamma", "s3://bucket/gamma/1", description="g1")
c.create_model_version("gamma", "s3://bucket/gamma/2")
c.rename_registered_model("gamma", "delta")

c.create_registered_model("empty")
S["names"] = ["alpha", "beta", "gamma", "delta", "empty"]
with open(state_file, "w") as f:
    json.dump(S, f)
"""
)

#: What the other tool adds to a folder the first one wrote (run in turn by both tools).
MIXED = (
    PRELUDE
    + r"""
with open(state_file) as f:
    S = json.load(f)
me = sys.argv[1]
v = c.create_model_version("alpha", f"s3://bucket/alpha/{me}", tags={"by": me})
S.setdefault("added", {})[me] = str(v.version)
c.set_registered_model_alias("alpha", f"by-{me}", v.version)
c.set_model_version_tag("alpha", "1", f"seen-by-{me}", "yes")
c.transition_model_version_stage("alpha", v.version, "Staging", archive_existing_versions=True)
if me == "tracklet":
    c.rename_registered_model("delta", "epsilon")  # versions of its own tagged first
    S["names"].append("epsilon")
else:
    c.delete_registered_model("empty")
lm = c.create_logged_model(S["exp"], name=f"lm-{me}", params={"who": me})
c.finalize_logged_model(lm.model_id, "READY")
S["logged"][f"lm-{me}"] = lm.model_id
with open(state_file, "w") as f:
    json.dump(S, f)
"""
)

READER = (
    PRELUDE
    + r"""
with open(state_file) as f:
    S = json.load(f)


def code(call):
    try:
        return call()
    except Exception as e:
        return {"error": getattr(e, "error_code", type(e).__name__)}


def mv(v):
    return {
        "name": v.name, "version": str(v.version), "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp, "description": v.description,
        "user_id": v.user_id, "current_stage": v.current_stage, "source": v.source,
        "run_id": v.run_id, "status": v.status, "status_message": v.status_message,
        "tags": v.tags, "run_link": v.run_link, "aliases": sorted(v.aliases),
        "model_id": v.model_id, "params": v.params,
        "metrics": None if v.metrics is None else [[x.key, x.value, x.step] for x in v.metrics],
    }


def rm(r):
    return {
        "name": r.name, "creation_timestamp": r.creation_timestamp,
        "last_updated_timestamp": r.last_updated_timestamp, "description": r.description,
        "tags": r.tags, "aliases": r.aliases,
        "latest_versions": sorted((mv(v) for v in r.latest_versions or []), key=lambda d: int(d["version"])),
    }


def lmodel(x):
    return {
        "experiment_id": x.experiment_id, "model_id": x.model_id, "name": x.name,
        "artifact_location": x.artifact_location, "creation_timestamp": x.creation_timestamp,
        "last_updated_timestamp": x.last_updated_timestamp, "model_type": x.model_type,
        "source_run_id": x.source_run_id, "status": str(x.status), "status_message": x.status_message,
        "tags": x.tags, "params": x.params, "model_uri": x.model_uri,
        "metrics": [[k.key, k.value, k.step] for k in x.metrics or []],
    }


out = {"models": {}, "versions": {}, "searches": {}, "lookups": {}, "logged": {}}
for name in S["names"]:
    out["models"][name] = code(lambda: rm(c.get_registered_model(name)))
    for number in range(1, 9):
        key = f"{name}/{number}"
        out["versions"][key] = code(lambda: mv(c.get_model_version(name, str(number))))
        out["lookups"]["download/" + key] = code(lambda: c.get_model_version_download_uri(name, str(number)))
out["searches"]["all_models"] = code(lambda: [rm(r) for r in c.search_registered_models(order_by=["name ASC"])])
out["searches"]["like"] = code(lambda: [r.name for r in c.search_registered_models("name LIKE '%a'")])
out["searches"]["tag"] = code(lambda: [r.name for r in c.search_registered_models("tags.team = 'ml'")])
out["searches"]["paged"] = code(lambda: [r.name for r in c.search_registered_models(max_results=2)])
out["searches"]["all_versions"] = code(lambda: sorted(
    (mv(v) for v in c.search_model_versions(max_results=1000)), key=lambda d: (d["name"], int(d["version"]))))
out["searches"]["ordered_versions"] = code(lambda: [
    [v.name, str(v.version)] for v in c.search_model_versions(order_by=["name ASC", "version_number DESC"])])
out["searches"]["by_run"] = code(lambda: [int(v.version) for v in c.search_model_versions(f"run_id = '{S['run']}'")])
out["searches"]["by_name"] = code(lambda: sorted(int(v.version) for v in c.search_model_versions("name = 'alpha'")))
for alias in ("champion", "challenger", "temp", "doomed", "latest"):
    out["lookups"]["alias/" + alias] = code(lambda: mv(c.get_model_version_by_alias("alpha", alias)))
for stages in (None, ["Production"], ["Staging", "Production"], ["None"], ["Archived"]):
    out["lookups"][f"latest/{stages}"] = code(lambda: sorted(
        (mv(v) for v in c.get_latest_versions("alpha", stages=stages)), key=lambda d: int(d["version"])))
for key, model_id in S["logged"].items():
    out["logged"][key] = code(lambda: lmodel(c.get_logged_model(model_id)))
out["logged"]["search"] = code(lambda: sorted(x.name for x in c.search_logged_models(experiment_ids=[S["exp"]])))
out["logged"]["search_filtered"] = code(lambda: [
    x.name for x in c.search_logged_models(experiment_ids=[S["exp"]], filter_string="name = 'clf'")])
print(json.dumps(out, sort_keys=True))
"""
)


def _run(script: str, tool: str, root: str, state: pathlib.Path, cwd: pathlib.Path) -> Any:
    """Run ``script`` under ``tool`` on the folder ``root``; the JSON its last line prints."""
    return run_script(script, tool, root, state, cwd, {**uri_free_env(), "MLFLOW_ALLOW_FILE_STORE": "true"})


def _check_written(view: dict[str, Any], state: dict[str, Any], writer: str) -> None:
    """The dump holds what the scenario wrote (so equal dumps are not equally wrong)."""
    alpha = view["models"]["alpha"]
    assert alpha["description"] == "the first model"
    assert alpha["tags"] == {"team": "ml", "nested/key": "v", "added": "later"}
    assert alpha["aliases"] == {"champion": "1", "challenger": "3"}
    assert [v["version"] for v in alpha["latest_versions"]] == ["1", "3", "5"]
    versions = view["versions"]
    v1, v2, v3, v5 = (versions[f"alpha/{n}"] for n in (1, 2, 3, 5))
    assert v1["current_stage"] == "Production" and v1["aliases"] == ["champion"]
    assert (
        v1["tags"] == {"k": "v"} and v1["run_id"] == state["run"] and v1["run_link"] == "http://example/run"
    )
    assert v2["current_stage"] == "Archived" and v2["tags"] == {"quality": "good"}
    assert v2["description"] == "from a bucket, checked"
    assert v3["current_stage"] == "Staging" and v3["model_id"] == state["logged"]["clf"]
    assert v3["run_id"] == state["run"]  # taken from the logged model
    assert v3["params"] == {"lr": "0.1", "depth": "3", "extra": "1"}
    assert v5["source"] == "models:/alpha/2" and v5["current_stage"] == "Archived"
    assert view["lookups"]["download/alpha/5"] == "s3://bucket/alpha/2"
    assert view["lookups"]["download/alpha/3"].endswith(f"/models/{state['logged']['clf']}/artifacts")
    assert versions["alpha/4"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["lookups"]["alias/doomed"]["error"] == "INVALID_PARAMETER_VALUE"
    assert view["lookups"]["alias/latest"]["version"] == "5"
    assert view["models"]["beta"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["models"]["gamma"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    delta = view["models"]["delta"]
    assert delta["description"] == "to be renamed"
    assert versions["delta/1"]["name"] == "delta" and versions["delta/1"]["description"] == "g1"
    assert view["searches"]["like"] == ["alpha", "delta"]
    assert view["searches"]["by_run"] == [1, 3]  # v3 took the run of its logged model
    assert view["searches"]["by_name"] == [1, 2, 3, 5]
    logged = view["logged"]
    clf = logged["clf"]
    assert (
        clf["status"] == "READY" and clf["model_type"] == "sklearn" and clf["source_run_id"] == state["run"]
    )
    assert clf["tags"] == {"t1": "v1", "t2": "v2"}
    assert clf["params"] == {"lr": "0.1", "depth": "3", "extra": "1"}
    if writer == "mlflow":
        assert sorted(clf["metrics"]) == [["acc", 0.75, 1], ["auc", 0.9, 2]]
        assert sorted(v3["metrics"]) == [["acc", 0.75, 1], ["auc", 0.9, 2]]
    assert logged["pending"]["status"] == "PENDING" and logged["failed"]["status"] == "FAILED"
    assert logged["gone"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert logged["search"] == ["clf", "failed", "pending"]
    assert logged["search_filtered"] == ["clf"]


@pytest.mark.parametrize("writer", TOOLS)
def test_registry_written_by_one_tool_reads_the_same_in_both(writer: str, tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    state = tmp_path / "state.json"
    _run(SCENARIO, writer, root, state, tmp_path)
    views = {tool: _run(READER, tool, root, state, tmp_path) for tool in TOOLS}
    assert differences(views["mlflow"], views["tracklet"]) == []
    _check_written(views["tracklet"], json.loads(state.read_text()), writer)


def test_registry_written_by_both_tools_in_turn_reads_the_same_in_both(tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    state = tmp_path / "state.json"
    _run(SCENARIO, "mlflow", root, state, tmp_path)
    _run(MIXED, "tracklet", root, state, tmp_path)
    _run(MIXED, "mlflow", root, state, tmp_path)
    views = {tool: _run(READER, tool, root, state, tmp_path) for tool in TOOLS}
    assert differences(views["mlflow"], views["tracklet"]) == []
    written = json.loads(state.read_text())
    assert written["added"] == {"tracklet": "6", "mlflow": "7"}  # deleted 4 still counts
    view = views["tracklet"]
    alpha = view["models"]["alpha"]
    assert alpha["aliases"] == {"champion": "1", "challenger": "3", "by-tracklet": "6", "by-mlflow": "7"}
    assert view["versions"]["alpha/6"]["current_stage"] == "Archived"  # archived by MLflow's transition
    assert view["versions"]["alpha/7"]["current_stage"] == "Staging"
    assert view["versions"]["alpha/1"]["tags"] == {
        "k": "v",
        "seen-by-tracklet": "yes",
        "seen-by-mlflow": "yes",
    }
    assert view["models"]["delta"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["models"]["epsilon"]["description"] == "to be renamed"
    assert view["versions"]["epsilon/2"]["name"] == "epsilon"
    assert view["models"]["empty"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["logged"]["lm-tracklet"]["params"] == {"who": "tracklet"}
    assert view["logged"]["lm-mlflow"]["status"] == "READY"
    assert view["logged"]["search"] == ["clf", "failed", "lm-mlflow", "lm-tracklet", "pending"]


OUTPUTS_BY_TRACKLET = r"""
import json, sys
from tracklet.entities import LoggedModelOutput
from tracklet.plugins import get_tracking_store
from tracklet_registry.file import FileRegistryStore
root, state_file = sys.argv[2], sys.argv[3]
tracking = get_tracking_store(root)
exp = tracking.create_experiment("outputs")
run = tracking.create_run(exp, "someone", 1_700_000_000_000, [], "producer").info.run_id
store = FileRegistryStore(root)
ids = [store.create_logged_model(exp, name=f"out{i}", source_run_id=run).model_id for i in range(2)]
store.log_outputs(run, [LoggedModelOutput(ids[0], 0), LoggedModelOutput(ids[1], 7)])
store.log_outputs(run, [LoggedModelOutput(ids[0], 0)])  # once per model
with open(state_file, "w") as f:
    json.dump({"run": run, "ids": ids}, f)
"""

OUTPUTS_BY_MLFLOW = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
root, state_file = sys.argv[2], sys.argv[3]
with open(state_file) as f:
    S = json.load(f)
outputs = MlflowClient(tracking_uri=root).get_run(S["run"]).outputs.model_outputs
print(json.dumps(sorted([o.model_id, o.step] for o in outputs)))
"""


def test_run_outputs_tracklet_records_read_in_mlflow(tmp_path: pathlib.Path) -> None:
    root = str(tmp_path / "mlruns")
    state = tmp_path / "state.json"
    _run(OUTPUTS_BY_TRACKLET, "tracklet", root, state, tmp_path)
    written = json.loads(state.read_text())
    read = _run(OUTPUTS_BY_MLFLOW, "mlflow", root, state, tmp_path)
    assert read == sorted([[written["ids"][0], 0], [written["ids"][1], 7]])
