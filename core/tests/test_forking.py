"""Fork safety of the core: tracklet.stores.forking, the plugin manager's lock, the
fluent API's exit hook. Each test forks a real child (POSIX only)."""

from __future__ import annotations

import gc
import os
import pathlib
import threading

import pytest

import tracklet
from tracklet import fluent, plugins
from tracklet.stores.forking import ProcessCache, after_fork_in_child
from tracklet.testing import held_by_another_thread, in_forked_child

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


class _Pool:
    """Stands for a connection pool or an SDK client."""


def test_a_process_cache_builds_once_per_process() -> None:
    cache: ProcessCache[str, _Pool] = ProcessCache()
    parent = cache.get("k", _Pool)
    assert cache.get("k", _Pool) is parent
    built_in_child = in_forked_child(lambda: id(cache.get("k", _Pool)) != id(parent))
    assert built_in_child, "the forked child was handed the parent's pool"
    assert cache.get("k", _Pool) is parent


def test_a_process_cache_whose_lock_was_held_at_the_fork_still_builds() -> None:
    cache: ProcessCache[str, _Pool] = ProcessCache()
    with held_by_another_thread(cache._lock):
        assert in_forked_child(lambda: isinstance(cache.get("k", _Pool), _Pool), timeout=20)


def test_a_process_cache_hands_its_values_back_for_closing() -> None:
    cache: ProcessCache[str, _Pool] = ProcessCache()
    built = cache.get("a", _Pool)
    assert cache.pop_all() == [built]
    assert cache.get("a", _Pool) is not built


class _Owner:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    def _after_fork(self) -> None:
        self.lock = threading.Lock()


def test_after_fork_in_child_resets_an_owner_in_the_child_only() -> None:
    owner = _Owner()
    after_fork_in_child(owner, _Owner._after_fork)
    with held_by_another_thread(owner.lock):
        assert in_forked_child(lambda: owner.lock.acquire(timeout=10), timeout=20)
        assert owner.lock.locked()  # the parent's lock is the parent's business


def test_after_fork_in_child_forgets_an_owner_that_died() -> None:
    calls: list[str] = []
    owner = _Owner()
    after_fork_in_child(owner, lambda _owner: calls.append("reset"))
    del owner
    gc.collect()
    assert in_forked_child(lambda: calls) == []


def test_the_plugin_manager_lock_held_at_the_fork_does_not_block_the_child(tmp_path: pathlib.Path) -> None:
    uri = str(tmp_path / "mlruns")
    with held_by_another_thread(plugins._lock):
        built = in_forked_child(lambda: type(plugins.get_tracking_store(uri)).__name__, timeout=20)
    assert built == "FileStore"


def test_a_forked_child_exiting_leaves_its_parents_run_running(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fluent, "_local", threading.local())
    tracklet.set_tracking_uri(str(tmp_path / "mlruns"))
    try:
        run = tracklet.start_run()
        in_forked_child(fluent._end_all_runs)  # what the child's atexit hook runs
        assert tracklet.get_run(run.info.run_id).info.status == "RUNNING"
        tracklet.end_run()
        assert tracklet.get_run(run.info.run_id).info.status == "FINISHED"
    finally:
        tracklet.set_tracking_uri(None)
