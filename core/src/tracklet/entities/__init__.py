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

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
    "Metric",
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
    "ViewType",
]
