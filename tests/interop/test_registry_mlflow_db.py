"""The model registry in a database MLflow created reads and writes the same in both tools.

Real MLflow 3.17.2 (in a subprocess) writes a registry into a database of its own schema
(sqlite, and PostgreSQL and MariaDB/MySQL when reachable): registered models with tags and descriptions,
versions from a run, from other sources, from a logged model and from another version,
version tags, aliases (set, moved, deleted, dropped with their version), stage
transitions with and without archiving, a deleted version, a deleted and a renamed model;
logged models with tags, params, metrics (NaN and infinity included), final statuses and
a deleted one (:data:`SCENARIO`).

:data:`READER` dumps the database through each tool's public ``MlflowClient``; the dumps
must be equal field by field and hold what was written. Then tracklet and MLflow each add
versions, aliases, tags, a rename and a logged model (:data:`MIXED`), in turn, on the same
database: both still read everything alike, version numbers continue past the deleted
one, and tracklet created, altered and stamped nothing (same tables, same
``alembic_version``), so MLflow keeps working on the file.

One difference is normalised out of the dumps: MLflow's SQL store gives the versions in a
model's ``latest_versions`` and in ``search_model_versions`` results no aliases (only a
direct version lookup fills them), where tracklet's stores always give a version its
aliases; the aliases are compared through the lookups that fill them in both tools.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from _interop_tools import differences, postgres_database, run_script, schema, uri_free_env

pytestmark = pytest.mark.interop

TOOLS = ("mlflow", "tracklet")

PRELUDE = r"""
import json, math, os, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "mlflow":
    import mlflow as m
    from mlflow import MlflowClient
    from mlflow.entities import Metric
else:
    import tracklet as m
    from tracklet import MlflowClient
    from tracklet.entities import Metric
uri, state_file = sys.argv[2], sys.argv[3]
m.set_tracking_uri(uri)
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
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
c.log_metric(run, "acc", 0.5, timestamp=1_700_000_000_000, step=0, model_id=lm.model_id)
c.log_metric(run, "acc", 0.75, timestamp=1_700_000_000_001, step=1, model_id=lm.model_id)
c.log_batch(run, metrics=[
    Metric("auc", 0.9, 1_700_000_000_002, 2, model_id=lm.model_id, dataset_name="eval", dataset_digest="d1"),
    Metric("odd", float("nan"), 1_700_000_000_003, 3, model_id=lm.model_id),
    Metric("big", float("inf"), 1_700_000_000_004, 4, model_id=lm.model_id),
])
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
c.create_model_version("alpha", f"runs:/{run}/model", run_id=run, tags={"k": "v", "gone": "y"},
                       description="from a run", run_link="http://example/run")
c.create_model_version("alpha", "s3://bucket/alpha/2", description="from a bucket")
c.create_model_version("alpha", f"models:/{lm.model_id}", model_id=lm.model_id)
c.create_model_version("alpha", "s3://bucket/alpha/4")
c.create_model_version("alpha", "models:/alpha/2")
c.delete_model_version_tag("alpha", "1", "gone")
c.set_model_version_tag("alpha", "2", "quality", "good")
c.update_model_version("alpha", "2", description="from a bucket, checked")
c.transition_model_version_stage("alpha", "2", "Production")
c.transition_model_version_stage("alpha", "3", "staging")
# (an int: MLflow's SQL store compares the version as given, which psycopg 3 refuses for a string)
c.transition_model_version_stage("alpha", 1, "Production", archive_existing_versions=True)
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
c.create_model_version("gamma", "s3://bucket/gamma/1", description="g1", tags={"g": "1"})
c.create_model_version("gamma", "s3://bucket/gamma/2")
c.set_registered_model_alias("gamma", "best", "2")
c.rename_registered_model("gamma", "delta")

c.create_registered_model("empty")
S["names"] = ["alpha", "beta", "gamma", "delta", "empty"]
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
v = c.create_model_version("alpha", f"s3://bucket/alpha/{me}", tags={"by": me}, description=f"by {me}")
S.setdefault("added", {})[me] = str(v.version)
c.set_registered_model_alias("alpha", f"by-{me}", v.version)
c.set_model_version_tag("alpha", "1", f"seen-by-{me}", "yes")
c.set_registered_model_tag("alpha", f"touched-by-{me}", "yes")
c.transition_model_version_stage("alpha", int(v.version), "Staging", archive_existing_versions=True)
if me == "tracklet":
    c.rename_registered_model("delta", "epsilon")
    c.delete_model_version("alpha", "5")
    S["names"].append("epsilon")
else:
    c.delete_registered_model("empty")
    c.update_registered_model("epsilon", description="renamed by tracklet, described by mlflow")
lm = c.create_logged_model(S["exp"], name=f"lm-{me}", params={"who": me}, tags={"t": me})
c.log_metric(S["run"], f"m-{me}", 1.5, timestamp=1_700_000_000_100, step=7, model_id=lm.model_id)
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


def mv(v, aliases=True):
    out = {
        "name": v.name, "version": str(v.version), "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp, "description": v.description,
        "user_id": v.user_id, "current_stage": v.current_stage, "source": v.source,
        "run_id": v.run_id, "status": v.status, "status_message": v.status_message,
        "tags": v.tags, "run_link": v.run_link, "model_id": v.model_id, "params": v.params,
        "metrics": None if v.metrics is None else [[x.key, x.value, x.step] for x in v.metrics],
    }
    if aliases:  # (MLflow's SQL store fills them on direct lookups only)
        out["aliases"] = sorted(v.aliases)
    return out


def rm(r):
    return {
        "name": r.name, "creation_timestamp": r.creation_timestamp,
        "last_updated_timestamp": r.last_updated_timestamp, "description": r.description,
        "tags": r.tags, "aliases": r.aliases,
        "latest_versions": sorted((mv(v, False) for v in r.latest_versions or []),
                                  key=lambda d: int(d["version"])),
    }


def lmodel(x):
    return {
        "experiment_id": x.experiment_id, "model_id": x.model_id, "name": x.name,
        "artifact_location": x.artifact_location, "creation_timestamp": x.creation_timestamp,
        "last_updated_timestamp": x.last_updated_timestamp, "model_type": x.model_type,
        "source_run_id": x.source_run_id, "status": str(x.status), "status_message": x.status_message,
        "tags": x.tags, "params": x.params, "model_uri": x.model_uri,
        "metrics": sorted([k.key, k.value, k.step, k.timestamp, k.run_id, k.dataset_name, k.dataset_digest]
                          for k in x.metrics or []),
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
    (mv(v, False) for v in c.search_model_versions(max_results=1000)),
    key=lambda d: (d["name"], int(d["version"]))))
out["searches"]["ordered_versions"] = code(lambda: [
    [v.name, str(v.version)] for v in c.search_model_versions(order_by=["name ASC", "version_number DESC"])])
out["searches"]["by_run"] = code(lambda: [int(v.version) for v in c.search_model_versions(f"run_id = '{S['run']}'")])
out["searches"]["by_name"] = code(lambda: sorted(int(v.version) for v in c.search_model_versions("name = 'alpha'")))
for alias in ("champion", "challenger", "temp", "doomed", "latest", "by-mlflow", "by-tracklet"):
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

TABLES = r"""
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.connect() as conn:
    tables = sorted(sa.inspect(conn).get_table_names())
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
print(json.dumps({"tables": tables, "revision": revision}))
"""


def _run(script: str, tool: str, uri: str, state: pathlib.Path, cwd: pathlib.Path) -> Any:
    return run_script(script, tool, uri, state, cwd, uri_free_env())


def _schema(uri: str, tmp_path: pathlib.Path) -> dict[str, Any]:
    return schema(TABLES, uri, tmp_path, uri_free_env())


def _views(uri: str, state: pathlib.Path, tmp_path: pathlib.Path) -> dict[str, Any]:
    return {tool: _run(READER, tool, uri, state, tmp_path) for tool in TOOLS}


def _check_written(view: dict[str, Any], state: dict[str, Any]) -> None:
    """The dump holds what MLflow's scenario wrote (so equal dumps are not equally wrong)."""
    alpha = view["models"]["alpha"]
    assert alpha["description"] == "the first model"
    assert alpha["tags"] == {"team": "ml", "nested/key": "v", "added": "later"}
    assert alpha["aliases"] == {"champion": 1, "challenger": 3}
    assert [v["version"] for v in alpha["latest_versions"]] == ["1", "3", "5"]
    versions = view["versions"]
    v1, v2, v3, v5 = (versions[f"alpha/{n}"] for n in (1, 2, 3, 5))
    assert v1["current_stage"] == "Production" and v1["aliases"] == ["champion"]
    assert (
        v1["tags"] == {"k": "v"} and v1["run_id"] == state["run"] and v1["run_link"] == "http://example/run"
    )
    assert v2["current_stage"] == "Archived" and v2["tags"] == {"quality": "good"}
    assert v2["description"] == "from a bucket, checked"
    assert v3["current_stage"] == "Staging" and v3["run_id"] == state["run"]  # the logged model's run
    assert v5["source"] == "models:/alpha/2" and v5["current_stage"] == "Archived"
    assert view["lookups"]["download/alpha/5"] == "s3://bucket/alpha/2"
    assert view["lookups"]["download/alpha/3"].endswith(f"/models/{state['logged']['clf']}/artifacts")
    assert versions["alpha/4"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["lookups"]["alias/doomed"]["error"] == "INVALID_PARAMETER_VALUE"
    assert view["lookups"]["alias/latest"]["version"] == "5"
    assert view["models"]["beta"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["models"]["gamma"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    delta = view["models"]["delta"]
    assert delta["description"] == "to be renamed" and delta["aliases"] == {"best": 2}
    assert versions["delta/1"]["name"] == "delta" and versions["delta/1"]["tags"] == {"g": "1"}
    assert view["searches"]["like"] == ["alpha", "delta"]
    assert view["searches"]["by_run"] == [1, 3]
    assert view["searches"]["by_name"] == [1, 2, 3, 5]
    clf = view["logged"]["clf"]
    assert (
        clf["status"] == "READY" and clf["model_type"] == "sklearn" and clf["source_run_id"] == state["run"]
    )
    assert clf["tags"] == {"t1": "v1", "t2": "v2"} and clf["params"] == {
        "lr": "0.1",
        "depth": "3",
        "extra": "1",
    }
    metrics = {k: (value, step) for k, value, step, *_ in clf["metrics"]}
    assert [x[:3] for x in clf["metrics"] if x[0] == "acc"] == [["acc", 0.5, 0], ["acc", 0.75, 1]]
    assert metrics["auc"] == (0.9, 2)
    assert metrics["odd"] == (0.0, 3)  # MLflow keeps a logged model's NaN as 0
    assert metrics["big"] == (1.7976931348623157e308, 4)
    logged = view["logged"]
    assert logged["pending"]["status"] == "PENDING" and logged["failed"]["status"] == "FAILED"
    assert logged["gone"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert logged["search"] == ["clf", "failed", "pending"]
    assert logged["search_filtered"] == ["clf"]


def test_registry_mlflow_wrote_reads_the_same_in_tracklet(mlflow_db: str, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    _run(SCENARIO, "mlflow", mlflow_db, state, tmp_path)
    views = _views(mlflow_db, state, tmp_path)
    assert differences(views["mlflow"], views["tracklet"]) == []
    _check_written(views["tracklet"], json.loads(state.read_text()))


def test_registry_both_tools_write_in_turn_and_mlflow_keeps_working(
    mlflow_db: str, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state.json"
    _run(SCENARIO, "mlflow", mlflow_db, state, tmp_path)
    before = _schema(mlflow_db, tmp_path)
    _run(MIXED, "tracklet", mlflow_db, state, tmp_path)
    assert _schema(mlflow_db, tmp_path) == before  # no table created, altered away or stamped
    _run(MIXED, "mlflow", mlflow_db, state, tmp_path)
    views = _views(mlflow_db, state, tmp_path)
    assert differences(views["mlflow"], views["tracklet"]) == []
    assert _schema(mlflow_db, tmp_path) == before
    written = json.loads(state.read_text())
    assert written["added"] == {"tracklet": "6", "mlflow": "7"}  # the deleted 4 still counts
    view = views["mlflow"]
    alpha = view["models"]["alpha"]
    assert alpha["aliases"] == {"champion": 1, "challenger": 3, "by-tracklet": 6, "by-mlflow": 7}
    assert {"touched-by-tracklet", "touched-by-mlflow"} <= set(alpha["tags"])
    assert view["versions"]["alpha/6"]["current_stage"] == "Archived"  # archived by MLflow's transition
    assert view["versions"]["alpha/6"]["tags"] == {"by": "tracklet"}
    assert view["versions"]["alpha/6"]["description"] == "by tracklet"
    assert view["versions"]["alpha/7"]["current_stage"] == "Staging"
    assert view["versions"]["alpha/5"] == {"error": "RESOURCE_DOES_NOT_EXIST"}  # deleted by tracklet
    assert view["versions"]["alpha/1"]["tags"] == {
        "k": "v",
        "seen-by-tracklet": "yes",
        "seen-by-mlflow": "yes",
    }
    assert view["models"]["delta"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    epsilon = view["models"]["epsilon"]
    assert epsilon["description"] == "renamed by tracklet, described by mlflow"
    assert epsilon["aliases"] == {"best": 2}
    assert view["versions"]["epsilon/1"]["tags"] == {"g": "1"}
    assert view["models"]["empty"] == {"error": "RESOURCE_DOES_NOT_EXIST"}
    assert view["logged"]["lm-tracklet"]["params"] == {"who": "tracklet"}
    assert view["logged"]["lm-tracklet"]["tags"] == {"t": "tracklet"}
    assert [x[:3] for x in view["logged"]["lm-tracklet"]["metrics"]] == [["m-tracklet", 1.5, 7]]
    assert view["logged"]["lm-mlflow"]["status"] == "READY"
    assert view["logged"]["search"] == ["clf", "failed", "lm-mlflow", "lm-tracklet", "pending"]


WRITER = r"""
import sys, warnings
warnings.simplefilter("ignore")
tool, uri, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if tool == "mlflow":
    from mlflow import MlflowClient
else:
    from tracklet import MlflowClient
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
print(" ".join(str(c.create_model_version("shared", f"s3://bucket/{tool}/{i}").version) for i in range(count)))
"""


def test_mlflow_and_tracklet_register_versions_of_one_model_at_once(tmp_path: pathlib.Path) -> None:
    """MLflow's writers take no lock: a number one of them takes between tracklet's read and
    insert is a duplicate key tracklet numbers again; every version gets its own number."""
    with postgres_database("tracklet_mlflow_registry") as uri:
        setup = "import warnings; warnings.simplefilter('ignore'); from mlflow import MlflowClient; "
        setup += f"MlflowClient(tracking_uri='{uri}', registry_uri='{uri}').create_registered_model('shared')"
        subprocess.run(
            [sys.executable, "-c", setup], env=uri_free_env(), check=True, capture_output=True, timeout=600
        )
        writers = [("mlflow", 10), ("tracklet", 15), ("tracklet", 15)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, tool, uri, str(count)],
                env=uri_free_env(),
                cwd=str(tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for tool, count in writers
        ]
        numbers: list[int] = []
        for (tool, count), proc in zip(writers, procs, strict=True):
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, f"{tool}: {err[-3000:]}"
            got = [int(n) for n in out.split()]
            assert len(got) == count
            numbers += got
        assert sorted(numbers) == list(range(1, 41))
