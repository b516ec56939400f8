"""What an object-store plugin's own tests share, beyond the conformance suite.

The S3, GCS and Azure plugins (and a third party's store of the same kind) test the same
things against their servers: a big file's round trip in flat memory, runs whose
artifacts live in the store through the client and the fluent API, progress bars on a
terminal. The pieces::

    from tracklet.testing.objects import FakeTerminal, local_tree, round_trip, tracking_uri

* :func:`round_trip` uploads and downloads one big file in a fresh interpreter and
  reports the times, the peak memory the transfers added and whether the bytes match;
* :func:`tracking_uri` is a pytest fixture (import it into a test module or a
  ``conftest.py``), parametrized over a file store and a sqlite file, that leaves no
  tracking URI, active run or active experiment behind;
* :func:`local_tree` is a downloaded folder as ``{relative posix path: bytes}``;
* :class:`FakeTerminal` is a stderr that says it is a terminal, for progress bars;
* :func:`check_forked_reads` is the conformance suite's fork test on one repository,
  for a server reached through a keep-alive proxy (emulators that close every
  connection hide a pooled socket shared with a forked child);
  :func:`check_client_after_fork` checks that a forked child uses an SDK client of its
  own.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tracklet.stores import ArtifactRepository
from tracklet.testing._fork import artifact_files, assert_no_wrong_answers, forked_reads, in_forked_child

__all__ = [
    "FakeTerminal",
    "RoundTrip",
    "check_client_after_fork",
    "check_forked_reads",
    "local_tree",
    "round_trip",
    "tracking_uri",
]

MiB = 1 << 20


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal: ``monkeypatch.setattr(sys, "stderr",
    FakeTerminal())`` makes progress bars draw into it."""

    def isatty(self) -> bool:
        return True


def local_tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under ``root``, as ``{path relative to root, with /: content}``."""
    base = pathlib.Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(params=["file", "sqlite"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A new tracking store for the test: a file store folder, then a sqlite file
    (tracklet-file and tracklet-sql must be installed)."""
    import tracklet
    from tracklet import fluent

    uri = str(tmp_path / "mlruns") if request.param == "file" else f"sqlite:///{tmp_path / 'tracking.db'}"
    yield uri
    # the tracking URI, the active run and the active experiment are process state: leave none
    fluent._end_all_runs()
    fluent._active_experiment_id = None
    tracklet.set_tracking_uri(None)


def check_forked_reads(repo: ArtifactRepository, scratch: pathlib.Path, reads: int = 100) -> None:
    """The suite's ``test_forked_processes_each_read_their_own_files`` on ``repo``, with
    ``reads`` reads per process: the parent and 4 forked children each write a file and
    read it back at once; every answer must be that process's own."""
    assert_no_wrong_answers(forked_reads(lambda who: artifact_files(repo, who, scratch), reads))


def check_client_after_fork(
    repo: ArtifactRepository, client: Callable[[], object], scratch: pathlib.Path
) -> None:
    """Use the new, empty ``repo`` here, then in a forked child: there ``client()`` (the SDK
    client the repository uses) must be another object than here, and the child's upload
    must work; back here, the repository keeps this process's client and sees the file."""
    assert repo.list_artifacts() == []
    parent = id(client())

    def in_child() -> tuple[bool, list[str]]:
        (scratch / "f.txt").write_text("child")
        repo.log_artifact(str(scratch / "f.txt"))
        return id(client()) != parent, [f.path for f in repo.list_artifacts()]

    own, listed = in_forked_child(in_child)
    assert own, "the forked child used its parent's client (and its pooled connections)"
    assert listed == ["f.txt"]
    assert id(client()) == parent
    assert [f.path for f in repo.list_artifacts()] == ["f.txt"]


@dataclass(frozen=True)
class RoundTrip:
    """What :func:`round_trip` measured."""

    size: int
    same: bool
    upload_seconds: float
    download_seconds: float
    baseline_rss: int
    peak_rss: int
    peak_since_reset: bool

    @property
    def added_rss(self) -> int:
        """Bytes the transfers added to the process's peak resident memory."""
        return self.peak_rss - self.baseline_rss

    def __str__(self) -> str:
        return (
            f"{self.size / MiB:.0f} MiB: upload {self.upload_seconds:.1f}s, download "
            f"{self.download_seconds:.1f}s, peak RSS {self.peak_rss / MiB:.0f} MiB "
            f"({self.added_rss / MiB:+.0f} MiB over the RSS before; "
            f"{'peak reset before the transfers' if self.peak_since_reset else 'peak since start'})"
        )


def round_trip(uri: str, folder: pathlib.Path, size: int, timeout: float = 900) -> RoundTrip:
    """Write ``size`` random bytes (every MiB different, so a misplaced part shows) under
    ``folder``, then in a fresh interpreter log the file to the artifact repository of
    ``uri`` (found by scheme, as the client finds it) and download it again. The child
    inherits this process's environment."""
    source = folder / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:
        for start in range(0, size, MiB):
            chunk = os.urandom(min(MiB, size - start))
            digest.update(chunk)
            f.write(chunk)
    done = subprocess.run(
        [sys.executable, "-m", "tracklet.testing._round_trip", uri, str(source), str(folder / "dl")],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"the round trip failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return RoundTrip(
        size=report["size"],
        same=report["sha256"] == digest.hexdigest(),
        upload_seconds=report["upload_seconds"],
        download_seconds=report["download_seconds"],
        baseline_rss=report["baseline_rss"],
        peak_rss=report["peak_rss"],
        peak_since_reset=report["peak_since_reset"],
    )
