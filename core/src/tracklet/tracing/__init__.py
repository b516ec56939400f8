"""Tracing: MLflow 3's traces and spans, with tracklet's own light runtime.

The runtime (no OpenTelemetry SDK: contextvars and OpenTelemetry-compatible ids) lives
in :mod:`tracklet.tracing.provider` (span creation and the active-span context),
:mod:`~tracklet.tracing.trace_manager` (the traces in progress),
:mod:`~tracklet.tracing.fluent` (``@trace``, ``start_span``, …),
:mod:`~tracklet.tracing.export` (the asynchronous, batched export to the store) and
:mod:`~tracklet.tracing.otlp` (OTLP/JSON in and out). This package module itself
stays import-free so that ``tracklet.tracing.constant`` and friends cost nothing.

:func:`disable` / :func:`enable` switch span creation off and on for the process (a
disabled runtime hands out no-op spans: the traced code still runs, nothing is
recorded); :func:`is_tracing_enabled` tells which; :func:`reset` forgets every trace in
progress and the exporter (tests). ``TRACKLET_TRACING_ENABLED=false`` (or MLflow's
``MLFLOW_TRACING_ENABLED``) starts the process with tracing disabled.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar
from typing import Any

__all__ = [
    "disable",
    "disable_notebook_display",
    "enable",
    "enable_notebook_display",
    "is_tracing_enabled",
    "reset",
    "set_destination",
]

_lock = threading.Lock()
_enabled: bool | None = None  # None: not decided yet (read the environment on first use)
#: ``set_destination``'s experiment id: process-wide, and per context (``context_local=True``)
_destination_experiment_id: str | None = None
_context_destination: ContextVar[str | None] = ContextVar("tracklet_trace_destination", default=None)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _enabled_from_environment() -> bool:
    for variable in ("TRACKLET_TRACING_ENABLED", "MLFLOW_TRACING_ENABLED"):
        value = os.environ.get(variable, "").strip().lower()
        if value:
            return value not in ("0", "false", "no", "off")
    return True


def is_tracing_enabled() -> bool:
    """True unless :func:`disable` was called (or the environment disables tracing)."""
    global _enabled
    if _enabled is None:
        with _lock:
            if _enabled is None:
                _enabled = _enabled_from_environment()
    return _enabled


def disable() -> None:
    """Stop recording: spans started from now on are no-op spans (traced code still runs)."""
    global _enabled
    with _lock:
        _enabled = False


def enable() -> None:
    """Record spans again after :func:`disable`."""
    global _enabled
    with _lock:
        _enabled = True


def reset() -> None:
    """Forget every trace in progress, flush and drop the exporter, forget
    :func:`set_destination`, and re-read the environment's enabled setting on next use."""
    global _enabled, _destination_experiment_id
    from tracklet.tracing import export, trace_manager

    trace_manager.InMemoryTraceManager.reset()
    export.reset_exporter()
    with _lock:
        _enabled = None
        _destination_experiment_id = None
    _context_destination.set(None)


def set_destination(destination: Any, *, context_local: bool = False) -> None:
    """Send the traces started from now on to an experiment (MLflow's
    ``mlflow.tracing.set_destination(MlflowExperimentLocation(experiment_id=...))``): it takes
    precedence over the active run's and the active experiment; ``context_local=True`` scopes
    it to the current thread or async task. :func:`reset` forgets it."""
    global _destination_experiment_id
    experiment_id = getattr(destination, "experiment_id", None)
    if experiment_id is None:
        from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

        raise TrackletException(
            f"Invalid destination type: {type(destination)}. The destination must be an experiment "
            "location, e.g. tracklet.entities.MlflowExperimentLocation(experiment_id=...).",
            INVALID_PARAMETER_VALUE,
        )
    if context_local:
        _context_destination.set(str(experiment_id))
    else:
        _destination_experiment_id = str(experiment_id)


def _destination() -> str | None:
    return _context_destination.get() or _destination_experiment_id


def disable_notebook_display() -> None:
    """MLflow's switch for its notebook trace widget; tracklet has no widget: does nothing."""


def enable_notebook_display() -> None:
    """MLflow's switch for its notebook trace widget; tracklet has no widget: does nothing."""
