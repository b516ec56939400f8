"""A process killed (SIGKILL) while it registers versions leaves a registry that reads
whole and takes new versions: every visible version has all its files, numbers have no
gap, the lock dies with its holder, and what it was building stays hidden."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracklet.entities.model_registry import ModelVersionTag
from tracklet_registry.file import FileRegistryStore

WRITER = r"""
import sys
from tracklet_registry.file import FileRegistryStore
from tracklet.entities.model_registry import ModelVersionTag
store = FileRegistryStore(sys.argv[1])
i = 0
while True:
    i += 1
    tags = [ModelVersionTag(f"t{j}", f"v{i}-{j}") for j in range(3)]
    store.create_model_version("m", f"s3://bucket/{i}", tags=tags, description=f"d{i}")
    store.set_registered_model_alias("m", "newest", str(i))
"""


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        if time.monotonic() > deadline:
            pytest.fail(f"the writer never created {path}")
        time.sleep(0.005)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("kill_after", [3, 8, 15])
def test_killed_writer_leaves_a_whole_registry(mlruns: Path, kill_after: int) -> None:
    store = FileRegistryStore(str(mlruns))
    store.create_registered_model("m")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(mlruns)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for(mlruns / "models" / "m" / f"version-{kill_after}", writer)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        if writer.stderr:
            writer.stderr.close()

    visible = store.search_model_versions("name = 'm'", max_results=1000)
    numbers = sorted(int(v.version) for v in visible)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= kill_after
    for version in visible:
        i = int(version.version)
        assert version.tags == {f"t{j}": f"v{i}-{j}" for j in range(3)}
        assert version.description == f"d{i}" and version.source == f"s3://bucket/{i}"
    for entry in (mlruns / "models" / "m").iterdir():
        if entry.name.startswith("version-"):
            assert (entry / "meta.yaml").is_file()  # MLflow reads every version-* folder
    model = store.get_registered_model("m")
    assert int(model.aliases["newest"]) in numbers

    # the dead writer's lock is gone: new versions come next in line
    after = store.create_model_version("m", "s3://bucket/after", tags=[ModelVersionTag("k", "v")])
    assert int(after.version) == len(numbers) + 1
