"""The store-state refusals read as MLflow's do: the same scenario runs against MLflow's
own ``SqlAlchemyStore`` (in a subprocess, on its own sqlite file) and against
``SqlStore``, and each refusal must carry the same error code and the same words; the
dataset summaries of ``search_datasets`` must be MLflow's ``_search_datasets`` ones.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tracklet.entities import Dataset, DatasetInput, InputTag, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet.stores import TrackingStore
from tracklet_sql.store import SqlStore

pytestmark = pytest.mark.interop

# One scenario, written against the methods both stores share. ``calls`` records, for
# each step, [error code, message] or the result; ids differ between the stores, so
# messages are compared with the ids put back in as placeholders.
SCENARIO = r"""
def scenario(store, tag, param, metric, dataset_input, refusal, summaries):
    out = {}
    exp = store.create_experiment("e", tags=[tag("keep", "1")])
    ids = {exp: "<exp>"}
    run = store.create_run(exp, "u", 1, [], "r").info.run_id
    ids[run] = "<run>"
    store.log_param(run, param("lr", "0.1"))
    store.log_inputs(run, [dataset_input("wine", "w1", "training"), dataset_input("iris", "i1", None)])
    other = store.create_run(exp, "u", 1, [], "o").info.run_id
    store.log_inputs(other, [dataset_input("wine", "w1", "eval")])
    out["summaries"] = summaries(store, [exp])
    out["param_changed"] = refusal(lambda: store.log_param(run, param("lr", "0.2")), ids)
    out["no_run_tag"] = refusal(lambda: store.delete_tag(run, "never"), ids)
    out["no_experiment_tag"] = refusal(lambda: store.delete_experiment_tag(exp, "never"), ids)
    store.delete_run(run)
    out["deleted_run_metric"] = refusal(lambda: store.log_metric(run, metric("m", 1.0, 1, 0)), ids)
    out["deleted_run_batch"] = refusal(lambda: store.log_batch(run, [], [param("p", "1")], []), ids)
    out["deleted_run_tag"] = refusal(lambda: store.set_tag(run, tag("t", "1")), ids)
    out["deleted_run_delete_tag"] = refusal(lambda: store.delete_tag(run, "mlflow.runName"), ids)
    out["deleted_run_update"] = refusal(lambda: store.update_run_info(run, 3, 5, None), ids)
    store.delete_experiment(exp)
    out["deleted_experiment_rename"] = refusal(lambda: store.rename_experiment(exp, "new"), ids)
    out["deleted_experiment_delete_tag"] = refusal(lambda: store.delete_experiment_tag(exp, "keep"), ids)
    out["deleted_experiment_set_tag"] = refusal(lambda: store.set_experiment_tag(exp, tag("k", "v")), ids)
    out["unknown_experiment"] = refusal(lambda: store.get_experiment("987654"), ids)
    out["unknown_run"] = refusal(lambda: store.get_run("0123456789abcdef0123456789abcdef"), ids)
    return out


def scrub(message, ids):
    import re

    for value, placeholder in ids.items():  # whole ids only: "1" is not in "0.1" or a run id
        message = re.sub(r"(?<![\w.])" + re.escape(value) + r"(?![\w.])", placeholder, message)
    return message


def refusal(call, ids):
    try:
        call()
    except Exception as exc:
        code = getattr(exc, "error_code", type(exc).__name__)
        return [str(code), scrub(getattr(exc, "message", str(exc)), ids)]
    return None
"""

MLFLOW_SIDE = (
    SCENARIO
    + r"""
import json, sys
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ExperimentTag
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

def dataset_input(name, digest, context):
    tags = [InputTag("mlflow.data.context", context)] if context else []
    return DatasetInput(Dataset(name, digest, "local", '{"uri": "x"}'), tags)

def summaries(store, ids):
    return sorted([s.experiment_id == ids[0], s.name, s.digest, s.context] for s in store._search_datasets(ids))

store = SqlAlchemyStore(sys.argv[1], sys.argv[2])
result = scenario(store, ExperimentTag, Param, Metric, dataset_input, refusal, summaries)
print(json.dumps(result))
"""
)


def _dataset_input(name: str, digest: str, context: str | None) -> DatasetInput:
    tags = [InputTag("mlflow.data.context", context)] if context else []
    return DatasetInput(Dataset(name, digest, "local", '{"uri": "x"}'), tags)


def _summaries(store: TrackingStore, ids: list[str]) -> list[list[Any]]:
    return sorted(
        [s.experiment_id == ids[0], s.name, s.digest, s.context] for s in store.search_datasets(ids)
    )


def _tracklet_side(store: TrackingStore) -> dict[str, Any]:
    from tracklet.entities import Metric

    namespace: dict[str, Any] = {}
    exec(SCENARIO, namespace)  # the very code MLflow's side runs
    scenario: Callable[..., dict[str, Any]] = namespace["scenario"]

    def refusal(call: Callable[[], object], ids: dict[str, str]) -> list[str] | None:
        try:
            call()
        except TrackletException as exc:
            return [exc.error_code, namespace["scrub"](exc.message, ids)]
        return None

    return scenario(store, RunTag, Param, Metric, _dataset_input, refusal, _summaries)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("refusals")
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            MLFLOW_SIDE,
            f"sqlite:///{root / 'mlflow.db'}",
            str(root / "mlflow-artifacts"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    mlflow_view = json.loads(answer.stdout.strip().splitlines()[-1])
    store = SqlStore(f"sqlite:///{pathlib.Path(root) / 'tracklet.db'}", str(root / "tracklet-artifacts"))
    try:
        return mlflow_view, _tracklet_side(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    "step",
    [
        "param_changed",
        "no_run_tag",
        "no_experiment_tag",
        "deleted_run_metric",
        "deleted_run_batch",
        "deleted_run_tag",
        "deleted_run_delete_tag",
        "deleted_run_update",
        "deleted_experiment_rename",
        "deleted_experiment_delete_tag",
        "deleted_experiment_set_tag",
        "unknown_experiment",
        "unknown_run",
    ],
)
def test_refusal_has_mlflows_code_and_words(both: tuple[dict[str, Any], dict[str, Any]], step: str) -> None:
    mlflow_view, tracklet_view = both
    assert mlflow_view[step] is not None, f"MLflow accepted {step}"
    assert tracklet_view[step] == mlflow_view[step]


def test_dataset_summaries_are_mlflows(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    mlflow_view, tracklet_view = both
    assert mlflow_view["summaries"] == [
        [True, "iris", "i1", None],
        [True, "wine", "w1", "eval"],
        [True, "wine", "w1", "training"],
    ]
    assert tracklet_view["summaries"] == mlflow_view["summaries"]
