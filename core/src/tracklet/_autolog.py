"""``tracklet.autolog`` and the system-metrics switches: MLflow's signatures; tracklet logs
nothing automatically (see :mod:`tracklet._flavors`) and collects no system metrics."""

from __future__ import annotations

import warnings

from tracklet._flavors import autolog_ignored

__all__ = ["autolog", "disable_system_metrics_logging", "enable_system_metrics_logging"]

_system_metrics_warned = False


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


def enable_system_metrics_logging() -> None:
    """Accepted for MLflow code; tracklet collects no system metrics (CPU, GPU, memory) and
    says so once per process. ``start_run(log_system_metrics=True)`` is likewise ignored."""
    global _system_metrics_warned
    if not _system_metrics_warned:
        _system_metrics_warned = True
        warnings.warn(
            "enable_system_metrics_logging() does nothing: tracklet collects no system metrics. "
            "Log the figures you need with tracklet.log_metric. This warning is shown once.",
            UserWarning,
            stacklevel=2,
        )


def disable_system_metrics_logging() -> None:
    """Accepted for MLflow code; tracklet collects no system metrics, so there is nothing to
    turn off."""
