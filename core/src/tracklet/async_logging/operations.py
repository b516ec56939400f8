"""``RunOperations``: what an asynchronous logging call returns (MLflow's class, same name
and methods).

MLflow builds a ``concurrent.futures.Future`` per call. A future holds a lock and a
condition, which would cost more than the whole call is allowed to (a few microseconds),
so here an operation is a *ticket*: the logger it went to and its sequence number there.
``wait()`` asks the logger to wait until everything up to that number has been written,
then raises the error of any of its calls that the store refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tracklet.exceptions import INTERNAL_ERROR, TrackletException

if TYPE_CHECKING:
    from tracklet.async_logging.logger import AsyncLogger

__all__ = ["RunOperations", "get_combined_run_operations", "ticket"]


class RunOperations:
    """Pending logging operations of a run; ``wait()`` blocks until they are stored.

    :param operation_futures: what to wait for: ``concurrent.futures.Future`` objects (as
        MLflow's constructor takes) or tracklet's tickets, ``(logger, first, last)``.
    """

    __slots__ = ("_logger", "_first", "_last", "_more")

    def __init__(self, operation_futures: Iterable[Any] | None = None) -> None:
        self._logger: AsyncLogger | None = None
        self._first = self._last = 0
        self._more = list(operation_futures or [])

    @property
    def _operation_futures(self) -> list[Any]:
        """Everything this waits for, as a list (MLflow's attribute)."""
        own = [(self._logger, self._first, self._last)] if self._logger is not None else []
        return own + self._more

    def wait(self) -> None:
        """Block until every operation has been written to the store. Raises the store's
        error (a :class:`~tracklet.exceptions.TrackletException` with its code) if any of
        them failed; the others are stored all the same."""
        failed: list[BaseException] = []
        for op in self._operation_futures:
            if isinstance(op, tuple):
                logger, first, last = op
                failed.extend(logger.wait_for(first, last))
            else:
                error = op.exception()
                if error is not None:
                    failed.append(error)
        if len(failed) == 1 and isinstance(failed[0], TrackletException):
            raise failed[0]
        if failed:
            codes = {getattr(e, "error_code", INTERNAL_ERROR) for e in failed}
            code = codes.pop() if len(codes) == 1 else INTERNAL_ERROR
            detail = "; ".join(str(e) for e in failed[:5])
            raise TrackletException(
                f"{len(failed)} asynchronous logging operations failed: {detail}", code
            ) from failed[0]

    def __repr__(self) -> str:
        return f"<RunOperations: {len(self._operation_futures)} pending>"


_new = object.__new__


def ticket(logger: AsyncLogger, first: int, last: int) -> RunOperations:
    """The operations ``first..last`` of ``logger`` (the hot path: no list, no lock)."""
    ops: RunOperations = _new(RunOperations)
    ops._logger = logger
    ops._first = first
    ops._last = last
    ops._more = _NONE
    return ops


_NONE: list[Any] = []


def get_combined_run_operations(run_operations_list: Iterable[RunOperations | None]) -> RunOperations | None:
    """One ``RunOperations`` that waits for all of those given (``None`` entries ignored);
    as MLflow's: None for an empty list, the element itself for a list of one."""
    run_operations_list = list(run_operations_list or [])
    if not run_operations_list:
        return None
    if len(run_operations_list) == 1:
        return run_operations_list[0]
    futures: list[Any] = []
    for ops in run_operations_list:
        if ops is not None:
            futures.extend(ops._operation_futures)
    return RunOperations(futures)
