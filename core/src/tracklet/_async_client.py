"""The asynchronous half of ``MlflowClient``'s logging calls (``synchronous=False``).

Each call checks its arguments here, in the caller's thread, exactly as the synchronous
path's store would (so bad input raises at once with ``INVALID_PARAMETER_VALUE``), then
hands records to the process's :class:`~tracklet.async_logging.logger.AsyncLogger` for
the client's tracking URI and returns its
:class:`~tracklet.async_logging.operations.RunOperations`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tracklet.async_logging import is_async_logging_enabled, is_offline
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE, TrackletException
from tracklet.utils.time import now_ms
from tracklet.validation import validate_metric, validate_param, validate_run_id, validate_tag

if TYPE_CHECKING:
    from tracklet.async_logging.logger import AsyncLogger
    from tracklet.async_logging.operations import RunOperations
    from tracklet.entities import Metric, Param, Run, RunTag
    from tracklet.stores import TrackingStore

__all__ = ["AsyncClientMixin"]

_log = logging.getLogger("tracklet.async_logging")


class AsyncClientMixin:
    """Asynchronous logging for :class:`~tracklet.client.MlflowClient`."""

    _tracking_uri: str
    _store: TrackingStore
    _async_logger: AsyncLogger | None = None
    _async_run_id: str | None = None  # the last run id found valid (checked once per run)

    @property
    def tracking_uri(self) -> str:  # pragma: no cover - MlflowClient defines it
        return self._tracking_uri

    def _async(self) -> AsyncLogger:
        logger = self._async_logger
        if logger is None:
            from tracklet.async_logging import logger_for_client

            logger = self._async_logger = logger_for_client(self)  # type: ignore[arg-type]
        return logger

    def _wants_async(self, synchronous: bool | None, run_id: str) -> bool:
        """``synchronous=False``; or None with async logging on; or offline; or a run
        started offline (the store does not know it yet)."""
        if synchronous is False:
            return True
        if is_async_logging_enabled() if synchronous is None else is_offline():
            return True
        logger = self._async_logger
        return logger is not None and run_id in logger.local_runs

    def _check_run_id(self, run_id: str) -> None:
        if run_id is not self._async_run_id:
            validate_run_id(run_id)
            self._async_run_id = run_id

    def _log_metric_async(
        self, run_id: str, key: str, value: Any, timestamp: int | None, step: int | None
    ) -> RunOperations:
        if timestamp is None:
            timestamp = now_ms()
        if step is None:
            step = 0
        validate_metric(key, value, timestamp, step)
        if run_id is not self._async_run_id:
            self._check_run_id(run_id)
        logger = self._async_logger or self._async()
        return logger.log_metric(run_id, key, float(value), int(timestamp), int(step))

    def _log_param_async(self, run_id: str, key: str, value: Any) -> RunOperations:
        text = str(value)
        validate_param(key, text)
        self._check_run_id(run_id)
        return self._async().log_param(run_id, key, text)

    def _set_tag_async(self, run_id: str, key: str, value: Any) -> RunOperations:
        text = str(value)  # None becomes "None", as synchronously
        validate_tag(key, text)
        self._check_run_id(run_id)
        return self._async().set_tag(run_id, key, text)

    def _log_batch_async(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> RunOperations:
        """Any number of values (the worker splits them into batches the store takes)."""
        self._check_run_id(run_id)
        records: list[tuple[Any, ...]] = []
        for m in metrics:
            validate_metric(m.key, m.value, m.timestamp, m.step)
            records.append(("m", run_id, m.key, float(m.value), int(m.timestamp), int(m.step)))
        seen: dict[str, str] = {}
        for p in params:
            text = str(p.value)
            validate_param(p.key, text)
            if seen.get(p.key, text) != text:
                raise TrackletException(
                    f"Duplicate parameter keys have been submitted: '{p.key}' with values "
                    f"'{seen[p.key]}' and '{text}'. A param can have only one value.",
                    INVALID_PARAMETER_VALUE,
                )
            seen[p.key] = text
            records.append(("p", run_id, p.key, text))
        for t in tags:
            text = str(t.value)
            validate_tag(t.key, text)
            records.append(("t", run_id, t.key, text))
        return self._async().submit(records)

    # -- runs started and ended without the store -----------------------------------------------

    def _create_run_offline(
        self, experiment_id: str, start_time: int, tags: dict[str, str], run_name: str | None, why: str
    ) -> Run:
        logger = self._async()
        if not logger.spooled:
            raise TrackletException(
                f"Cannot start a run offline ({why}): offline runs need the async logging spool, "
                "which TRACKLET_ASYNC_SPOOL=off turns off. Unset it or name a directory.",
                INVALID_PARAMETER_VALUE,
            )
        run = logger.create_run(experiment_id, start_time, tags, run_name)
        _log.warning(
            "Run %s started offline (%s): its calls are kept in the spool %s and the run is "
            "created in %s by `tracklet sync` or the next process logging there.",
            run.info.run_id,
            why,
            logger.spool_dir,
            self._tracking_uri,
        )
        return run

    def _maybe_create_run_offline(
        self,
        error: TrackletException,
        experiment_id: str,
        start_time: int,
        tags: dict[str, str],
        run_name: str | None,
    ) -> Run | None:
        """A run started while the store is unreachable, with async logging on and a
        spool: started offline instead of failing."""
        if error.error_code != TEMPORARILY_UNAVAILABLE or not is_async_logging_enabled():
            return None
        if not self._async().spooled:
            return None
        return self._create_run_offline(experiment_id, start_time, tags, run_name, "the store is unreachable")

    def _loggers_of_uri(self) -> list[AsyncLogger]:
        """The async loggers of this client's URI; none (and nothing imported) when no call
        in this process has been asynchronous."""
        if "tracklet.async_logging.logger" not in sys.modules:
            return []
        from tracklet.async_logging.logger import loggers_of

        return loggers_of(self._tracking_uri)

    def _terminate_via_logger(self, run_id: str, status: str, end_time: int) -> bool:
        """Before a run ends: write what is queued for its URI. True when the end itself
        was queued instead (a run started offline, offline mode, or the store unreachable
        with a spool keeping the calls)."""
        for logger in self._loggers_of_uri():
            if run_id in logger.local_runs or is_offline() or (logger.spooled and logger.unreachable):
                logger.set_terminated(run_id, status, end_time)
                return True
            logger.flush()
        if is_offline():
            self._async().set_terminated(run_id, status, end_time)
            return True
        return False

    def _terminate_after_error(
        self, error: TrackletException, run_id: str, status: str, end_time: int
    ) -> bool:
        if error.error_code != TEMPORARILY_UNAVAILABLE:
            return False
        for logger in self._loggers_of_uri():
            if logger.spooled:
                logger.set_terminated(run_id, status, end_time)
                return True
        return False
