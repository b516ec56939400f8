"""FileStore's copy primitives beyond the conformance suite: what the folder holds after
an import (MLflow's layout, no leftovers), keys whose nesting changes, a history replaced
while a descriptor is open on it, and refusals a database store would not need."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

from tracklet.entities import Experiment, Metric, Param, Run, RunData, RunInfo, RunInputs, RunTag
from tracklet.testing import raises_code
from tracklet_file.store import FileStore

T0 = 1_700_000_000_000


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[FileStore]:
    s = FileStore(str(tmp_path / "mlruns"))
    yield s
    s.close()


def _experiment(experiment_id: str = "7", stage: str = "active", name: str = "copied") -> Experiment:
    return Experiment(experiment_id, name, f"file:///art/{experiment_id}", stage, {"k": "v"}, T0, T0 + 1)


def _run(
    run_id: str = "a" * 32,
    experiment_id: str = "7",
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    stage: str = "active",
) -> Run:
    info = RunInfo(run_id, experiment_id, "ann", "FINISHED", T0, T0 + 9, stage, f"file:///art/{run_id}", "r")
    data = RunData(
        [],
        [Param(k, v) for k, v in (params or {}).items()],
        [RunTag(k, v) for k, v in (tags or {}).items()],
    )
    return Run(info, data, RunInputs([]))


def _files(root: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_deleted_experiment_lives_in_the_trash_and_moves_back_when_imported_active(
    store: FileStore, tmp_path: pathlib.Path
) -> None:
    root = tmp_path / "mlruns"
    store.import_experiment(_experiment(stage="deleted"))
    assert (root / ".trash" / "7" / "meta.yaml").is_file() and not (root / "7").exists()
    store.import_run(_run(stage="deleted"))
    assert (root / ".trash" / "7" / ("a" * 32) / "meta.yaml").is_file()
    store.import_experiment(_experiment())
    assert (root / "7" / ("a" * 32) / "meta.yaml").is_file() and not (root / ".trash" / "7").exists()
    assert store.get_experiment("7").lifecycle_stage == "active"
    assert store.get_run("a" * 32).info.lifecycle_stage == "deleted"  # runs keep their own stage


def test_keys_may_change_between_file_and_folder(store: FileStore, tmp_path: pathlib.Path) -> None:
    store.import_experiment(_experiment())
    store.import_run(_run(params={"a": "1", "x/y/z": "2"}, tags={"t": "1"}))
    store.import_run(_run(params={"a/b": "3", "x": "4"}, tags={"t/u": "2"}))
    run = store.get_run("a" * 32)
    assert run.data.params == {"a/b": "3", "x": "4"}
    assert run.data.tags == {"t/u": "2"}
    store.import_run(_run(params={"a": "5"}, tags={}))
    assert store.get_run("a" * 32).data.params == {"a": "5"}
    run_dir = tmp_path / "mlruns" / "7" / ("a" * 32)
    assert _files(run_dir / "params") == ["a"] and _files(run_dir / "tags") == []


def test_a_key_that_is_also_a_folder_of_another_is_refused_before_writing(
    store: FileStore, tmp_path: pathlib.Path
) -> None:
    store.import_experiment(_experiment())
    before = _files(tmp_path / "mlruns")
    with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
        store.import_run(_run(tags={"a": "1", "a/b": "2"}))
    assert "'a' and 'a/b'" in str(excinfo.value) and "sqlite" in str(excinfo.value)
    assert _files(tmp_path / "mlruns") == before


def test_a_history_replaced_while_logging_keeps_later_points(store: FileStore) -> None:
    experiment_id = store.create_experiment("live")
    run_id = store.create_run(experiment_id, "u", T0, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, T0, 0))  # the store now holds the file open
    store.import_metric_history(run_id, "m", [Metric("m", 5.0, T0, 0), Metric("m", 6.0, T0, 1)])
    store.log_metric(run_id, Metric("m", 7.0, T0, 2))
    values = [m.value for m in store.get_metric_history(run_id, "m")]
    assert values == [5.0, 6.0, 7.0]


def test_nothing_is_left_aside_after_imports(store: FileStore, tmp_path: pathlib.Path) -> None:
    store.import_experiment(_experiment())
    store.import_run(_run(params={"p": "1"}, tags={"t": "1"}))
    store.import_metric_history("a" * 32, "n/m", [Metric("n/m", 1.0, T0, 0)])
    store.import_run(_run(params={"q": "1"}))
    store.import_metric_history("a" * 32, "n/m", [])
    leftovers = [p for p in (tmp_path / "mlruns").rglob(".tmp-*")]
    assert leftovers == []


def test_histories_are_read_by_key_including_nested_keys(store: FileStore) -> None:
    store.import_experiment(_experiment())
    store.import_run(_run())
    run_id = "a" * 32
    store.import_metric_history(run_id, "x/y", [Metric("x/y", 1.0, T0, 0), Metric("x/y", 2.0, T0, 1)])
    store.import_metric_history(run_id, "b", [Metric("b", 3.0, T0, 0)])
    histories = store.get_metric_histories(run_id)
    assert list(histories) == ["b", "x/y"]
    assert [(m.key, m.value, m.step, m.run_id) for m in histories["x/y"]] == [
        ("x/y", 1.0, 0, run_id),
        ("x/y", 2.0, 1, run_id),
    ]


def test_the_meta_yaml_is_mlflows(store: FileStore, tmp_path: pathlib.Path) -> None:
    store.import_experiment(_experiment())
    store.import_run(_run(stage="deleted"))
    text = (tmp_path / "mlruns" / "7" / ("a" * 32) / "meta.yaml").read_text()
    for line in ("lifecycle_stage: deleted", "status: 3", f"end_time: {T0 + 9}", "run_name: r"):
        assert line in text.splitlines()
    deleted_time = next(x for x in text.splitlines() if x.startswith("deleted_time:"))
    store.import_run(_run(stage="deleted"))  # a re-import keeps when it was deleted
    again = (tmp_path / "mlruns" / "7" / ("a" * 32) / "meta.yaml").read_text()
    assert deleted_time in again.splitlines() and deleted_time != "deleted_time: null"


def test_a_reserved_folder_name_is_refused(store: FileStore) -> None:
    with raises_code("INVALID_PARAMETER_VALUE"):
        store.import_experiment(_experiment("models", name="m"))
    assert not os.path.exists(os.path.join(store.root, "models", "meta.yaml"))


def test_an_experiment_tag_clashing_with_one_left_in_place_is_refused(store: FileStore) -> None:
    store.import_experiment(_experiment())
    with raises_code("INVALID_PARAMETER_VALUE"):
        store.import_experiment(Experiment("7", "copied", "file:///art/7", "active", {"k/sub": "x"}, T0, T0))
    assert store.get_experiment("7").tags == {"k": "v"}
