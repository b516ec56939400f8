"""``migrate(src, dst)``: experiments, then run by run (info, histories, artifacts, journal
line), then trace by trace (info, spans, journal line), then the registry, all written
through the destination's import primitives and trace calls."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from tracklet.entities import Experiment, Param, Run, RunData, RunInfo, RunInputs, RunTag
from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.migrate import _registry_phase, _traces
from tracklet.migrate._artifacts import copy_tree, list_tree, repository
from tracklet.migrate._ids import ExperimentIds
from tracklet.migrate._journal import Journal
from tracklet.migrate._options import Options, default_journal_path, normalized_uri
from tracklet.migrate._plan import Plan, check_destination, open_store, plan
from tracklet.migrate._progress import phase
from tracklet.migrate._summary import Summary
from tracklet.migrate._uris import ArtifactUris, destination_root
from tracklet.stores import TrackingStore

__all__ = ["migrate"]


def migrate(
    src_uri: str, dst_uri: str, options: Options | None = None, *, dry_run: bool = False, **kwargs: Any
) -> Summary:
    """Copy what the options select from the tracking store at ``src_uri`` into the one at
    ``dst_uri`` (which must declare capability ``import``), keeping ids, names, times and
    lifecycle stages. ``kwargs`` are :class:`Options` fields (or pass ``options``).
    Resumable: a call killed at any moment, called again, finishes the copy with nothing
    missing and nothing twice. ``dry_run`` reads and counts, and writes nothing."""
    options = dataclasses.replace(options or Options(), **kwargs)
    started = time.monotonic()
    summary = Summary(src_uri, dst_uri, dry_run=dry_run)
    if normalized_uri(src_uri) == normalized_uri(dst_uri):
        raise TrackletException(
            f"The source and the destination are the same store ({src_uri}): give another DST.",
            INVALID_PARAMETER_VALUE,
        )
    src, dst = open_store(src_uri), open_store(dst_uri)
    check_destination(dst, dst_uri)
    uris = ArtifactUris(destination_root(dst, options))
    journal = Journal(
        options.journal or default_journal_path(src_uri, dst_uri),
        normalized_uri(src_uri),
        normalized_uri(dst_uri),
        options.artifact_mode(),
    )
    if journal.discarded:
        summary.notes.append(journal.discarded)
    selected = plan(src, options.experiments, options.run_filter)
    ids = ExperimentIds(dst, options.renumber_experiments)
    try:
        _copy_experiments(dst, selected.experiments, ids, uris, summary, options, dry_run)
        if not dry_run:
            journal.open()
        run_ids = _copy_runs(
            src_uri, dst_uri, src, dst, selected, ids, uris, journal, summary, options, dry_run
        )
        _copy_traces(
            src_uri, dst_uri, trace_scope(selected, ids, uris, run_ids), journal, summary, options, dry_run
        )
    finally:
        journal.close()
    _copy_registry(src_uri, dst_uri, summary, options, dry_run)
    if not dry_run:
        journal.remove()
    summary.seconds = time.monotonic() - started
    return summary


def _copy_experiments(
    dst: TrackingStore,
    experiments: list[Experiment],
    ids: ExperimentIds,
    uris: ArtifactUris,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> None:
    with phase("experiments", len(experiments), options.progress) as bar:
        for experiment in experiments:
            target = ids.resolve(experiment, create=not dry_run)
            if not dry_run:
                _import_experiment(dst, experiment_copy(experiment, target, uris))
            summary.experiments += 1
            summary.experiment_ids.append(experiment.experiment_id)
            bar.update(1)


def _import_experiment(dst: TrackingStore, experiment: Experiment) -> None:
    try:
        _refusing_clearly(dst.import_experiment, experiment)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_ALREADY_EXISTS:
            raise
        raise TrackletException(
            f"The destination already has an experiment named {experiment.name!r} under another id "
            f"than {experiment.experiment_id}, and a copy keeps ids. Migrate into an empty store, or "
            "rename or delete that experiment in the destination first.",
            RESOURCE_ALREADY_EXISTS,
        ) from exc
    # A store may take an id it cannot serve back (a SQL store's ids are 32-bit integers,
    # MLflow's file store makes 18-digit ones): stop before runs are written under it.
    try:
        dst.get_experiment(experiment.experiment_id)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        raise TrackletException(
            f"The destination cannot hold experiment id {experiment.experiment_id} ({experiment.name!r}): "
            "it does not find it once written, and a copy keeps ids. SQL stores hold ids up to "
            "2147483647, MLflow's file store makes longer ones: run the copy again with "
            "--renumber-experiments (new experiment ids, runs keep theirs), or migrate into a folder.",
            INVALID_PARAMETER_VALUE,
        ) from exc


def experiment_copy(experiment: Experiment, target_id: str, uris: ArtifactUris) -> Experiment:
    """The experiment as the destination gets it: under ``target_id``, its artifact
    location rewritten."""
    renamed = Experiment(target_id, experiment.name, experiment.artifact_location)
    return Experiment(
        target_id,
        experiment.name,
        uris.experiment(renamed),
        experiment.lifecycle_stage,
        tags=dict(experiment.tags),
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
    )


def run_copy(run: Run, experiment_id: str, uris: ArtifactUris) -> Run:
    """The run as the destination gets it: in experiment ``experiment_id`` (its own unless
    renumbered), no metrics (histories follow), its artifact URI rewritten."""
    info = run.info
    fields: dict[str, Any] = {
        "run_id": info.run_id,
        "experiment_id": experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "run_name": info.run_name,
    }
    copied = RunInfo(**fields, artifact_uri=uris.run(RunInfo(**fields, artifact_uri=info.artifact_uri)))
    data = RunData(
        [],
        [Param(k, v) for k, v in run.data.params.items()],
        [RunTag(k, v) for k, v in run.data.tags.items()],
    )
    return Run(copied, data, RunInputs(list(run.inputs.dataset_inputs) if run.inputs else []))


@dataclasses.dataclass
class _RunCounts:
    """What copying one run wrote (added to the summary by the thread that journals it)."""

    params: int = 0
    tags: int = 0
    dataset_inputs: int = 0
    metric_histories: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    artifact_files_skipped: int = 0

    def add_to(self, summary: Summary) -> None:
        for field in dataclasses.fields(self):
            setattr(summary, field.name, getattr(summary, field.name) + getattr(self, field.name))


def run_workers(src_uri: str, dst_uri: str, options: Options) -> int:
    """Runs copied at once: several when a side is a server (each call is a round trip
    that others can overlap), one otherwise (a local database takes one writer at a time)."""
    if options.run_workers:
        return max(1, options.run_workers)
    remote = ("http://", "https://")
    return 4 if src_uri.startswith(remote) or dst_uri.startswith(remote) else 1


def _copy_runs(
    src_uri: str,
    dst_uri: str,
    src: TrackingStore,
    dst: TrackingStore,
    selected: Plan,
    ids: ExperimentIds,
    uris: ArtifactUris,
    journal: Journal,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> set[str]:
    """Copy the planned runs; the ids of all of them (journaled ones included)."""
    workers = run_workers(src_uri, dst_uri, options)
    planned: set[str] = set()
    with (
        phase("runs", None, options.progress) as bar,
        ThreadPoolExecutor(
            max_workers=max(1, options.workers), thread_name_prefix="tracklet-artifacts"
        ) as files,
    ):

        def todo() -> Iterator[Run]:
            # Read here a page at a time, as the copies need them (the bar's total grows
            # page by page); runs the journal lists are skipped.
            for experiment in selected.experiments:
                for page in selected.pages_of(experiment.experiment_id):
                    bar.total = (bar.total or 0) + len(page)
                    bar.refresh()
                    for run in page:
                        planned.add(run.info.run_id)
                        if run.info.run_id in journal.done:
                            summary.runs_skipped += 1
                            bar.update(1)
                        else:
                            summary.run_ids.append(run.info.run_id)
                            yield run

        def copy(run: Run) -> _RunCounts:
            return _copy_run(src_uri, dst_uri, src, dst, run, ids, uris, files, options, dry_run)

        def done(run: Run, counts: _RunCounts) -> None:
            # Only this thread journals and counts: a run is recorded once all of it is written.
            if not dry_run:
                journal.record(run.info.run_id)
            counts.add_to(summary)
            summary.runs += 1
            bar.update(1)

        if workers == 1:
            for run in todo():
                done(run, copy(run))
        else:
            _in_parallel(todo(), copy, done, workers)
    return planned


def trace_scope(
    selected: Plan, ids: ExperimentIds, uris: ArtifactUris, run_ids: set[str]
) -> _traces.TraceScope:
    """The traces a copy covers: those of the copied experiments; with a run filter, only
    those of the copied runs."""
    experiments = {
        e.experiment_id: (
            ids[e.experiment_id],
            uris.experiment(Experiment(ids[e.experiment_id], e.name, e.artifact_location)),
        )
        for e in selected.experiments
    }
    return _traces.TraceScope(experiments, run_ids if selected.run_filter else None)


def _copy_traces(
    src_uri: str,
    dst_uri: str,
    scope: _traces.TraceScope,
    journal: Journal,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> None:
    note = _traces.unsupported(src_uri, dst_uri)
    if note:
        summary.notes.append(note)
        return
    counts = _traces.copy_traces(
        src_uri,
        dst_uri,
        scope,
        journal.traces_done,
        journal.record_trace,
        keep_artifact_uris=options.keep_artifact_uris,
        dry_run=dry_run,
        progress=options.progress,
        workers=run_workers(src_uri, dst_uri, options),
    )
    summary.traces += counts.traces
    summary.spans += counts.spans
    summary.traces_skipped += counts.skipped
    if counts.without_spans:
        summary.notes.append(
            f"{counts.without_spans:,} trace(s) copied without spans: the source has no readable "
            "span data for them (traces still in progress, or traces.json missing)"
        )
    if options.run_filter:
        summary.notes.append(
            "with --filter, only the traces whose mlflow.sourceRun is a copied run are copied"
        )


def _in_parallel(
    runs: Iterable[Run],
    copy: Callable[[Run], _RunCounts],
    done: Callable[[Run, _RunCounts], None],
    workers: int,
) -> None:
    """``copy`` the runs ``workers`` at a time (a bounded window, in plan order), calling
    ``done`` here as each finishes; on an error, what is under way finishes and the error
    is raised (unfinished runs are not journaled: the next call copies them)."""
    pending: dict[Future[_RunCounts], Run] = {}
    queue = iter(runs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tracklet-migrate") as pool:
        try:
            while True:
                while len(pending) < 2 * workers:
                    run = next(queue, None)
                    if run is None:
                        break
                    pending[pool.submit(copy, run)] = run
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(pending.pop(future), future.result())
        finally:
            for future in pending:
                future.cancel()


def _copy_run(
    src_uri: str,
    dst_uri: str,
    src: TrackingStore,
    dst: TrackingStore,
    run: Run,
    ids: ExperimentIds,
    uris: ArtifactUris,
    files: ThreadPoolExecutor,
    options: Options,
    dry_run: bool,
) -> _RunCounts:
    counts = _RunCounts()
    copied = run_copy(run, ids[run.info.experiment_id], uris)
    if not dry_run:
        _refusing_clearly(dst.import_run, copied)
    counts.params = len(run.data.params)
    counts.tags = len(run.data.tags)
    counts.dataset_inputs = len(copied.inputs.dataset_inputs)
    if run.data.metrics:
        for key, points in src.get_metric_histories(run.info.run_id).items():
            if not dry_run:
                dst.import_metric_history(run.info.run_id, key, points)
            counts.metric_histories += 1
            counts.metric_points += len(points)
    source_uri = run.info.artifact_uri
    if options.copies_artifacts and source_uri:
        source = repository(source_uri, src_uri)
        if dry_run:
            listed = list_tree(source)
            counts.artifact_files = len(listed)
            counts.artifact_bytes = sum(size or 0 for size in listed.values())
            return counts
        tree = copy_tree(source, repository(copied.info.artifact_uri or "", dst_uri), files)
        counts.artifact_files = tree.files
        counts.artifact_bytes = tree.bytes
        counts.artifact_files_skipped = tree.skipped
    return counts


def _copy_registry(src_uri: str, dst_uri: str, summary: Summary, options: Options, dry_run: bool) -> None:
    if options.experiments or options.run_filter:
        summary.notes.append(
            "the model registry is copied only by a whole copy (no --experiment, no --filter)"
        )
        return
    counts, note = _registry_phase.copy(src_uri, dst_uri, dry_run=dry_run, progress=options.progress)
    summary.registry = counts
    if note:
        summary.notes.append(note)


def _refusing_clearly(call: Any, argument: Any) -> None:
    """A server without tracklet's import routes (MLflow's) answers NOT_IMPLEMENTED: say
    what to do instead."""
    try:
        call(argument)
    except TrackletException as exc:
        if exc.error_code != NOT_IMPLEMENTED:
            raise
        raise TrackletException(
            f"{exc.message} The destination cannot take a copy; migrate into a tracklet store or "
            "server, or, to fill an MLflow server, into its database URI instead.",
            NOT_IMPLEMENTED,
        ) from exc
