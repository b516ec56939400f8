"""Shared pieces of the async-logging tests (``synchronous=False``, the spool, ``tracklet sync``).

* every test runs with the async-logging environment cleared and ``XDG_CACHE_HOME`` in its
  own temporary folder, so the default spool (on for http URIs) never lands in the home
  folder and no setting of the developer's shell changes what a test sees;
The helpers reach the tests as the ``kit`` fixture (``kit.run_sync(...)``): the suite
imports test files in importlib mode, where a test cannot import its conftest.

* ``child_env`` is the same environment for the child processes the kill, outage and fork
  tests start (they must be separate processes: they are killed, or they fork);
* ``run_sync`` is ``tracklet sync --spool DIR`` as a user runs it, in a subprocess;
* ``assert_exactly_once`` is the one check every test ends with: each point logged is in
  the store once, none twice, none that was not logged.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

#: Settings that would change what a test sees: removed from the test process and children.
CLEARED_ENV = (
    "TRACKLET_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "TRACKLET_EXPERIMENT_NAME",
    "TRACKLET_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "TRACKLET_RUN_ID",
    "TRACKLET_ASYNC_SPOOL",
    "TRACKLET_ASYNC_SPOOL_MAX_MB",
    "TRACKLET_OFFLINE",
    "TRACKLET_ASYNC_EXIT_TIMEOUT",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "TRACKLET_ENABLE_ASYNC_LOGGING",
    "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS",
    "TRACKLET_ASYNC_LOGGING_BUFFERING_SECONDS",
)

POSTGRES = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_async_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean async-logging environment; whatever a test left queued is flushed after it."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield
    import tracklet

    flush = getattr(tracklet, "flush_async_logging", None)
    if flush is not None:
        flush()


def _child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, without the async-logging settings,
    unbuffered, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run_sync(spool: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``tracklet sync --spool SPOOL [args]`` in a subprocess (the CLI users run after a crash)."""
    return subprocess.run(
        [sys.executable, "-m", "tracklet", "sync", "--spool", str(spool), *args],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=timeout,
    )


def _segment_files(spool: Path) -> list[Path]:
    """The spool's segment files (``*.seg``), whatever their state."""
    return sorted(spool.glob("*.seg")) if spool.is_dir() else []


def _assert_exactly_once(
    history: Iterable[Any], logged: Iterable[int], returned: Iterable[int] = (), what: str = ""
) -> None:
    """The metric history holds each step at most once, only steps that were ``logged``,
    each with value ``float(step)``, and every step of ``returned`` (the calls known to have
    returned to the caller). Messages name the first offending steps."""
    history = list(history)
    counts = collections.Counter(m.step for m in history)
    twice = sorted(step for step, n in counts.items() if n > 1)
    assert not twice, f"{what}: {len(twice)} step(s) stored more than once, first {twice[:10]}"
    allowed = set(logged)
    strangers = sorted(set(counts) - allowed)
    assert not strangers, f"{what}: step(s) never logged are stored: first {strangers[:10]}"
    missing = sorted(set(returned) - set(counts))
    assert not missing, (
        f"{what}: {len(missing)} step(s) whose call returned are not stored, first {missing[:10]}"
    )
    wrong = [(m.step, m.value) for m in history if m.value != float(m.step)]
    assert not wrong, f"{what}: values do not match their steps: first {wrong[:10]}"


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above as ``kit.child_env``, ``kit.run_sync``, ``kit.segment_files`` and
    ``kit.assert_exactly_once``."""
    return SimpleNamespace(
        child_env=_child_env,
        run_sync=_run_sync,
        segment_files=_segment_files,
        assert_exactly_once=_assert_exactly_once,
    )


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``tracklet server`` on sqlite, one per test module (stopped at its end)."""
    from tracklet_http.testing import launch_tracklet_server

    server = launch_tracklet_server(tmp_path_factory.mktemp("async-server"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards (skipped when PostgreSQL
    is not reachable, failed when ``TRACKLET_TEST_REQUIRE_SERVERS`` is set)."""
    import secrets

    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        reason = f"PostgreSQL is not available at {POSTGRES}: {exc}"
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"tracklet_async_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
