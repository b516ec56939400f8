"""MLflow's ``mlruns`` layout: names, ``meta.yaml`` formats and their entity conversions.

::

    <root>/<experiment_id>/meta.yaml              experiment (active)
    <root>/<experiment_id>/tags/<key>             experiment tag (keys with '/' nest)
    <root>/<experiment_id>/datasets/<id>/meta.yaml  dataset (id = md5(name + digest))
    <root>/<experiment_id>/<run_id>/meta.yaml     run (status as a number)
    <root>/<experiment_id>/<run_id>/metrics/<key> lines "<timestamp> <value> <step>"
    <root>/<experiment_id>/<run_id>/params/<key>  the value, no newline
    <root>/<experiment_id>/<run_id>/tags/<key>    the value, no newline
    <root>/<experiment_id>/<run_id>/inputs/<id>/meta.yaml  dataset -> run link with tags
    <root>/<experiment_id>/<run_id>/artifacts/    default artifact root of the run
    <root>/.trash/<experiment_id>/...             a deleted experiment, moved whole
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from tracklet.entities import (
    Dataset,
    Experiment,
    LifecycleStage,
    RunInfo,
    RunStatus,
    SourceType,
)

from ._flatyaml import parse_flat

META = "meta.yaml"
TRASH = ".trash"
METRICS = "metrics"
PARAMS = "params"
TAGS = "tags"
ARTIFACTS = "artifacts"
INPUTS = "inputs"
DATASETS = "datasets"
LOCK_FILE = ".tracklet.lock"
#: Folders every run has from its creation on; MLflow finds a run by id only where all are.
RUN_FOLDERS = (METRICS, PARAMS, ARTIFACTS)
#: Folders of an experiment directory that are not runs (MLflow's reserved names).
NOT_RUNS = frozenset({TAGS, DATASETS, "traces", "models"})
#: Folders of the root that are not experiments.
NOT_EXPERIMENTS = frozenset({TRASH, "models"})

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(data: bytes) -> dict[str, Any] | None:
    """Parse a ``meta.yaml``; None when it is empty or not a mapping."""
    try:
        flat = parse_flat(data.decode("utf-8"))
    except UnicodeDecodeError:
        flat = None
    if flat is not None:
        return flat
    loaded = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader
    return loaded if isinstance(loaded, dict) else None


def dump_yaml(data: dict[str, Any]) -> bytes:
    """Serialise as MLflow does: block style, sorted keys, unicode kept."""
    text = yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True)
    return str(text).encode("utf-8")


# -- experiments -----------------------------------------------------------------------


def experiment_meta(experiment: Experiment) -> dict[str, Any]:
    """What an experiment's ``meta.yaml`` holds (tags live in files of their own)."""
    return {
        "artifact_location": experiment.artifact_location,
        "creation_time": experiment.creation_time,
        "experiment_id": experiment.experiment_id,
        "last_update_time": experiment.last_update_time,
        "lifecycle_stage": experiment.lifecycle_stage,
        "name": experiment.name,
    }


def experiment_from_meta(meta: dict[str, Any], tags: dict[str, str]) -> Experiment:
    """Build an :class:`Experiment` from its ``meta.yaml`` and its tag files."""
    return Experiment(
        experiment_id=str(meta["experiment_id"]),
        name=str(meta["name"]),
        artifact_location=meta.get("artifact_location") or "",
        lifecycle_stage=meta.get("lifecycle_stage") or LifecycleStage.ACTIVE,
        tags=tags,
        creation_time=meta.get("creation_time"),
        last_update_time=meta.get("last_update_time"),
    )


# -- runs --------------------------------------------------------------------------------


def run_meta(info: RunInfo, deleted_time: int | None) -> dict[str, Any]:
    """What a run's ``meta.yaml`` holds, including the fields older MLflow versions read."""
    return {
        "artifact_uri": info.artifact_uri,
        "deleted_time": deleted_time,
        "end_time": info.end_time,
        "entry_point_name": "",
        "experiment_id": info.experiment_id,
        "lifecycle_stage": info.lifecycle_stage,
        "run_id": info.run_id,
        "run_name": info.run_name,
        "source_name": "",
        "source_type": SourceType.LOCAL,
        "source_version": "",
        "start_time": info.start_time,
        "status": RunStatus.from_string(info.status),
        "tags": [],
        "user_id": info.user_id,
    }


def run_info_from_meta(meta: dict[str, Any]) -> RunInfo:
    """Build a :class:`RunInfo` from a run's ``meta.yaml`` (old and new MLflow formats)."""
    status = meta.get("status", RunStatus.RUNNING)
    return RunInfo(
        run_id=str(meta.get("run_id") or meta.get("run_uuid")),
        experiment_id=str(meta["experiment_id"]),
        user_id=meta.get("user_id") or "",
        status=RunStatus.to_string(status) if isinstance(status, int) else str(status),
        start_time=meta.get("start_time"),
        end_time=meta.get("end_time"),
        lifecycle_stage=meta.get("lifecycle_stage") or LifecycleStage.ACTIVE,
        artifact_uri=meta.get("artifact_uri"),
        run_name=meta.get("run_name") or None,
    )


# -- datasets and inputs -----------------------------------------------------------------


def dataset_id(name: str, digest: str) -> str:
    """MLflow's id of a dataset: the md5 of its name then its digest."""
    md5 = hashlib.md5(name.encode("utf-8"), usedforsecurity=False)
    md5.update(digest.encode("utf-8"))
    return md5.hexdigest()


def input_id(dataset: str, run_id: str) -> str:
    """MLflow's id of a dataset input: the md5 of the dataset id then the run id."""
    md5 = hashlib.md5(dataset.encode("utf-8"), usedforsecurity=False)
    md5.update(run_id.encode("utf-8"))
    return md5.hexdigest()


def dataset_meta(dataset: Dataset) -> dict[str, Any]:
    """A dataset's ``meta.yaml``."""
    return {
        "digest": dataset.digest,
        "name": dataset.name,
        "profile": dataset.profile,
        "schema": dataset.schema,
        "source": dataset.source,
        "source_type": dataset.source_type,
    }


def dataset_from_meta(meta: dict[str, Any]) -> Dataset:
    """Build a :class:`Dataset` from its ``meta.yaml``."""
    return Dataset(
        name=meta["name"],
        digest=meta["digest"],
        source_type=meta.get("source_type") or "",
        source=meta.get("source") or "",
        schema=meta.get("schema"),
        profile=meta.get("profile"),
    )


def input_meta(dataset: str, run_id: str, tags: dict[str, str]) -> dict[str, Any]:
    """A dataset input's ``meta.yaml``: an edge from the dataset to the run."""
    return {
        "destination_id": run_id,
        "destination_type": "RUN",
        "source_id": dataset,
        "source_type": "DATASET",
        "tags": tags,
    }
