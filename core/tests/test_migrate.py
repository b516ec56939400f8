"""tracklet migrate on quick stores (folders, in-memory, sqlite): what is copied, where
artifacts go, subsets, dry runs, the journal, and verify finding every kind of difference.

End-to-end copies (MLflow's database, PostgreSQL, a server with S3, kills) are in
tests/migrate/.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracklet import plugins
from tracklet.cli import build_cli
from tracklet.client import MlflowClient
from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunTag,
    ViewType,
)
from tracklet.exceptions import TrackletException
from tracklet.migrate import Options, default_journal_path, migrate, verify
from tracklet.migrate._journal import Journal
from tracklet.migrate._options import normalized_uri
from tracklet.plugins import get_tracking_store, hookimpl
from tracklet.stores import TrackingStore

T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def _journals_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # a database's default artifact root is ./mlruns


def populate(uri: str, tmp_path: Path) -> dict[str, Any]:
    """A source with every kind of object: experiments active and deleted with tags, runs
    finished, running, failed and deleted, a nested run, params, tags, metric histories
    with repeats, NaN and infinities, dataset inputs, artifact trees. Returns the ids."""
    client = MlflowClient(uri)
    store = get_tracking_store(uri)
    first = client.create_experiment("vision", tags={"team": "cv", "mlflow.note.content": "hello"})
    second = client.create_experiment("nlp")
    gone = client.create_experiment("abandoned")
    parent = client.create_run(first, run_name="parent", start_time=T0, tags={"k": "v"}).info.run_id
    child = client.create_run(
        first, run_name="child", start_time=T0 + 1, tags={"mlflow.parentRunId": parent}
    ).info.run_id
    failed = client.create_run(second, run_name="failed", start_time=T0 + 2).info.run_id
    running = client.create_run(second, run_name="running", start_time=T0 + 3).info.run_id
    deleted = client.create_run(second, run_name="deleted", start_time=T0 + 4).info.run_id
    in_gone = client.create_run(gone, run_name="in-gone", start_time=T0 + 5).info.run_id
    points = [Metric("loss", 1.0 / (i + 1), T0 + i, i) for i in range(20)]
    points += [Metric("loss", 0.05, T0 + 19, 19), Metric("odd", math.nan, T0, 0)]
    points += [Metric("odd", math.inf, T0 + 1, 1), Metric("odd", -math.inf, T0 + 2, 2)]
    client.log_batch(parent, metrics=points, params=[Param("lr", "0.1"), Param("layers", "3")])
    client.log_batch(child, metrics=[Metric("acc", 0.5, T0, 0)], params=[Param("lr", "0.2")])
    client.log_batch(failed, metrics=[Metric("acc", 0.1, T0, 0)], tags=[RunTag("why", "oom")])
    client.log_batch(in_gone, params=[Param("p", "x")])
    dataset = Dataset("wine", "d1g35t", "local", '{"uri": "/data/wine.csv"}', schema='{"c": 1}')
    store.log_inputs(parent, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
    files = tmp_path / "files"
    (files / "model" / "weights").mkdir(parents=True, exist_ok=True)
    (files / "model" / "weights" / "w.bin").write_bytes(os.urandom(3000))
    (files / "model" / "MLmodel").write_text("flavors: {}\n")
    (files / "notes.txt").write_text("a note")
    client.log_artifacts(parent, str(files))
    client.log_artifact(child, str(files / "notes.txt"), "deep/er")
    client.set_terminated(parent, "FINISHED", end_time=T0 + 100)
    client.set_terminated(child, "FINISHED", end_time=T0 + 50)
    client.set_terminated(failed, "FAILED", end_time=T0 + 60)
    client.set_terminated(deleted, "KILLED", end_time=T0 + 70)
    client.delete_run(deleted)
    client.delete_experiment(gone)
    return {
        "experiments": [first, second, gone],
        "runs": [parent, child, failed, running, deleted, in_gone],
        "parent": parent,
        "child": child,
    }


def snapshot(uri: str, artifact_uris: bool = True, once: bool = False) -> dict[str, Any]:
    """Everything a reader sees in a store, through the public client (``once``: exact
    repeats in a history counted once, as a store with idempotent_metrics keeps them)."""
    store = get_tracking_store(uri)
    experiments = {}
    for e in store.search_experiments(ViewType.ALL, 1000):
        experiments[e.experiment_id] = (
            e.name,
            e.lifecycle_stage,
            e.creation_time,
            e.last_update_time,
            dict(e.tags),
            e.artifact_location if artifact_uris else None,
        )
    runs = {}
    for r in store.search_runs(list(experiments), "", ViewType.ALL, 1000):
        run = store.get_run(r.info.run_id)
        info = run.info.to_dictionary()
        if not artifact_uris:
            info.pop("artifact_uri")
        histories = {
            k: [(m.key, repr(m.value), m.timestamp, m.step) for m in v]
            for k, v in store.get_metric_histories(r.info.run_id).items()
        }
        if once:
            histories = {k: sorted(set(v)) for k, v in histories.items()}
        inputs = sorted(
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source,
                d.dataset.schema,
                tuple((t.key, t.value) for t in d.tags),
            )
            for d in run.inputs.dataset_inputs
        )
        runs[r.info.run_id] = (
            info,
            dict(run.data.params),
            dict(run.data.tags),
            {k: repr(v) for k, v in run.data.metrics.items()},
            histories,
            inputs,
        )
    return {"experiments": experiments, "runs": runs}


def tree(uri: str, run_id: str) -> dict[str, int | None]:
    client = MlflowClient(uri)
    found: dict[str, int | None] = {}
    folders: list[str | None] = [None]
    while folders:
        for info in client.list_artifacts(run_id, folders.pop()):
            if info.is_dir:
                folders.append(info.path)
            else:
                found[info.path] = info.file_size
    return found


def cli(*args: str) -> Any:
    return CliRunner().invoke(
        build_cli(with_plugins=False), ["migrate", "--quiet", *args], catch_exceptions=False
    )


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    uri = (tmp_path / "src").as_uri()
    return uri, populate(uri, tmp_path)


# -- what is copied ----------------------------------------------------------------------------


def test_a_folder_is_copied_with_every_field_and_artifacts_under_the_new_root(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    summary = migrate(src, dst)
    assert snapshot(dst, artifact_uris=False) == snapshot(src, artifact_uris=False)
    assert (summary.experiments, summary.runs, summary.metric_points) == (4, 6, 26)
    assert summary.artifact_files == 4 and summary.artifact_bytes == 3000 + 12 + 6 + 6
    root = f"{dst}"
    for run_id in ids["runs"]:
        run = get_tracking_store(dst).get_run(run_id)
        assert run.info.artifact_uri == f"{root}/{run.info.experiment_id}/{run_id}/artifacts"
        assert tree(dst, run_id) == tree(src, run_id)
    for experiment_id in ids["experiments"]:
        assert (
            get_tracking_store(dst).get_experiment(experiment_id).artifact_location
            == f"{root}/{experiment_id}"
        )
    assert tree(dst, ids["parent"])["model/weights/w.bin"] == 3000
    assert verify(src, dst) == []
    assert cli(src, dst, "--verify").exit_code == 0


def test_a_nested_run_keeps_its_parent_and_search_finds_it(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    migrate(src, dst)
    client = MlflowClient(dst)
    experiment_id = client.get_run(ids["parent"]).info.experiment_id
    children = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{ids['parent']}'")
    assert [r.info.run_id for r in children] == [ids["child"]]
    assert [r.info.run_id for r in client.search_runs([experiment_id], "metrics.loss < 0.06")] == [
        ids["parent"]
    ]


def test_a_folder_is_copied_into_sqlite_and_back(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    database = f"sqlite:///{tmp_path / 'tracklet.db'}"
    migrate(src, database)
    # sqlite keeps a point once however often it was logged: the source's one exact repeat
    assert snapshot(database, artifact_uris=False) != snapshot(src, artifact_uris=False)
    assert snapshot(database, artifact_uris=False, once=True) == snapshot(src, artifact_uris=False, once=True)
    assert tree(database, ids["parent"]) == tree(src, ids["parent"])
    assert verify(src, database) == []
    back = (tmp_path / "back").as_uri()
    migrate(database, back)
    assert snapshot(back, artifact_uris=False) == snapshot(database, artifact_uris=False)
    assert verify(database, back) == []


def test_an_in_memory_store_of_a_third_party_takes_part_both_ways(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, _ = source
    memory = f"memory://{uuid.uuid4().hex}"
    migrate(src, memory)
    assert snapshot(memory, artifact_uris=False) == snapshot(src, artifact_uris=False)
    assert verify(src, memory) == []
    back = (tmp_path / "back").as_uri()
    migrate(memory, back)
    assert snapshot(back, artifact_uris=False) == snapshot(src, artifact_uris=False)
    assert verify(memory, back) == []


def test_a_copy_run_twice_changes_nothing(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, _ = source
    dst = (tmp_path / "dst").as_uri()
    migrate(src, dst)
    before = snapshot(dst)
    again = migrate(src, dst)
    assert snapshot(dst) == before
    assert again.artifact_files == 0 and again.artifact_files_skipped == 4


def test_artifact_root_puts_files_elsewhere(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    elsewhere = (tmp_path / "bucket" / "prefix").as_uri()
    result = cli(src, dst, "--artifact-root", elsewhere)
    assert result.exit_code == 0, result.output
    run = get_tracking_store(dst).get_run(ids["parent"])
    assert run.info.artifact_uri == f"{elsewhere}/{run.info.experiment_id}/{ids['parent']}/artifacts"
    assert (
        tmp_path / "bucket" / "prefix" / run.info.experiment_id / ids["parent"] / "artifacts" / "notes.txt"
    ).exists()
    assert tree(dst, ids["parent"]) == tree(src, ids["parent"])
    assert cli(src, dst, "--verify", "--artifact-root", elsewhere).exit_code == 0


def test_kept_artifact_uris_copy_no_files(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    summary = migrate(src, dst, keep_artifact_uris=True)
    assert summary.artifact_files == 0
    assert snapshot(dst) == snapshot(src)
    assert not any("artifacts" in p.parts and p.is_file() for p in (tmp_path / "dst").rglob("*"))
    assert verify(src, dst, keep_artifact_uris=True) == []


def test_no_artifacts_rewrites_uris_and_copies_no_files(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    assert cli(src, dst, "--no-artifacts").exit_code == 0
    assert tree(dst, ids["parent"]) == {}
    assert (get_tracking_store(dst).get_run(ids["parent"]).info.artifact_uri or "").startswith(dst)
    assert cli(src, dst, "--verify", "--no-artifacts").exit_code == 0


def test_experiment_and_filter_select_a_subset(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    first, second, _ = ids["experiments"]
    result = cli(src, dst, "--experiment", "vision", "--experiment", second, "--filter", "params.lr = '0.1'")
    assert result.exit_code == 0, result.output
    assert "registry is copied only by a whole copy" in result.output
    store = get_tracking_store(dst)
    assert sorted(e.experiment_id for e in store.search_experiments(ViewType.ALL)) == ["0", first, second]
    found = store.search_runs([first, second], "", ViewType.ALL)
    assert [r.info.run_id for r in found] == [ids["parent"]]
    assert verify(src, dst, experiments=("vision", second), run_filter="params.lr = '0.1'") == []
    result = cli(src, dst, "--experiment", "no-such-thing")
    assert result.exit_code == 1 and "no-such-thing" in result.output


def test_a_dry_run_writes_nothing_and_counts(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    MlflowClient(dst).search_experiments()  # the destination exists, empty
    before = snapshot(dst)
    files_before = sorted(str(p) for p in (tmp_path / "dst").rglob("*"))
    result = cli(src, dst, "--dry-run", "-v")
    assert result.exit_code == 0, result.output
    assert (
        "Would copy" in result.output and "runs: 6" in result.output and "artifacts: 4 files" in result.output
    )
    assert all(run_id in result.output for run_id in ids["runs"])
    assert snapshot(dst) == before
    assert sorted(str(p) for p in (tmp_path / "dst").rglob("*")) == files_before
    assert not os.path.exists(default_journal_path(src, dst))


# -- resume --------------------------------------------------------------------------------------


def test_runs_in_the_journal_are_skipped_and_the_journal_goes_at_the_end(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    path = str(tmp_path / "journal.jsonl")
    journal = Journal(path, normalized_uri(src), normalized_uri(dst), Options().artifact_mode())
    journal.open()
    journal.record(ids["child"])
    journal.close()
    with open(path, "a") as f:
        f.write('{"run": "torn')  # a line cut by a kill is ignored
    summary = migrate(src, dst, journal=path)
    assert (summary.runs, summary.runs_skipped) == (5, 1)
    assert not os.path.exists(path)
    with pytest.raises(TrackletException):
        get_tracking_store(dst).get_run(ids["child"])  # trusted the journal: not copied
    assert [str(d) for d in verify(src, dst)] == [f"run {ids['child']}: not in the destination"]


def test_a_journal_of_another_artifact_mode_is_not_used(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    path = str(tmp_path / "journal.jsonl")
    journal = Journal(
        path, normalized_uri(src), normalized_uri(dst), Options(keep_artifact_uris=True).artifact_mode()
    )
    journal.open()
    journal.record(ids["child"])
    journal.close()
    summary = migrate(src, dst, journal=path)
    assert (summary.runs, summary.runs_skipped) == (6, 0)
    assert any("starting over" in note for note in summary.notes)
    assert verify(src, dst) == []


# -- verify ----------------------------------------------------------------------------------------


def test_verify_finds_each_kind_of_difference(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    migrate(src, dst)
    first = ids["experiments"][0]
    parent, child = ids["parent"], ids["child"]
    store = get_tracking_store(dst)
    client = MlflowClient(dst)
    store.rename_experiment(first, "renamed")
    client.set_tag(parent, "k", "changed")
    client.log_metric(child, "acc", 0.5, timestamp=T0, step=0)  # one point twice
    run = store.get_run(parent)
    tags = [RunTag(k, v) for k, v in run.data.tags.items()]
    store.import_run(Run(run.info, RunData([], [Param("lr", "0.9"), Param("layers", "3")], tags), run.inputs))
    dst_tree = tmp_path / "dst" / run.info.experiment_id / parent / "artifacts"
    (dst_tree / "notes.txt").write_text("a longer note")
    (dst_tree / "model" / "MLmodel").unlink()
    (dst_tree / "extra.txt").write_text("x")
    MlflowClient(src).create_run(ids["experiments"][1], run_name="new-in-source")
    extra = client.create_run(ids["experiments"][1], run_name="only-here").info.run_id
    found = {(d.kind, d.field) for d in verify(src, dst)}
    assert found >= {
        ("experiment", "name"),
        ("run", "tags"),
        ("run", "params"),
        ("metric", "history"),
        ("artifact", "size"),
        ("artifact", "missing"),
        ("artifact", "extra"),
        ("run", "missing"),
        ("run", "extra"),
    }
    result = cli(src, dst, "--verify")
    assert result.exit_code == 1
    assert (
        "experiment " + first + ": name is 'vision' in the source, 'renamed' in the destination."
        in result.output
    )
    assert f"run {extra}: not in the source." in result.output
    assert "difference(s)" in result.output


def test_verify_finds_a_changed_metric_point_and_experiment_tag(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    migrate(src, dst, artifacts=False)
    store = get_tracking_store(dst)
    points = store.get_metric_histories(ids["parent"])["loss"]
    points[3] = Metric("loss", 42.0, points[3].timestamp, points[3].step)
    store.import_metric_history(ids["parent"], "loss", points)
    store.set_experiment_tag(ids["experiments"][0], RunTag("team", "other"))
    found = verify(src, dst, artifacts=False)
    kinds = sorted((d.kind, d.field) for d in found)
    assert kinds == [("experiment", "tags"), ("metric", "history")]
    (history,) = [d for d in found if d.kind == "metric"]
    assert "42.0" in str(history)


# -- refusals ------------------------------------------------------------------------------------


def _no_import_store(uri: str, artifact_uri: str | None) -> TrackingStore:
    """The in-memory store of the example plugin without capability 'import' (built from the
    class the plugin serves: the core's tests import no plugin)."""
    memory = type(get_tracking_store(f"memory://{uuid.uuid4().hex}"))
    refusing = type("NoImportStore", (memory,), {"capabilities": frozenset({"datasets"})})
    return refusing(uri, artifact_uri)  # type: ignore[no-any-return]


class _NoImportPlugin:
    @hookimpl
    def tracklet_tracking_store(self, uri: str, artifact_uri: str | None) -> TrackingStore | None:
        return _no_import_store(uri, artifact_uri) if uri.startswith("noimport:") else None


class _ServerWithoutImportRoutes:
    """A destination that says it takes copies and then answers NOT_IMPLEMENTED, as
    tracklet's REST client does in front of MLflow's server (no import routes there)."""

    @hookimpl
    def tracklet_tracking_store(self, uri: str, artifact_uri: str | None) -> TrackingStore | None:
        if not uri.startswith("refusing:"):
            return None
        memory = type(get_tracking_store(f"memory://{uuid.uuid4().hex}"))
        defaults = {
            "_import_experiment": TrackingStore._import_experiment,
            "_import_run": TrackingStore._import_run,
        }
        refusing = type("RefusingStore", (memory,), defaults)
        return refusing(uri, artifact_uri)  # type: ignore[no-any-return]


def test_a_destination_refusing_imports_names_the_alternative(source: tuple[str, dict[str, Any]]) -> None:
    src, _ = source
    plugin = _ServerWithoutImportRoutes()
    plugins.register(plugin, name="test-refusing")
    try:
        result = cli(src, "refusing://x", "--no-artifacts")
    finally:
        plugins.unregister(plugin)
    assert result.exit_code == 1
    assert "cannot import experiments" in result.output and "database URI instead" in result.output


@pytest.fixture
def no_import_scheme() -> Any:
    plugin = _NoImportPlugin()
    plugins.register(plugin, name="test-no-import")
    try:
        yield "noimport://x"
    finally:
        plugins.unregister(plugin)


def test_a_destination_without_import_is_refused_naming_the_alternatives(
    source: tuple[str, dict[str, Any]], no_import_scheme: str
) -> None:
    src, _ = source
    result = cli(src, no_import_scheme)
    assert result.exit_code == 1
    assert "capability 'import'" in result.output and "database URI instead" in result.output
    assert list(get_tracking_store(no_import_scheme).search_experiments(ViewType.ALL)) != []


def test_a_name_held_under_another_id_is_refused_saying_what_to_do(
    source: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, _ = source
    dst = (tmp_path / "dst").as_uri()
    client = MlflowClient(dst)
    for name in ("a", "b", "c", "d"):
        client.create_experiment(name)
    assert client.create_experiment("nlp") == "5"  # "nlp" is 2 in the source
    result = cli(src, dst)
    assert result.exit_code == 1
    assert "already has an experiment named 'nlp'" in result.output and "empty store" in result.output


def test_the_same_store_on_both_sides_is_refused(source: tuple[str, dict[str, Any]]) -> None:
    src, _ = source
    result = cli(src, src)
    assert result.exit_code == 1 and "same store" in result.output


def test_the_journal_file_is_json_lines(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = source
    dst = (tmp_path / "dst").as_uri()
    path = tmp_path / "j.jsonl"
    journal = Journal(str(path), src, dst, "keep")
    journal.open()
    journal.record(ids["parent"])
    journal.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["src"] == src and lines[1] == {"run": ids["parent"]}
    assert Journal(str(path), src, dst, "keep").done == {ids["parent"]}


def test_progress_draws_a_bar_per_phase_on_a_terminal(
    source: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from tracklet.testing.objects import FakeTerminal

    src, _ = source
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    migrate(src, (tmp_path / "dst").as_uri(), progress=True)
    drawn = terminal.getvalue()
    assert "experiments: 100%" in drawn and "runs: 100%" in drawn and "6/6" in drawn
    assert "traces: " in drawn
    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    migrate(src, (tmp_path / "dst2").as_uri())  # a library call: quiet unless asked
    assert quiet.getvalue() == ""


def test_runs_copied_several_at_once_end_the_same(source: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, _ = source
    one, three = (tmp_path / "one").as_uri(), (tmp_path / "three").as_uri()
    first = migrate(src, one, run_workers=1)
    second = migrate(src, three, run_workers=3)
    assert snapshot(three, artifact_uris=False) == snapshot(one, artifact_uris=False)
    assert verify(src, three) == []
    counted = (
        "runs",
        "params",
        "tags",
        "metric_points",
        "artifact_files",
        "artifact_bytes",
        "dataset_inputs",
    )
    assert [getattr(second, c) for c in counted] == [getattr(first, c) for c in counted]
    assert second.run_ids == first.run_ids  # listed in plan order, whatever order they finished in


def test_long_experiment_ids_are_renumbered_for_a_sql_destination(tmp_path: Path) -> None:
    # MLflow's file store makes 18-digit experiment ids; SQL stores hold 32-bit ones.
    src = (tmp_path / "mlruns").as_uri()
    store = get_tracking_store(src)
    store.import_experiment(Experiment("226561188185181309", "vision", f"{src}/226561188185181309"))
    client = MlflowClient(src)
    run_id = client.create_run("226561188185181309", run_name="r", start_time=T0).info.run_id
    client.log_metric(run_id, "loss", 0.5, timestamp=T0, step=0)
    refused = cli(src, f"sqlite:///{tmp_path / 'refused.db'}")
    assert refused.exit_code == 1 and "--renumber-experiments" in refused.output
    database = f"sqlite:///{tmp_path / 'tracklet.db'}"
    assert cli(src, database, "--renumber-experiments").exit_code == 0
    assert cli(src, database, "--renumber-experiments").exit_code == 0  # again: the same ids
    copied = get_tracking_store(database)
    vision = copied.get_experiment_by_name("vision")
    assert vision is not None and vision.experiment_id != "226561188185181309"
    assert [e.name for e in copied.search_experiments(ViewType.ALL)].count("vision") == 1
    run = copied.get_run(run_id)
    assert run.info.experiment_id == vision.experiment_id
    assert run.info.artifact_uri and f"/{vision.experiment_id}/{run_id}/artifacts" in run.info.artifact_uri
    assert copied.get_metric_histories(run_id)["loss"][0].value == 0.5
    assert verify(src, database, renumber_experiments=True) == []


# -- traces ----------------------------------------------------------------------------------------


def add_traces(uri: str, experiment_id: str, run_id: str) -> list[str]:
    """Three traces made by tracklet's tracing API (two spans each): one of ``run_id``, one
    of no run, one failed; a tag set after the trace ended. Returns their ids."""
    from tracklet import _config, tracing
    from tracklet.tracing.export import flush_trace_async_logging

    _config.set_tracking_uri(uri)
    tracing.reset()
    try:
        client = MlflowClient(uri)
        made = []
        for n, run in enumerate((run_id, None, None)):
            root = client.start_trace(
                f"answer-{n}",
                span_type="CHAIN",
                inputs={"question": f"q{n}"},
                tags={"n": str(n)},
                experiment_id=experiment_id,
                run_id=run,
                start_time_ns=(T0 + n) * 1_000_000,
            )
            child = client.start_span("retrieve", root.trace_id, root.span_id, inputs={"k": 2})
            client.end_span(root.trace_id, child.span_id, outputs=["a", "b"])
            client.end_trace(root.trace_id, outputs={"answer": n}, status="ERROR" if n == 2 else "OK")
            made.append(root.trace_id)
        flush_trace_async_logging()
        client.set_trace_tag(made[0], "reviewed", "yes")
        return made
    finally:
        tracing.reset()
        _config.set_tracking_uri(None)


def traces(uri: str, experiment_ids: list[str]) -> dict[str, Any]:
    """Every trace of the experiments as tracklet's client reads it: info fields, and spans
    as dicts; the tags saying where the destination keeps spans and traces.json left out."""
    from tracklet.tracing.client import TracingClient

    found = {}
    for trace in TracingClient(uri).search_traces(experiment_ids=experiment_ids, max_results=1000):
        info = trace.info
        rewritten = ("mlflow.artifactLocation", "mlflow.trace.spansLocation")
        found[info.trace_id] = (
            str(info.experiment_id),
            info.request_time,
            str(info.state),
            info.execution_duration,
            info.request_preview,
            info.response_preview,
            dict(info.trace_metadata),
            {k: v for k, v in info.tags.items() if k not in rewritten},
            sorted((s.to_dict() for s in trace.data.spans), key=lambda d: str(d["span_id"])),
        )
    return found


@pytest.fixture
def traced(source: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    src, ids = source
    ids["traces"] = add_traces(src, ids["experiments"][0], ids["parent"])
    return src, ids


def test_traces_go_from_a_folder_into_sqlite_and_back_with_their_spans(
    traced: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = traced
    database = f"sqlite:///{tmp_path / 'tracklet.db'}"
    summary = migrate(src, database)
    assert (summary.traces, summary.spans) == (3, 6)
    expected = traces(src, ids["experiments"])
    assert len(expected) == 3 and all(len(t[-1]) == 2 for t in expected.values())
    assert traces(database, ids["experiments"]) == expected
    assert expected[ids["traces"][0]][7]["reviewed"] == "yes"
    assert expected[ids["traces"][2]][2] == "ERROR"
    from tracklet.tracing.client import TracingClient

    copied = TracingClient(database).get_trace_info(ids["traces"][0])
    assert copied.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"  # spans in the database
    location = get_tracking_store(database).get_experiment(ids["experiments"][0]).artifact_location
    assert copied.tags["mlflow.artifactLocation"] == f"{location}/traces/{ids['traces'][0]}/artifacts"
    assert verify(src, database) == []
    back = (tmp_path / "back").as_uri()
    migrate(database, back, run_workers=3)  # traces written three at a time
    assert traces(back, ids["experiments"]) == expected
    first = ids["experiments"][0]
    assert (tmp_path / "back" / first / "traces" / ids["traces"][0] / "artifacts" / "traces.json").is_file()
    assert verify(database, back) == []


def test_traces_copied_again_are_not_stored_twice(traced: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = traced
    database = f"sqlite:///{tmp_path / 'tracklet.db'}"
    folder = (tmp_path / "dst").as_uri()
    for dst in (database, folder):
        migrate(src, dst)
        before = traces(dst, ids["experiments"])
        again = migrate(src, dst)
        assert again.traces == 3
        assert traces(dst, ids["experiments"]) == before
        assert verify(src, dst) == []
    import sqlite3

    with sqlite3.connect(tmp_path / "tracklet.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM spans").fetchone() == (6,)


def test_traces_in_the_journal_are_skipped(traced: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    src, ids = traced
    dst = (tmp_path / "dst").as_uri()
    path = str(tmp_path / "journal.jsonl")
    journal = Journal(path, normalized_uri(src), normalized_uri(dst), Options().artifact_mode())
    journal.open()
    journal.record_trace(ids["traces"][1])
    journal.close()
    assert Journal(path, normalized_uri(src), normalized_uri(dst), Options().artifact_mode()).traces_done == {
        ids["traces"][1]
    }
    summary = migrate(src, dst, journal=path)
    assert (summary.traces, summary.traces_skipped) == (2, 1)
    assert [str(d) for d in verify(src, dst)] == [f"trace {ids['traces'][1]}: not in the destination"]


def test_verify_finds_a_changed_trace_tag_and_an_extra_trace(
    traced: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = traced
    dst = (tmp_path / "dst").as_uri()
    migrate(src, dst, artifacts=False)
    from tracklet.entities import TraceData
    from tracklet.tracing.client import TracingClient

    client = TracingClient(dst)
    client.set_trace_tag(ids["traces"][0], "reviewed", "no")
    cut = client.get_trace(ids["traces"][1])  # its traces.json loses a span
    client._upload_trace_data(cut.info, TraceData(spans=[s for s in cut.data.spans if s.parent_id is None]))
    extras = add_traces(dst, ids["experiments"][0], ids["parent"])
    found = verify(src, dst, artifacts=False)
    assert sorted((d.kind, d.identity, d.field) for d in found) == sorted(
        [("trace", ids["traces"][0], "tags"), ("trace", ids["traces"][1], "spans")]
        + [("trace", extra, "extra") for extra in extras]
    )
    (changed,) = [d for d in found if d.field == "tags"]
    assert changed.source["reviewed"] == "yes" and changed.destination["reviewed"] == "no"
    assert f"trace {extras[0]}: not in the source" in [str(d) for d in found]


def test_a_filter_copies_the_traces_of_the_copied_runs_and_a_dry_run_counts_them(
    traced: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    src, ids = traced
    dst = (tmp_path / "dst").as_uri()
    counted = migrate(src, dst, dry_run=True)
    assert (counted.traces, counted.spans) == (3, 6)
    result = cli(src, dst, "--filter", "params.lr = '0.1'")
    assert result.exit_code == 0, result.output
    assert "traces: 1 (2 spans)" in result.output and "mlflow.sourceRun" in result.output
    assert sorted(traces(dst, ids["experiments"])) == [ids["traces"][0]]
    assert verify(src, dst, run_filter="params.lr = '0.1'") == []


def test_renumbered_experiments_take_their_traces_along(tmp_path: Path) -> None:
    src = (tmp_path / "mlruns").as_uri()
    store = get_tracking_store(src)
    store.import_experiment(Experiment("226561188185181309", "vision", f"{src}/226561188185181309"))
    run_id = MlflowClient(src).create_run("226561188185181309", start_time=T0).info.run_id
    made = add_traces(src, "226561188185181309", run_id)
    database = f"sqlite:///{tmp_path / 'tracklet.db'}"
    assert cli(src, database, "--renumber-experiments").exit_code == 0
    vision = get_tracking_store(database).get_experiment_by_name("vision")
    assert vision is not None
    copied = traces(database, [vision.experiment_id])
    assert sorted(copied) == sorted(made)
    assert {t[0] for t in copied.values()} == {vision.experiment_id}
    assert verify(src, database, renumber_experiments=True) == []
