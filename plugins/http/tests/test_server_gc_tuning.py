"""A server worker freezes its start-up heap out of the cycle collector's walks and raises
the young generation's threshold, so a request's thousands of short-lived dicts no longer
run collections over the whole heap (``tracklet_http.server.gc_tuning``)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from tracklet_http.server.gc_tuning import GEN0_THRESHOLD, tune_worker_gc
from tracklet_http.server.settings import ServerSettings

_WORKER = """
import gc
from tracklet_http.server.app import app_factory
before = (gc.get_threshold()[0], gc.get_freeze_count())
app_factory()
print(*before, gc.get_threshold()[0], gc.get_freeze_count(), gc.isenabled())
"""


def test_a_worker_freezes_its_start_up_heap_and_raises_the_young_threshold(tmp_path: Path) -> None:
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{tmp_path / 'gc.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    gen0_before, frozen_before, gen0_after, frozen_after, enabled = done.stdout.split()
    assert (int(gen0_before), int(frozen_before)) == (700, 0)  # Python's defaults until then
    assert int(gen0_after) == GEN0_THRESHOLD
    assert int(frozen_after) > 10_000  # the imported modules, the store, the app
    assert enabled == "True"  # cycles are still collected


def test_tune_worker_gc_keeps_the_older_generations_ratios() -> None:
    threshold = gc.get_threshold()
    try:
        gc.set_threshold(700, 7, 9)
        tune_worker_gc()
        assert gc.get_threshold() == (GEN0_THRESHOLD, 7, 9)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
