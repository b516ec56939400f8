"""The refusals that depend on stored state, worded once for every tracking store.

:class:`~tracklet.stores.TrackingStore` checks a call's arguments before a store sees
them; what only the store can know (the id is unknown, the run is deleted, the param
already holds another value) it refuses itself, by raising one of these. One refusal
then reads the same, with the same error code, on every backend, and the conformance
suite compares the words. Where MLflow's stores agree on a message, it is theirs.
"""

from __future__ import annotations

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

__all__ = [
    "default_experiment_reserved",
    "experiment_name_taken",
    "experiment_not_active",
    "experiment_not_deleted",
    "no_experiment_tag",
    "no_run_tag",
    "no_such_experiment",
    "no_such_run",
    "param_changed",
    "rename_deleted_experiment",
    "run_in_deleted_experiment",
    "run_not_active",
]


def no_such_experiment(experiment_id: str) -> TrackletException:
    """An experiment id the store does not hold (MLflow's SQL store's words)."""
    return TrackletException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)


def no_such_run(run_id: str) -> TrackletException:
    """A run id the store does not hold (MLflow's words)."""
    return TrackletException(f"Run with id={run_id} not found", RESOURCE_DOES_NOT_EXIST)


def run_not_active(run_id: str, stage: str = "deleted") -> TrackletException:
    """A write to a run that is not active (MLflow's code and words)."""
    return TrackletException(
        f"The run {run_id} must be in the 'active' state. Current state is {stage}.",
        INVALID_PARAMETER_VALUE,
    )


def experiment_not_active(experiment_id: str, stage: str = "deleted") -> TrackletException:
    """A change to the tags of an experiment that is not active (MLflow's code and words)."""
    return TrackletException(
        f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}.",
        INVALID_PARAMETER_VALUE,
    )


def experiment_not_deleted(experiment_id: str) -> TrackletException:
    """``delete_experiment`` of a deleted experiment or ``restore_experiment`` of an active one."""
    return TrackletException(
        f"Experiment {experiment_id} is not in the state this call changes: delete an active "
        "experiment, restore a deleted one.",
        RESOURCE_DOES_NOT_EXIST,
    )


def run_in_deleted_experiment(experiment_id: str) -> TrackletException:
    """``create_run`` in a deleted experiment (MLflow's file store's code and words)."""
    return TrackletException(
        f"Could not create run under non-active experiment with ID {experiment_id}.", INVALID_STATE
    )


def rename_deleted_experiment(experiment_id: str) -> TrackletException:
    """``rename_experiment`` of a deleted experiment (MLflow's SQL store's code and words)."""
    return TrackletException("Cannot rename a non-active experiment.", INVALID_STATE)


def no_experiment_tag(experiment_id: str, key: str) -> TrackletException:
    """``delete_experiment_tag`` of a tag the experiment does not have (MLflow's words)."""
    return TrackletException(
        f"No tag with name: {key} in experiment with id {experiment_id}", RESOURCE_DOES_NOT_EXIST
    )


def no_run_tag(run_id: str, key: str) -> TrackletException:
    """``delete_tag`` of a tag the run does not have (MLflow's words)."""
    return TrackletException(f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST)


def param_changed(run_id: str, key: str, old: object, new: object) -> TrackletException:
    """A param logged again with another value (MLflow's words, word for word)."""
    return TrackletException(
        f"Changing param values is not allowed. Param with key='{key}' was already logged with "
        f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'.",
        INVALID_PARAMETER_VALUE,
    )


def experiment_name_taken(name: str) -> TrackletException:
    """A new or changed experiment name that an active or deleted experiment holds."""
    return TrackletException(
        f"Experiment '{name}' already exists (active or deleted). Choose another name, or restore "
        "the deleted experiment.",
        RESOURCE_ALREADY_EXISTS,
    )


def default_experiment_reserved() -> TrackletException:
    """``delete_experiment("0")``."""
    return TrackletException(
        "Cannot delete the Default experiment '0': it is reserved.", INVALID_PARAMETER_VALUE
    )
