"""Entities returned by tracklet, with MLflow's names and attributes.

The trace entities (``Trace``, ``Span``, ...) load on first use, so code that never traces
does not pay for them.
"""

from typing import TYPE_CHECKING, Any

from tracklet.entities.dataset import Dataset, DatasetInput, RunInputs
from tracklet.entities.enums import LifecycleStage, RunStatus, SourceType, ViewType
from tracklet.entities.experiment import Experiment
from tracklet.entities.file_info import FileInfo
from tracklet.entities.logged_model import LoggedModel
from tracklet.entities.logged_model_input import LoggedModelInput
from tracklet.entities.logged_model_output import LoggedModelOutput
from tracklet.entities.logged_model_parameter import LoggedModelParameter
from tracklet.entities.logged_model_status import LoggedModelStatus
from tracklet.entities.logged_model_tag import LoggedModelTag
from tracklet.entities.metric import ExperimentTag, InputTag, Metric, Param, RunTag
from tracklet.entities.paged_list import PagedList
from tracklet.entities.run import Run, RunData, RunInfo
from tracklet.entities.run_outputs import RunOutputs

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "LiveSpan",
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
    "Metric",
    "MlflowExperimentLocation",
    "NoOpSpan",
    "PagedList",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunStatus",
    "RunTag",
    "SourceType",
    "Span",
    "SpanEvent",
    "SpanLogLevel",
    "SpanStatus",
    "SpanStatusCode",
    "SpanType",
    "Trace",
    "TraceData",
    "TraceInfo",
    "TraceInfoV2",
    "TraceLocation",
    "TraceLocationType",
    "TraceState",
    "TraceStatus",
    "ViewType",
]

# The trace entities: name -> module, imported on first attribute access.
_TRACE_ENTITIES = {
    "LiveSpan": "span",
    "NoOpSpan": "span",
    "Span": "span",
    "SpanLogLevel": "span",
    "SpanType": "span",
    "SpanEvent": "span_event",
    "SpanStatus": "span_status",
    "SpanStatusCode": "span_status",
    "Trace": "trace",
    "TraceData": "trace_data",
    "TraceInfo": "trace_info",
    "TraceInfoV2": "trace_info_v2",
    "MlflowExperimentLocation": "trace_location",
    "TraceLocation": "trace_location",
    "TraceLocationType": "trace_location",
    "TraceState": "trace_state",
    "TraceStatus": "trace_status",
}

if TYPE_CHECKING:
    from tracklet.entities.span import LiveSpan, NoOpSpan, Span, SpanLogLevel, SpanType
    from tracklet.entities.span_event import SpanEvent
    from tracklet.entities.span_status import SpanStatus, SpanStatusCode
    from tracklet.entities.trace import Trace
    from tracklet.entities.trace_data import TraceData
    from tracklet.entities.trace_info import TraceInfo
    from tracklet.entities.trace_info_v2 import TraceInfoV2
    from tracklet.entities.trace_location import MlflowExperimentLocation, TraceLocation, TraceLocationType
    from tracklet.entities.trace_state import TraceState
    from tracklet.entities.trace_status import TraceStatus


def __getattr__(name: str) -> Any:
    module = _TRACE_ENTITIES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"tracklet.entities.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TRACE_ENTITIES))
