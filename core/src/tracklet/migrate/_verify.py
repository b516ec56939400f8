"""``verify(src, dst)``: compare what a copy should have written with what the destination
holds, object by object, through the public store calls of both sides."""

from __future__ import annotations

import dataclasses
from typing import Any

from tracklet.entities import Experiment, Metric, Run, ViewType
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.migrate import _registry_phase, _traces
from tracklet.migrate._artifacts import list_tree, repository
from tracklet.migrate._copy import experiment_copy, run_copy, trace_scope
from tracklet.migrate._ids import ExperimentIds
from tracklet.migrate._options import Options
from tracklet.migrate._plan import PAGE, open_store, plan
from tracklet.migrate._progress import phase
from tracklet.migrate._uris import ArtifactUris, destination_root
from tracklet.stores import TrackingStore

__all__ = ["Difference", "verify"]


@dataclasses.dataclass(frozen=True)
class Difference:
    """One thing the destination holds otherwise than the source (after URI rewriting)."""

    #: ``experiment``, ``run``, ``metric``, ``artifact``, ``trace`` or ``registry``.
    kind: str
    #: The object: an experiment, run or trace id, ``<run id>/<metric key>``, ``<run id>:<path>``.
    identity: str
    #: What differs: a field name, ``missing``, ``extra``...
    field: str
    source: Any = None
    destination: Any = None

    def __str__(self) -> str:
        if self.field in ("missing", "extra"):
            where = "destination" if self.field == "missing" else "source"
            return f"{self.kind} {self.identity}: not in the {where}"
        if self.kind == "registry":
            return f"registry: {self.identity}"
        return f"{self.kind} {self.identity}: {self.field} is {self.source!r} in the source, {self.destination!r} in the destination"


def verify(src_uri: str, dst_uri: str, options: Options | None = None, **kwargs: Any) -> list[Difference]:
    """Every difference between the selected source objects and their copies; empty when
    the copy is complete and exact. Takes the options the copy was made with (``kwargs``
    are :class:`Options` fields), so rewritten artifact URIs are expected as rewritten."""
    options = dataclasses.replace(options or Options(), **kwargs)
    src, dst = open_store(src_uri), open_store(dst_uri)
    uris = ArtifactUris(destination_root(dst, options))
    selected = plan(src, options.experiments, options.run_filter)
    ids = ExperimentIds(dst, options.renumber_experiments)
    found: list[Difference] = []
    planned: set[str] = set()
    with phase("verify", len(selected.experiments), options.progress) as bar:
        for experiment in selected.experiments:
            target = ids.resolve(experiment, create=False)
            found.extend(_experiment(dst, experiment_copy(experiment, target, uris)))
            wanted: set[str] = set()
            for page in selected.pages_of(experiment.experiment_id):
                for run in page:
                    found.extend(_run(src_uri, dst_uri, src, dst, run, target, uris, options))
                    wanted.add(run.info.run_id)
            planned |= wanted
            if selected.whole_experiments:
                found.extend(
                    Difference("run", run_id, "extra")
                    for run_id in _run_ids(dst, target)
                    if run_id not in wanted
                )
            bar.update(1)
    if _traces.unsupported(src_uri, dst_uri) is None:
        scope = trace_scope(selected, ids, uris, planned)
        found.extend(
            Difference("trace", trace_id, field, theirs, ours)
            for trace_id, field, theirs, ours in _traces.trace_differences(
                src_uri, dst_uri, scope, selected.whole_experiments
            )
        )
    if not options.experiments and not options.run_filter:
        lines, _note = _registry_phase.differences(src_uri, dst_uri)
        found.extend(Difference("registry", line, "differs") for line in lines)
    return found


def _experiment(dst: TrackingStore, experiment: Experiment) -> list[Difference]:
    """``experiment``: as the copy writes it (destination id, rewritten location)."""
    identity = experiment.experiment_id
    try:
        copy = dst.get_experiment(identity)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        return [Difference("experiment", identity, "missing")]
    expected = {
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": dict(experiment.tags),
    }
    got = {
        "name": copy.name,
        "artifact_location": copy.artifact_location,
        "lifecycle_stage": copy.lifecycle_stage,
        "creation_time": copy.creation_time,
        "last_update_time": copy.last_update_time,
        "tags": dict(copy.tags),
    }
    return _fields("experiment", identity, expected, got)


def _run(
    src_uri: str,
    dst_uri: str,
    src: TrackingStore,
    dst: TrackingStore,
    listed: Run,
    experiment_id: str,
    uris: ArtifactUris,
    options: Options,
) -> list[Difference]:
    run_id = listed.info.run_id
    try:
        copy = dst.get_run(run_id)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        return [Difference("run", run_id, "missing")]
    run = src.get_run(run_id)
    expected = _run_fields(run)
    expected.update(
        experiment_id=experiment_id, artifact_uri=run_copy(run, experiment_id, uris).info.artifact_uri
    )
    found = _fields("run", run_id, expected, _run_fields(copy))
    found.extend(_histories(src, dst, run, copy))
    if options.copies_artifacts and run.info.artifact_uri:
        found.extend(
            _artifacts(
                run_id,
                repository(run.info.artifact_uri, src_uri),
                repository(copy.info.artifact_uri or "", dst_uri),
            )
        )
    return found


def _run_fields(run: Run) -> dict[str, Any]:
    info = run.info.to_dictionary()
    fields: dict[str, Any] = {k: info.get(k) for k in sorted(info)}
    fields["params"] = dict(run.data.params)
    fields["tags"] = dict(run.data.tags)
    fields["metrics"] = {k: _number(v) for k, v in run.data.metrics.items()}
    fields["inputs"] = sorted(
        (
            d.dataset.name,
            d.dataset.digest,
            d.dataset.source_type,
            d.dataset.source,
            d.dataset.schema,
            d.dataset.profile,
            tuple(sorted((t.key, t.value) for t in d.tags)),
        )
        for d in run.inputs.dataset_inputs
    )
    return fields


def _histories(src: TrackingStore, dst: TrackingStore, run: Run, copy: Run) -> list[Difference]:
    run_id = run.info.run_id
    theirs = src.get_metric_histories(run_id) if run.data.metrics else {}
    ours = dst.get_metric_histories(run_id) if copy.data.metrics else {}
    # A destination storing a point once however often it is logged (capability
    # idempotent_metrics, tracklet's and MLflow's SQL schemas) holds a source's exact
    # repeats once: that is its documented behaviour, not a difference.
    once = "idempotent_metrics" in frozenset(getattr(dst, "capabilities", ()))
    found = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = _points(theirs.get(key, []), once), _points(ours.get(key, []), once)
        if a != b:
            found.append(Difference("metric", f"{run_id}/{key}", "history", _describe(a, b), _describe(b, a)))
    return found


def _points(metrics: list[Metric], once: bool = False) -> list[tuple[int, int, str]]:
    """A history as a sorted list (stores may order points of one step and time
    differently); with ``once``, exact repeats counted once."""
    points = [(m.step, m.timestamp, _number(m.value)) for m in metrics]
    return sorted(set(points) if once else points)


def _describe(points: list[tuple[int, int, str]], other: list[tuple[int, int, str]]) -> str:
    """``N points`` and the first point not in the other history (step, timestamp, value)."""
    rest = list(other)
    for point in points:
        if point in rest:
            rest.remove(point)
        else:
            return f"{len(points)} points, e.g. step {point[0]} at {point[1]}: {point[2]}"
    return f"{len(points)} points"


def _artifacts(run_id: str, src: Any, dst: Any) -> list[Difference]:
    theirs, ours = list_tree(src), list_tree(dst)
    found = []
    for path in sorted(set(theirs) | set(ours)):
        if path not in ours:
            found.append(Difference("artifact", f"{run_id}:{path}", "missing"))
        elif path not in theirs:
            found.append(Difference("artifact", f"{run_id}:{path}", "extra"))
        elif None not in (theirs[path], ours[path]) and theirs[path] != ours[path]:
            found.append(Difference("artifact", f"{run_id}:{path}", "size", theirs[path], ours[path]))
    return found


def _fields(kind: str, identity: str, expected: dict[str, Any], got: dict[str, Any]) -> list[Difference]:
    return [
        Difference(kind, identity, name, expected.get(name), got.get(name))
        for name in sorted(set(expected) | set(got))
        if expected.get(name) != got.get(name)
    ]


def _run_ids(store: TrackingStore, experiment_id: str) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    while True:
        page = store.search_runs([experiment_id], "", ViewType.ALL, PAGE, None, token)
        ids.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            return ids


def _number(value: float) -> str:
    return repr(float(value))
