"""``mlflow.keras`` under tracklet: ``autolog`` logs nothing (it warns once), and the
model functions say how to log a model as artifacts instead (see :mod:`tracklet._flavors`)."""

from __future__ import annotations

from typing import Any

from tracklet._flavors import autolog_ignored, flavor_model_functions

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def autolog(
    log_every_epoch: bool = True,
    log_every_n_steps: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    save_exported_model: bool = False,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: dict[str, Any] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """MLflow's ``mlflow.keras.autolog`` signature; tracklet logs nothing automatically and
    says so once per process (not with ``disable=True`` or ``silent=True``)."""
    autolog_ignored("keras", disable=disable, silent=silent)


log_model, save_model, load_model, __getattr__ = flavor_model_functions("keras")
