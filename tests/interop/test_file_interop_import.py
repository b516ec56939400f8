"""A folder that tracklet filled through the copy primitives (capability ``import``) is
read by real MLflow exactly as MLflow read the folder the copy came from.

MLflow writes an ``mlruns`` folder in a subprocess (the writer of
``test_file_interop.py``: experiments with tags, a finished run with params, NaN and
infinite metric values, nested keys, a dataset input and artifacts, a deleted run, a
deleted experiment, a run in the Default experiment) and prints its view of it. tracklet
copies every experiment, run and history into a new folder with ``import_experiment``,
``import_run`` and ``import_metric_history`` (run artifact URIs kept, so the artifacts
are read where MLflow put them), twice, as a resumed copy would. MLflow then reads the
new folder in a subprocess: its view must equal its view of the original, field by field.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
from types import ModuleType

import pytest

from tracklet.entities import ViewType

# The copy goes through the file plugin's own store class on both ends.
from tracklet_file.store import FileStore  # noqa: TID251

pytestmark = pytest.mark.interop


def _interop() -> ModuleType:
    """The writer, the reader and the subprocess runner of test_file_interop.py."""
    path = pathlib.Path(__file__).with_name("test_file_interop.py")
    spec = importlib.util.spec_from_file_location("_file_interop_scripts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy(source: FileStore, destination: FileStore, experiment_ids: list[str]) -> int:
    """Every experiment, run and history of ``source`` into ``destination``; the points copied."""
    points = 0
    for experiment in source.search_experiments(ViewType.ALL):
        destination.import_experiment(experiment)
    for run in source.search_runs(experiment_ids, "", ViewType.ALL):
        destination.import_run(run)
        for key, history in source.get_metric_histories(run.info.run_id).items():
            destination.import_metric_history(run.info.run_id, key, history)
            points += len(history)
    return points


def test_mlflow_reads_a_copy_made_through_the_import_primitives_as_it_read_the_original(
    tmp_path: pathlib.Path,
) -> None:
    interop = _interop()
    original = str(tmp_path / "original")
    written = interop._mlflow(interop.MLFLOW_WRITE, original, str(tmp_path), cwd=str(tmp_path))
    ids, seen_in_original = written["ids"], written["dump"]
    interop._check_content(seen_in_original, ids)

    copy = str(tmp_path / "copy")
    source, destination = FileStore(original), FileStore(copy)
    try:
        assert _copy(source, destination, ids["experiments"]) == 7  # loss 5, nested/acc 1, m 1
        _copy(source, destination, ids["experiments"])  # a resumed copy writes it all again
    finally:
        source.close()
        destination.close()

    seen_in_copy = interop._mlflow(
        interop.MLFLOW_READ, copy, str(tmp_path), json.dumps(ids), cwd=str(tmp_path)
    )
    assert seen_in_copy == seen_in_original
    for view in interop._tracklet_views(copy, ids):
        assert interop._json_round_trip(view) == seen_in_original
