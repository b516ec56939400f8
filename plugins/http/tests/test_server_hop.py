"""``run_on`` awaits a blocking call on a store thread as ``loop.run_in_executor`` does:
the call runs on the executor's thread, its result or exception reaches the coroutine,
and a coroutine cancelled before the call started cancels the call."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracklet_http.server.hop import run_on


def test_the_call_runs_on_the_executor_and_its_result_comes_back() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="store") as pool:

        async def main() -> tuple[str, int]:
            return await run_on(pool, lambda a, b: (threading.current_thread().name, a + b), 2, 3)

        name, total = asyncio.run(main())
    assert name.startswith("store") and total == 5


@pytest.mark.parametrize("error", [ValueError("bad"), KeyboardInterrupt()])
def test_the_calls_exception_is_raised_in_the_coroutine(error: BaseException) -> None:
    def fail() -> None:
        raise error

    with ThreadPoolExecutor(1) as pool:

        async def main() -> None:
            await run_on(pool, fail)

        with pytest.raises(type(error)):
            asyncio.run(main())


def test_a_cancelled_wait_cancels_a_call_not_started_and_ignores_a_finished_one() -> None:
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def block() -> str:
        started.set()
        release.wait(10)
        ran.append("first")
        return "first"

    with ThreadPoolExecutor(1) as pool:

        async def main() -> None:
            first = asyncio.ensure_future(run_on(pool, block))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
            queued = asyncio.ensure_future(run_on(pool, ran.append, "second"))
            await asyncio.sleep(0)
            queued.cancel()  # still behind `block` on the only thread: never runs
            with pytest.raises(asyncio.CancelledError):
                await queued
            first.cancel()  # already running: it finishes, its result is dropped
            with pytest.raises(asyncio.CancelledError):
                await first
            release.set()
            assert await run_on(pool, lambda: "third") == "third"

        asyncio.run(main())
    assert ran == ["first"]
