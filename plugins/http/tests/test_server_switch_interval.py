"""A server worker hands the GIL between its threads every 0.5 ms, not Python's 5 ms: the
event loop that sends answers and reads requests must not wait milliseconds behind a
store thread building a search page (``tracklet_http.server.app.SWITCH_INTERVAL_S``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracklet_http.server.settings import ServerSettings

_WORKER = """
import sys
from tracklet_http.server.app import app_factory
before = sys.getswitchinterval()
app_factory()
print(before, sys.getswitchinterval())
"""


def test_a_worker_switches_threads_every_half_millisecond(tmp_path: Path) -> None:
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{tmp_path / 'switch.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = (float(x) for x in done.stdout.split())
    assert before == 0.005  # Python's default, until the worker sets its own
    assert after == 0.0005
