"""One blocking call on a store thread, awaited by the event loop.

``loop.run_in_executor`` wraps the pool's :class:`concurrent.futures.Future` in an asyncio
future and chains the two both ways (callbacks on each, a state copy, a cancellation
check), about a fifth of the event loop's own work for a ``runs/get``. :func:`run_on`
awaits the same call with one asyncio future that the store thread settles directly,
and keeps what matters of ``run_in_executor``: the call runs on ``executor`` (never on
the loop), its exception (any ``BaseException``) is raised in the awaiting coroutine,
and cancelling the coroutine before the call started cancels the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

__all__ = ["run_on"]

T = TypeVar("T")


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():  # the coroutine gave up waiting: nothing to hand over
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def run_on(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    """``await loop.run_in_executor(executor, fn, *args)``, with less machinery."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def call() -> None:
        try:
            value: Any = fn(*args)
            ok = True
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            value, ok = exc, False
        loop.call_soon_threadsafe(_settle, future, ok, value)

    work = executor.submit(call)
    try:
        return await future
    except asyncio.CancelledError:
        work.cancel()  # not started yet: it never runs, as with run_in_executor
        raise
