"""Entities returned by tracklet, with MLflow's names and attributes."""

from tracklet.entities.dataset import Dataset, DatasetInput, RunInputs
from tracklet.entities.enums import LifecycleStage, RunStatus, SourceType, ViewType
from tracklet.entities.experiment import Experiment
from tracklet.entities.file_info import FileInfo
from tracklet.entities.metric import ExperimentTag, InputTag, Metric, Param, RunTag
from tracklet.entities.paged_list import PagedList
from tracklet.entities.run import Run, RunData, RunInfo

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "Metric",
    "PagedList",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "SourceType",
    "ViewType",
]
