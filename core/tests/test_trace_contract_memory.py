"""The trace conformance suite against a small in-memory reference store.

``ReferenceTraces`` keeps trace infos and spans in dicts behind the
:class:`~tracklet.stores.TraceStore` primitives, next to a minimal tracking store
(experiments only). It proves :class:`tracklet.testing.TraceStoreSuite` passes on a store
written to the contract's docstrings alone, with and without ``span_storage``.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, ClassVar

import pytest

from tracklet.entities import Experiment, LifecycleStage, Span, TraceInfo
from tracklet.search import TraceSearch, search_traces_in_memory
from tracklet.stores import TraceStore, TrackingStore
from tracklet.stores.refusals import experiment_not_active, no_such_experiment
from tracklet.stores.traces import (
    artifact_location_for,
    merge_trace_info,
    no_such_trace,
    no_trace_tag,
    trace_info_from_spans,
)
from tracklet.testing import TraceStoreSuite


class ReferenceTraces(TrackingStore, TraceStore):
    """Experiments and traces in memory; spans too (``span_storage``)."""

    trace_capabilities: ClassVar[frozenset[str]] = frozenset({"span_storage"})

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__(store_uri, artifact_uri)
        self.experiments: dict[str, Experiment] = {"0": Experiment("0", "Default", "mem://artifacts/0")}
        self.traces: dict[str, TraceInfo] = {}
        self.spans: dict[str, dict[str, Span]] = {}
        self.lock = threading.Lock()

    # -- experiments (just enough) --------------------------------------------------------

    def _create_experiment(self, name: str, artifact_location: str | None, tags: Any) -> str:
        experiment_id = str(len(self.experiments))
        location = artifact_location or f"mem://artifacts/{experiment_id}"
        self.experiments[experiment_id] = Experiment(experiment_id, name, location)
        return experiment_id

    def _get_experiment(self, experiment_id: str) -> Experiment:
        if experiment_id not in self.experiments:
            raise no_such_experiment(experiment_id)
        return self.experiments[experiment_id]

    def _delete_experiment(self, experiment_id: str) -> None:
        old = self._get_experiment(experiment_id)
        self.experiments[experiment_id] = Experiment(
            old.experiment_id, old.name, old.artifact_location, LifecycleStage.DELETED
        )

    # -- traces ----------------------------------------------------------------------------

    def _active_experiment(self, experiment_id: str) -> Experiment:
        experiment = self._get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise experiment_not_active(experiment_id)
        return experiment

    def _copy(self, info: TraceInfo) -> TraceInfo:
        return dataclasses.replace(info, tags=dict(info.tags), trace_metadata=dict(info.trace_metadata))

    def _start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        experiment = self._active_experiment(str(trace_info.experiment_id))
        with self.lock:
            location = artifact_location_for(experiment.artifact_location, trace_info.trace_id)
            stored = merge_trace_info(self.traces.get(trace_info.trace_id), trace_info, location)
            self.traces[trace_info.trace_id] = stored
            return self._copy(stored)

    def _get_trace_info(self, trace_id: str) -> TraceInfo:
        if trace_id not in self.traces:
            raise no_such_trace(trace_id)
        return self._copy(self.traces[trace_id])

    def _search_traces(self, search: TraceSearch) -> tuple[list[TraceInfo], str | None]:
        page, token = search_traces_in_memory(list(self.traces.values()), search)
        return [self._copy(i) for i in page], token

    def _set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        with self.lock:
            self._get_trace_info(trace_id)
            self.traces[trace_id].tags[key] = value

    def _delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self.lock:
            tags = self._get_trace_info(trace_id).tags
            if key not in tags:
                raise no_trace_tag(trace_id, key)
            del self.traces[trace_id].tags[key]

    def _delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None,
        max_traces: int | None,
        trace_ids: list[str] | None,
    ) -> int:
        with self.lock:
            mine = [i for i in self.traces.values() if str(i.experiment_id) == experiment_id]
            if trace_ids is not None:
                doomed = [i.trace_id for i in mine if i.trace_id in trace_ids]
            else:
                assert max_timestamp_millis is not None
                old = sorted(
                    (i for i in mine if i.request_time <= max_timestamp_millis),
                    key=lambda i: (i.request_time, i.trace_id),
                )
                doomed = [i.trace_id for i in old[:max_traces]]
            for trace_id in doomed:
                del self.traces[trace_id]
                self.spans.pop(trace_id, None)
            return len(doomed)

    def _log_spans(self, experiment_id: str, spans: list[Span]) -> list[Span]:
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        with self.lock:
            new = [t for t in by_trace if t not in self.traces]
            experiment = self._get_experiment(experiment_id) if new else None
            for trace_id, group in by_trace.items():
                stored = self.traces.get(trace_id)
                info = trace_info_from_spans(experiment_id, group, stored)
                if stored is None:
                    assert experiment is not None
                    location = artifact_location_for(experiment.artifact_location, trace_id)
                    info = merge_trace_info(None, info, location)
                self.traces[trace_id] = info
                kept = self.spans.setdefault(trace_id, {})
                for span in group:
                    kept[span.span_id] = span
        return spans

    def _get_trace_spans(self, trace_id: str) -> list[Span]:
        if trace_id not in self.traces:
            raise no_such_trace(trace_id)
        spans = self.spans.get(trace_id, {}).values()
        return sorted(spans, key=lambda s: (s.start_time_ns, s.span_id))


ReferenceTraces.__abstractmethods__ = frozenset()


class ReferenceTracesWithoutSpans(ReferenceTraces):
    """The same store, declaring no span storage (as the file store)."""

    trace_capabilities: ClassVar[frozenset[str]] = frozenset()


class TestReferenceTraces(TraceStoreSuite):
    @pytest.fixture
    def store(self) -> ReferenceTraces:
        return ReferenceTraces()


class TestReferenceTracesWithoutSpans(TraceStoreSuite):
    @pytest.fixture
    def store(self) -> ReferenceTracesWithoutSpans:
        return ReferenceTracesWithoutSpans()
