"""Entities returned by tracklet, with MLflow's names and attributes."""

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
