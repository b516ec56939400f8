"""The real ``mlflow`` client's model registry against ``tracklet server``, side by side
with MLflow 3.17.2's own ``mlflow server``.

One script written for MLflow runs in a subprocess against each server: every registry
method of ``MlflowClient`` (registered models, versions, tags, aliases, stages, search
with filters, order and pages, download URIs, ``copy_model_version``, the errors), the
fluent ``register_model``, and MLflow 3's ``log_model`` path: ``mlflow.pyfunc.log_model(
name=..., python_model=..., registered_model_name=...)``, an alias, then
``mlflow.pyfunc.load_model("models:/name@alias")`` predicting; the same with
``mlflow.sklearn.log_model``. What it observes, ids and clock times left out, must be
identical on both servers (artifacts proxied; tracklet on sqlite and on an ``mlruns``
folder, MLflow on sqlite).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracklet_http.testing import (
    ServerProcess,
    free_port,
    mlflow_server_args,
    start_server,
    tracklet_server_args,
)

pytestmark = pytest.mark.interop

SCRIPT = r"""
import json, re, sys, warnings
warnings.simplefilter("ignore")
import logging
logging.disable(logging.WARNING)
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import RegisteredModelTag
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri(sys.argv[1])
client = MlflowClient()
out = {}
IDS = re.compile(r"[0-9a-f]{32}")


def plain(text):
    return None if text is None else IDS.sub("<id>", str(text))


def mv_view(mv):
    return {
        "name": mv.name, "version": str(mv.version), "stage": mv.current_stage,
        "description": mv.description, "source": plain(mv.source), "run_id": bool(mv.run_id),
        "status": mv.status, "tags": dict(sorted(mv.tags.items())), "aliases": sorted(mv.aliases),
        "run_link": mv.run_link,
    }


def rm_view(rm):
    return {
        "name": rm.name, "description": rm.description, "tags": dict(sorted(rm.tags.items())),
        "aliases": dict(sorted(rm.aliases.items())),
        "latest": sorted((v.version, v.current_stage) for v in rm.latest_versions or []),
    }


def error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except MlflowException as e:
        return e.error_code
    return "no error"


exp_id = client.create_experiment("registry-interop")
run = client.create_run(exp_id)
run_id = run.info.run_id
client.log_text(run_id, "fake model", "model/MLmodel")
client.set_terminated(run_id)

# -- registered models
rm = client.create_registered_model("alpha", tags={"team": "vision"}, description="first")
out["created"] = rm_view(rm)
out["duplicate"] = error(client.create_registered_model, "alpha")
out["unknown"] = error(client.get_registered_model, "nope")
client.create_registered_model("beta")
client.create_registered_model("gamma", tags={"team": "nlp"})
out["updated"] = rm_view(client.update_registered_model("beta", description="second"))
client.set_registered_model_tag("beta", "tier", "gold")
client.set_registered_model_tag("alpha", "team", "vision2")
client.delete_registered_model_tag("gamma", "team")
out["tags"] = {n: client.get_registered_model(n).tags for n in ("alpha", "beta", "gamma")}
client.rename_registered_model("gamma", "delta")
out["renamed"] = rm_view(client.get_registered_model("delta"))
out["gone_after_rename"] = error(client.get_registered_model, "gamma")

# -- versions from a run's artifacts, runs:/ URIs and the fluent register_model
source = f"{run.info.artifact_uri}/model"
v1 = client.create_model_version("alpha", source, run_id=run_id, tags={"k": "v"}, description="d1")
v2 = client.create_model_version("alpha", f"runs:/{run_id}/model", run_id=run_id)
v3 = mlflow.register_model(f"runs:/{run_id}/model", "alpha")
out["versions"] = [mv_view(v) for v in (v1, v2, v3)]
out["get_version"] = mv_view(client.get_model_version("alpha", "1"))
out["unknown_version"] = error(client.get_model_version, "alpha", "99")
out["download_uri"] = plain(client.get_model_version_download_uri("alpha", "1"))
out["updated_version"] = mv_view(client.update_model_version("alpha", "2", description="d2"))
client.set_model_version_tag("alpha", "2", "stage-tag", "x")
client.delete_model_version_tag("alpha", "1", "k")
out["version_tags"] = [client.get_model_version("alpha", v).tags for v in ("1", "2")]

# -- stages
out["stages"] = client.get_model_version_stages("alpha", "1")
out["to_staging"] = mv_view(client.transition_model_version_stage("alpha", "1", "staging"))
out["to_production"] = mv_view(client.transition_model_version_stage("alpha", "2", "Production"))
out["archive"] = mv_view(
    client.transition_model_version_stage("alpha", "3", "Production", archive_existing_versions=True)
)
out["latest"] = sorted(mv_view(v)["version"] for v in client.get_latest_versions("alpha"))
out["latest_staging"] = [mv_view(v) for v in client.get_latest_versions("alpha", stages=["Staging"])]
out["bad_stage"] = error(client.transition_model_version_stage, "alpha", "1", "Nowhere")

# -- aliases
client.set_registered_model_alias("alpha", "champion", "1")
client.set_registered_model_alias("alpha", "challenger", "2")
client.set_registered_model_alias("alpha", "champion", "3")
out["by_alias"] = mv_view(client.get_model_version_by_alias("alpha", "champion"))
client.delete_registered_model_alias("alpha", "challenger")
out["alias_model"] = rm_view(client.get_registered_model("alpha"))
out["unknown_alias"] = error(client.get_model_version_by_alias, "alpha", "challenger")
out["reserved_alias"] = error(client.set_registered_model_alias, "alpha", "latest", "1")

# -- copy
copy = client.copy_model_version("models:/alpha/3", "epsilon")
out["copy"] = mv_view(copy)
out["copy_download_uri"] = plain(client.get_model_version_download_uri("epsilon", copy.version))

# -- search
out["search_models"] = [rm_view(m) for m in client.search_registered_models()]
out["search_like"] = [m.name for m in client.search_registered_models("name LIKE '%a'")]
out["search_tag"] = [m.name for m in client.search_registered_models("tags.team = 'vision2'")]
page = client.search_registered_models(max_results=2)
out["pages"] = [[m.name for m in page], bool(page.token)]
out["page_2"] = [m.name for m in client.search_registered_models(max_results=2, page_token=page.token)]
out["order_desc"] = [m.name for m in client.search_registered_models(order_by=["name DESC"])]
out["search_versions"] = sorted(
    (v.name, v.version) for v in client.search_model_versions(f"run_id = '{run_id}'")
)
out["search_versions_name"] = [
    (v.name, v.version) for v in client.search_model_versions("name = 'alpha'", order_by=["version_number ASC"])
]
out["bad_filter"] = error(client.search_registered_models, "nonsense ===")

# -- deletes
client.delete_model_version("alpha", "1")
out["deleted_version"] = error(client.get_model_version, "alpha", "1")
out["after_delete"] = rm_view(client.get_registered_model("alpha"))
client.delete_registered_model("delta")
out["deleted_model"] = error(client.get_registered_model, "delta")


# -- MLflow 3: log_model, registration, alias, load by alias
class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 2


mlflow.set_experiment("models")
with mlflow.start_run() as model_run:
    info = mlflow.pyfunc.log_model(
        name="doubler", python_model=Doubler(), registered_model_name="doubler-model",
        pip_requirements=["mlflow"],
    )
out["logged_model"] = {
    "name": info.name, "uri": plain(info.model_uri), "registered_version": info.registered_model_version,
}
logged = mlflow.get_logged_model(info.model_id)
out["logged_model_entity"] = {
    "name": logged.name, "status": str(logged.status), "source_run": logged.source_run_id == model_run.info.run_id,
    "location": plain(logged.artifact_location),
}
out["run_outputs"] = [o.model_id == info.model_id for o in client.get_run(model_run.info.run_id).outputs.model_outputs]
out["searched_logged"] = [m.name for m in mlflow.search_logged_models(experiment_ids=[logged.experiment_id], output_format="list")]
client.set_registered_model_alias("doubler-model", "prod", info.registered_model_version)
loaded = mlflow.pyfunc.load_model("models:/doubler-model@prod")
out["predict"] = [float(v) for v in loaded.predict(pd.DataFrame({"x": [1.0, 2.5, 4.0]}))]
mv = client.get_model_version("doubler-model", "1")
out["registered_from_logged"] = mv_view(mv)
out["registered_download_uri"] = plain(client.get_model_version_download_uri("doubler-model", "1"))

try:
    import sklearn  # noqa: F401
    from sklearn.linear_model import LinearRegression
except ImportError:
    out["sklearn"] = "not installed"
else:
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    fitted = LinearRegression().fit(X, 3 * X[:, 0] + 1)
    with mlflow.start_run():
        sk = mlflow.sklearn.log_model(
            fitted, name="linear", registered_model_name="linear-model", pip_requirements=["scikit-learn"]
        )
    sk_loaded = mlflow.sklearn.load_model(f"models:/linear-model/{sk.registered_model_version}")
    out["sklearn"] = [round(float(v), 6) for v in sk_loaded.predict(np.array([[4.0], [5.0]]))]
    out["sklearn_pyfunc"] = [round(float(v), 6) for v in mlflow.pyfunc.load_model("models:/linear-model/latest").predict(np.array([[6.0]]))]

print("RESULT " + json.dumps(out, sort_keys=True))
"""


def _observe(url: str, workdir: Path) -> dict[str, object]:
    script = workdir / "registry_script.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), url], capture_output=True, text=True, timeout=600, cwd=workdir
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"script failed against {url}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def _serve(args_for: object, root: Path, backend: str) -> ServerProcess:
    port = free_port()
    # one worker process (MLflow's default is 4): parallel test workers each start servers
    args = args_for(port, backend, str(root / "artifacts"), "--workers", "1")  # type: ignore[operator]
    return start_server(args, port, root / "server.log")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    results = {}
    for kind, args_for in (
        ("tracklet", tracklet_server_args),
        ("tracklet-file", tracklet_server_args),
        ("mlflow", mlflow_server_args),
    ):
        root = tmp_path_factory.mktemp(kind)
        backend = str(root / "mlruns") if kind == "tracklet-file" else f"sqlite:///{root / 'db.sqlite'}"
        server = _serve(args_for, root, backend)
        try:
            results[kind] = _observe(server.url, root)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{kind} server log:\n{server.output()[-4000:]}") from None
        finally:
            server.stop()
    return results


@pytest.mark.parametrize("kind", ["tracklet", "tracklet-file"])
def test_log_model_register_alias_and_load_work_against_tracklet_server(
    observed: dict[str, dict[str, object]], kind: str
) -> None:
    seen = observed[kind]
    assert seen["predict"] == [2.0, 5.0, 8.0]
    assert seen["logged_model"] == {"name": "doubler", "uri": "models:/m-<id>", "registered_version": "1"}
    assert seen["logged_model_entity"]["status"] == "READY"  # type: ignore[index]
    assert seen["sklearn"] in ([13.0, 16.0], "not installed")


@pytest.mark.parametrize(
    "key",
    [
        "created", "duplicate", "unknown", "updated", "tags", "renamed", "gone_after_rename",
        "versions", "get_version", "unknown_version", "download_uri", "updated_version", "version_tags",
        "stages", "to_staging", "to_production", "archive", "latest", "latest_staging", "bad_stage",
        "by_alias", "alias_model", "unknown_alias", "reserved_alias", "copy", "copy_download_uri",
        "search_models", "search_like", "search_tag", "pages", "page_2", "order_desc", "search_versions",
        "search_versions_name", "bad_filter", "deleted_version", "after_delete", "deleted_model",
        "logged_model", "logged_model_entity", "searched_logged", "predict",
        "registered_from_logged", "registered_download_uri", "sklearn", "sklearn_pyfunc",
    ],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["tracklet", "tracklet-file"])
def test_same_as_mlflow_server(observed: dict[str, dict[str, object]], key: str, kind: str) -> None:
    assert observed[kind].get(key) == observed["mlflow"].get(key)


def test_run_outputs_name_the_logged_model(observed: dict[str, dict[str, object]]) -> None:
    assert observed["tracklet"]["run_outputs"] == observed["mlflow"]["run_outputs"] == [True]
