"""What a wrong password may cost (issue 12, finding 1): the failed-login limiter, the
hashing pool, and the auth service using both — real objects over a real sqlite users
database. The live-server side is in test_auth_server.py and test_auth_loop.py."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from tracklet.exceptions import TrackletException
from tracklet_http.server.auth.config import AuthConfig, load_config
from tracklet_http.server.auth.limits import FailureLimiter, HashingPool, LoginThrottled
from tracklet_http.server.auth.passwords import hash_password
from tracklet_http.server.auth.service import AuthService

ADMIN_PASSWORD = "admin-password-123"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttled(limiter: FailureLimiter, user: str, address: str) -> LoginThrottled | None:
    try:
        limiter.check(user, address)
    except LoginThrottled as exc:
        return exc
    return None


# -- the limiter ---------------------------------------------------------------------------------


def test_a_user_and_address_is_refused_after_too_many_failures_until_the_window_ends() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 100, 60.0, clock=clock)
    for _ in range(3):
        assert _throttled(limiter, "alice", "10.0.0.1") is None
        limiter.failed("alice", "10.0.0.1")
    clock.now += 20
    refused = _throttled(limiter, "alice", "10.0.0.1")
    assert refused is not None
    assert refused.error_code == "REQUEST_LIMIT_EXCEEDED" and refused.retry_after == 40
    assert "TRACKLET_AUTH_MAX_FAILURES" in refused.message and "alice" in refused.message
    # other users from there, and alice from elsewhere, are not held back
    assert _throttled(limiter, "bob", "10.0.0.1") is None
    assert _throttled(limiter, "alice", "10.0.0.2") is None
    clock.now += 40
    assert _throttled(limiter, "alice", "10.0.0.1") is None


def test_an_address_trying_many_users_is_refused() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 5, 60.0, clock=clock)
    for i in range(5):
        limiter.failed(f"user{i}", "10.0.0.9")
    refused = _throttled(limiter, "someone-new", "10.0.0.9")
    assert refused is not None and "TRACKLET_AUTH_MAX_ADDRESS_FAILURES" in refused.message
    assert _throttled(limiter, "someone-new", "10.0.0.10") is None


def test_a_correct_password_clears_its_own_count_only() -> None:
    limiter = FailureLimiter(3, 7, 60.0, clock=Clock())
    for _ in range(2):
        limiter.failed("alice", "a")
    limiter.failed("bob", "a")
    limiter.failed("bob", "a")
    limiter.succeeded("alice", "a")
    limiter.failed("alice", "a")
    limiter.failed("alice", "a")
    assert _throttled(limiter, "alice", "a") is None  # 2 since the success
    # the address's count went on: 6 failures from "a", and a 7th is its limit
    limiter.failed("carol", "a")
    assert _throttled(limiter, "dave", "a") is not None


def test_zero_turns_a_limit_off() -> None:
    limiter = FailureLimiter(0, 0, 60.0, clock=Clock())
    for _ in range(1000):
        limiter.failed("alice", "a")
    assert _throttled(limiter, "alice", "a") is None


def test_the_limiter_is_bounded_in_memory() -> None:
    limiter = FailureLimiter(3, 5, 60.0, max_keys=100, clock=Clock())
    for i in range(10_000):
        limiter.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._pairs.entries) == 100 and len(limiter._addresses.entries) == 100


def test_the_limiter_counts_from_many_threads() -> None:
    limiter = FailureLimiter(4000, 0, 60.0, clock=Clock())

    def fail() -> None:
        for _ in range(500):
            limiter.failed("alice", "a")

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _throttled(limiter, "alice", "a") is not None  # 8 x 500 = 4000 counted, none lost


def _child_state(limiter: FailureLimiter, pool: HashingPool, queue: Any) -> None:
    queue.put((_throttled(limiter, "alice", "a") is None, pool.run(sum, [1, 2, 3])))


def test_a_forked_child_starts_with_fresh_counts_and_its_own_threads() -> None:
    limiter = FailureLimiter(2, 0, 60.0)
    pool = HashingPool(1, 0)
    limiter.failed("alice", "a")
    limiter.failed("alice", "a")
    assert pool.run(sum, [1, 1]) == 2  # the parent's hashing thread exists now
    assert _throttled(limiter, "alice", "a") is not None
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads
        child = ctx.Process(target=_child_state, args=(limiter, pool, queue))
        child.start()
    assert queue.get(timeout=60) == (True, 6)
    child.join(60)
    assert child.exitcode == 0
    assert _throttled(limiter, "alice", "a") is not None  # the parent's counts are untouched


# -- the hashing pool ------------------------------------------------------------------------------


def test_the_hashing_pool_refuses_beyond_its_queue() -> None:
    pool = HashingPool(1, 1)
    release = threading.Event()
    running = threading.Event()

    def block() -> str:
        running.set()
        release.wait(30)
        return "done"

    results: list[str] = []
    waiters = [threading.Thread(target=lambda: results.append(pool.run(block))) for _ in range(2)]
    waiters[0].start()
    assert running.wait(30)
    waiters[1].start()
    deadline = time.monotonic() + 30
    while pool._pending < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(LoginThrottled) as info:
        pool.run(block)
    assert info.value.error_code == "REQUEST_LIMIT_EXCEEDED" and info.value.retry_after == 1
    assert "TRACKLET_AUTH_HASH_THREADS" in info.value.message
    release.set()
    for t in waiters:
        t.join(30)
    assert results == ["done", "done"]
    assert pool.run(lambda: "free again") == "free again"


def test_the_hashing_pool_runs_off_the_event_loop() -> None:
    pool = HashingPool(1, 4)

    async def main() -> tuple[int, str]:
        loop_thread = threading.get_ident()
        ticks = 0
        gate = threading.Event()

        def work() -> str:
            gate.wait(30)
            return "hashed" if threading.get_ident() != loop_thread else "on the loop"

        task = asyncio.ensure_future(pool.run_async(work))
        while ticks < 5:  # the loop keeps turning while the work waits
            await asyncio.sleep(0)
            ticks += 1
        gate.set()
        return ticks, await task

    assert asyncio.run(main()) == (5, "hashed")


# -- the service --------------------------------------------------------------------------------------


def _service(tmp_path: Path, **overrides: Any) -> AuthService:
    database = f"sqlite:///{tmp_path / 'auth.db'}"
    config = AuthConfig(database_uri=database, admin_password=ADMIN_PASSWORD, **overrides)
    service = AuthService(config)
    service.store.create_user("alice", hash_password("alice-password-1"))
    return service


def _timed(fn: Any, *args: Any) -> tuple[float, BaseException | None]:
    start = time.perf_counter()
    try:
        fn(*args)
    except TrackletException as exc:
        return time.perf_counter() - start, exc
    return time.perf_counter() - start, None


def test_wrong_passwords_are_throttled_without_hashing(tmp_path: Path) -> None:
    service = _service(tmp_path, max_failures=3, max_address_failures=100)
    try:
        wrong = _basic("alice", "not-alices-password")
        hashed = []
        for _ in range(3):
            elapsed, exc = _timed(service.authenticate_header, wrong, "10.1.1.1")
            assert exc is not None and exc.error_code == "UNAUTHENTICATED"
            hashed.append(elapsed)
        elapsed, exc = _timed(service.authenticate_header, wrong, "10.1.1.1")
        assert exc is not None and exc.error_code == "REQUEST_LIMIT_EXCEEDED"
        # no scrypt: far cheaper than any checked password (relative, not a constant)
        assert elapsed * 20 < min(hashed)
        # the right password is refused too: it is not checked while the address is held back
        right = _basic("alice", "alice-password-1")
        _, exc = _timed(service.authenticate_header, right, "10.1.1.1")
        assert exc is not None and exc.error_code == "REQUEST_LIMIT_EXCEEDED"
        # from another address it works, and is then cached ...
        assert service.authenticate_header(right, "10.2.2.2").username == "alice"
    finally:
        service.store.close()


def test_a_cached_credential_passes_while_its_address_is_throttled(tmp_path: Path) -> None:
    service = _service(tmp_path, max_failures=2, max_address_failures=2)
    try:
        right = _basic("alice", "alice-password-1")
        assert service.authenticate_header(right, "10.1.1.1").username == "alice"
        checked, _ = _timed(service.authenticate_header, _basic("nobody", "whatever-password"), "10.1.1.1")
        _timed(service.authenticate_header, _basic("nobody", "whatever-password"), "10.1.1.1")
        _, exc = _timed(service.authenticate_header, _basic("bob", "whatever-password"), "10.1.1.1")
        assert exc is not None and exc.error_code == "REQUEST_LIMIT_EXCEEDED"
        cached, exc = _timed(service.authenticate_header, right, "10.1.1.1")
        assert exc is None and cached * 20 < checked
    finally:
        service.store.close()


def test_async_authentication_keeps_the_loop_free(tmp_path: Path) -> None:
    service = _service(tmp_path)

    async def main() -> tuple[int, str]:
        ticks = 0
        task = asyncio.ensure_future(service.authenticate_async(_basic("alice", "alice-password-1"), "a"))
        while not task.done():
            await asyncio.sleep(0.001)
            ticks += 1
        return ticks, (await task).username

    try:
        ticks, name = asyncio.run(main())
        assert name == "alice" and ticks > 5  # the loop turned while scrypt ran elsewhere
    finally:
        service.store.close()


def test_rate_limit_settings_from_the_environment() -> None:
    config = load_config(
        "sqlite:///t.db",
        None,
        {
            "TRACKLET_AUTH_MAX_FAILURES": "5",
            "TRACKLET_AUTH_MAX_ADDRESS_FAILURES": "0",
            "TRACKLET_AUTH_FAILURE_WINDOW_SECONDS": "30",
            "TRACKLET_AUTH_HASH_THREADS": "2",
            "TRACKLET_AUTH_HASH_QUEUE": "8",
        },
    )
    assert (config.max_failures, config.max_address_failures, config.failure_window) == (5, 0, 30.0)
    assert (config.hash_threads, config.hash_queue) == (2, 8)
    defaults = load_config("sqlite:///t.db", None, {})
    assert (defaults.max_failures, defaults.max_address_failures, defaults.failure_window) == (10, 100, 300.0)
    assert 1 <= defaults.hash_threads <= 4 and defaults.hash_queue == 32
    for name, value in (
        ("TRACKLET_AUTH_MAX_FAILURES", "-1"),
        ("TRACKLET_AUTH_HASH_THREADS", "0"),
        ("TRACKLET_AUTH_HASH_QUEUE", "many"),
    ):
        with pytest.raises(TrackletException, match=name):
            load_config("sqlite:///t.db", None, {name: value})
