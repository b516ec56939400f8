"""``mlflow.transformers`` under tracklet: ``autolog`` logs nothing (it warns once), and the
model functions say how to log a model as artifacts instead (see :mod:`tracklet._flavors`)."""

from __future__ import annotations

from tracklet._flavors import autolog_ignored, flavor_model_functions

__all__ = ["autolog", "load_model", "log_model", "save_model"]


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = False,
    log_models: bool = False,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """MLflow's ``mlflow.transformers.autolog`` signature; tracklet logs nothing automatically and
    says so once per process (not with ``disable=True`` or ``silent=True``)."""
    autolog_ignored("transformers", disable=disable, silent=silent)


log_model, save_model, load_model, __getattr__ = flavor_model_functions("transformers")
