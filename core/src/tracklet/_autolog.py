"""``tracklet.autolog``: MLflow's ``mlflow.autolog`` signature; tracklet logs nothing
automatically (see :mod:`tracklet._flavors`)."""

from __future__ import annotations

from tracklet._flavors import autolog_ignored

__all__ = ["autolog"]


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    log_traces: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
    exclude_flavors: list[str] | None = None,
) -> None:
    """Accepted for MLflow code; logs nothing, and says so once per process (not with
    ``disable=True`` or ``silent=True``). Log params, metrics and files explicitly."""
    autolog_ignored(None, disable=disable, silent=silent)
