"""``mlflow.sklearn`` under tracklet: ``autolog`` logs nothing (it warns once), and the
model functions say how to log a model as artifacts instead (see :mod:`tracklet._flavors`)."""

from __future__ import annotations

from typing import Any

from tracklet._flavors import autolog_ignored, flavor_model_functions

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """MLflow's ``mlflow.sklearn.autolog`` signature; tracklet logs nothing automatically and
    says so once per process (not with ``disable=True`` or ``silent=True``)."""
    autolog_ignored("sklearn", disable=disable, silent=silent)


log_model, save_model, load_model, __getattr__ = flavor_model_functions("sklearn")
