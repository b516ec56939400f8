"""Artifacts stream through ``tracklet server``: a 256 MiB file goes up and comes back
down while the server's peak memory grows by less than 50 MB, and the client's too."""

from __future__ import annotations

import hashlib
import os
import pathlib
import resource
import uuid

import pytest

from tracklet_http.artifacts import API_PATH, HttpArtifactRepository
from tracklet_http.testing import ServerProcess

pytestmark = pytest.mark.slow

SIZE = 256 * 1024 * 1024
MAX_GROWTH = 50 * 1024 * 1024


def _peak_rss(pid: int) -> int:
    """The peak resident memory (VmHWM) of ``pid`` or of its biggest descendant, in bytes."""
    peak = 0
    for candidate in [pid, *_descendants(pid)]:
        try:
            with open(f"/proc/{candidate}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except FileNotFoundError:
            continue
    return peak


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _random_file(path: pathlib.Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from /proc")
def test_256_mib_up_and_down_with_flat_server_memory(
    tracklet_server: ServerProcess, tmp_path: pathlib.Path
) -> None:
    repo = HttpArtifactRepository(f"{tracklet_server.url}{API_PATH}/{uuid.uuid4().hex}")
    warm = tmp_path / "warm.bin"
    warm.write_bytes(os.urandom(4 * 1024 * 1024))  # imports, pools and buffers set up first
    repo.log_artifact(str(warm), "warm")
    repo.download_artifacts("warm/warm.bin", str(tmp_path / "warm-dl"))
    big = tmp_path / "big.bin"
    expected = _random_file(big, SIZE)
    server_before = _peak_rss(tracklet_server.proc.pid)
    client_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    repo.log_artifact(str(big), "d")
    got = repo.download_artifacts("d/big.bin", str(tmp_path / "dl"))

    assert _sha256(got) == expected
    server_growth = _peak_rss(tracklet_server.proc.pid) - server_before
    client_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - client_before
    assert server_growth < MAX_GROWTH, f"server peak memory grew by {server_growth / 1e6:.1f} MB"
    assert client_growth < MAX_GROWTH, f"client peak memory grew by {client_growth / 1e6:.1f} MB"
