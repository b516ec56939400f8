"""``migrate(src, dst)``: experiments, then run by run (info, histories, artifacts, journal
line), then the registry, all written through the destination's import primitives."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracklet.entities import Experiment, Param, Run, RunData, RunInfo, RunInputs, RunTag
from tracklet.exceptions import NOT_IMPLEMENTED, RESOURCE_ALREADY_EXISTS, TrackletException
from tracklet.migrate import _registry_phase
from tracklet.migrate._artifacts import copy_tree, list_tree, repository
from tracklet.migrate._journal import Journal
from tracklet.migrate._options import Options, default_journal_path
from tracklet.migrate._plan import check_destination, open_store, plan
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
    if src_uri == dst_uri:
        raise TrackletException(
            f"The source and the destination are the same store ({src_uri}).", "INVALID_PARAMETER_VALUE"
        )
    src, dst = open_store(src_uri), open_store(dst_uri)
    check_destination(dst, dst_uri)
    uris = ArtifactUris(destination_root(dst, options))
    journal = Journal(
        options.journal or default_journal_path(src_uri, dst_uri), src_uri, dst_uri, options.artifact_mode()
    )
    if journal.discarded:
        summary.notes.append(journal.discarded)
    selected = plan(src, options.experiments, options.run_filter)
    try:
        _copy_experiments(dst, selected.experiments, uris, summary, options, dry_run)
        if not dry_run:
            journal.open()
        _copy_runs(src_uri, dst_uri, src, dst, selected.runs, uris, journal, summary, options, dry_run)
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
    uris: ArtifactUris,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> None:
    with phase("experiments", len(experiments), options.progress) as bar:
        for experiment in experiments:
            if not dry_run:
                _import_experiment(dst, _experiment_copy(experiment, uris))
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


def _experiment_copy(experiment: Experiment, uris: ArtifactUris) -> Experiment:
    return Experiment(
        experiment.experiment_id,
        experiment.name,
        uris.experiment(experiment),
        experiment.lifecycle_stage,
        tags=dict(experiment.tags),
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
    )


def run_copy(run: Run, uris: ArtifactUris) -> Run:
    """The run as the destination gets it: no metrics (histories follow), its artifact URI
    rewritten."""
    info = run.info
    copied = RunInfo(
        run_id=info.run_id,
        experiment_id=info.experiment_id,
        user_id=info.user_id,
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        lifecycle_stage=info.lifecycle_stage,
        artifact_uri=uris.run(info),
        run_name=info.run_name,
    )
    data = RunData(
        [],
        [Param(k, v) for k, v in run.data.params.items()],
        [RunTag(k, v) for k, v in run.data.tags.items()],
    )
    return Run(copied, data, RunInputs(list(run.inputs.dataset_inputs) if run.inputs else []))


def _copy_runs(
    src_uri: str,
    dst_uri: str,
    src: TrackingStore,
    dst: TrackingStore,
    runs: list[Run],
    uris: ArtifactUris,
    journal: Journal,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> None:
    with (
        phase("runs", len(runs), options.progress) as bar,
        ThreadPoolExecutor(
            max_workers=max(1, options.workers), thread_name_prefix="tracklet-migrate"
        ) as pool,
    ):
        for run in runs:
            run_id = run.info.run_id
            if run_id in journal.done:
                summary.runs_skipped += 1
            else:
                _copy_run(src_uri, dst_uri, src, dst, run, uris, pool, summary, options, dry_run)
                if not dry_run:
                    journal.record(run_id)
                summary.runs += 1
                summary.run_ids.append(run_id)
            bar.update(1)


def _copy_run(
    src_uri: str,
    dst_uri: str,
    src: TrackingStore,
    dst: TrackingStore,
    run: Run,
    uris: ArtifactUris,
    pool: ThreadPoolExecutor,
    summary: Summary,
    options: Options,
    dry_run: bool,
) -> None:
    copied = run_copy(run, uris)
    if not dry_run:
        _refusing_clearly(dst.import_run, copied)
    summary.params += len(run.data.params)
    summary.tags += len(run.data.tags)
    summary.dataset_inputs += len(copied.inputs.dataset_inputs)
    if run.data.metrics:
        for key, points in src.get_metric_histories(run.info.run_id).items():
            if not dry_run:
                dst.import_metric_history(run.info.run_id, key, points)
            summary.metric_histories += 1
            summary.metric_points += len(points)
    source_uri = run.info.artifact_uri
    if options.copies_artifacts and source_uri:
        source = repository(source_uri, src_uri)
        if dry_run:
            files = list_tree(source)
            summary.artifact_files += len(files)
            summary.artifact_bytes += sum(size or 0 for size in files.values())
            return
        done = copy_tree(source, repository(copied.info.artifact_uri or "", dst_uri), pool)
        summary.artifact_files += done.files
        summary.artifact_bytes += done.bytes
        summary.artifact_files_skipped += done.skipped


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
