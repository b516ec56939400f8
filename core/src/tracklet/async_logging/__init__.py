"""Asynchronous logging: ``synchronous=False``, the on-disk spool, offline runs, sync.

``log_metric``, ``log_param``, ``set_tag`` and ``log_batch`` (client and fluent) take
``synchronous=False`` as in MLflow, or default to it when ``MLFLOW_ENABLE_ASYNC_LOGGING``
(or ``TRACKLET_ENABLE_ASYNC_LOGGING``) is true or :func:`enable_async_logging` was called.
The call checks its arguments, queues the call and returns a :class:`RunOperations` whose
``wait()`` blocks until it is stored; :func:`flush_async_logging` waits for everything,
``end_run`` and process exit flush too. The queue and its worker are
:class:`~tracklet.async_logging.logger.AsyncLogger`.

Settings (each ``TRACKLET_*`` name also read as ``MLFLOW_*``):

====================================  ==================================================
``TRACKLET_ASYNC_SPOOL``               a directory: keep queued calls in a write-ahead
                                       spool there (a killed process loses nothing that
                                       returned); ``off``: never; unset: on for
                                       ``http(s)://`` tracking URIs, in
                                       :func:`default_spool_directory`
``TRACKLET_ASYNC_SPOOL_MAX_MB``        spool size at which logging calls start to wait
                                       (default 1024)
``TRACKLET_OFFLINE``                   ``true``: runs started now get a local id and every
                                       logging call goes to the spool; ``tracklet sync``
                                       sends them later
``TRACKLET_ASYNC_EXIT_TIMEOUT``        seconds process exit waits for the queue (60)
``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS``  pause of the worker between writes (0)
====================================  ==================================================

What survives what is in ``docs/async-logging.md``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tracklet.async_logging.operations import RunOperations, get_combined_run_operations
from tracklet.utils import environment

if TYPE_CHECKING:
    from tracklet.async_logging.logger import AsyncLogger
    from tracklet.async_logging.replay import SyncReport, sync_spool
    from tracklet.client import MlflowClient

__all__ = [
    "AsyncLogger",
    "RunOperations",
    "SyncReport",
    "default_spool_directory",
    "enable_async_logging",
    "flush_async_logging",
    "get_combined_run_operations",
    "is_async_logging_enabled",
    "is_offline",
    "logger_for_client",
    "spool_directory_for",
    "spool_directory_setting",
    "sync_spool",
]

_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


_ASYNC_VARIABLES = environment.variables("ENABLE_ASYNC_LOGGING")
_OFFLINE_VARIABLES = environment.variables("OFFLINE", mlflow="")


def is_async_logging_enabled() -> bool:
    """Whether a logging call with ``synchronous=None`` is asynchronous: the
    ``TRACKLET_ENABLE_ASYNC_LOGGING``/``MLFLOW_ENABLE_ASYNC_LOGGING`` setting (default
    false), or offline mode."""
    return environment.flag_set(_ASYNC_VARIABLES) or is_offline()


def enable_async_logging(enable: bool = True) -> None:
    """Make logging calls asynchronous by default (MLflow's
    ``mlflow.config.enable_async_logging``); ``enable=False`` turns it back off. Sets the
    environment variables, so child processes inherit it."""
    value = "true" if enable else "false"
    os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = value
    os.environ["TRACKLET_ENABLE_ASYNC_LOGGING"] = value


def is_offline() -> bool:
    """``TRACKLET_OFFLINE`` is true: log to the spool only, never to the store."""
    return environment.flag_set(_OFFLINE_VARIABLES)


def default_spool_directory() -> str:
    """``$XDG_CACHE_HOME/tracklet/spool``, else ``~/.cache/tracklet/spool``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tracklet", "spool")


def spool_directory_setting() -> str | None:
    """The directory ``TRACKLET_ASYNC_SPOOL`` names, if it names one (not on/off)."""
    value = environment.get("ASYNC_SPOOL", mlflow="")
    if not value or value.lower() in _OFF or value.lower() in _ON:
        return None
    return os.path.abspath(os.path.expanduser(value))


def spool_directory_for(tracking_uri: str) -> str | None:
    """The spool directory of async logging to ``tracking_uri``, or None for an in-memory
    queue (see the module docstring)."""
    value = (environment.get("ASYNC_SPOOL", mlflow="") or "").lower()
    if value in _OFF:
        if is_offline():
            return default_spool_directory()
        return None
    named = spool_directory_setting()
    if named:
        return named
    if value in _ON or is_offline() or tracking_uri.startswith(("http://", "https://")):
        return default_spool_directory()
    return None


def logger_for_client(client: MlflowClient) -> AsyncLogger:
    """The async logger of ``client``'s tracking URI in this process (one per URI and
    spool directory, shared by every client)."""
    from tracklet.async_logging.logger import logger_for

    return logger_for(client, spool_directory_for(client.tracking_uri))


def flush_async_logging(timeout: float | None = None) -> bool:
    """Wait until every call queued in this process is stored (or refused); False if
    ``timeout`` seconds passed first."""
    from tracklet.async_logging.logger import flush_all

    return flush_all(timeout)


def __getattr__(name: str) -> Any:
    if name == "AsyncLogger":
        from tracklet.async_logging.logger import AsyncLogger

        return AsyncLogger
    if name in ("SyncReport", "sync_spool"):
        from tracklet.async_logging import replay

        return getattr(replay, name)
    raise AttributeError(f"module 'tracklet.async_logging' has no attribute {name!r}")
