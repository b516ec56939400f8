"""Conformance tests for a store shared across ``os.fork()``.

Training code forks (``multiprocessing``, data-loader workers) after it has used the
client, so a store object made in the parent is used by several processes at once. The
test: the parent writes and reads its own objects, then forks 4 children, two while
its pooled connections sit idle and two while one of its threads keeps reading (so a
lock may be held at the moment of the fork). Every process writes its own objects, then
all of them read their own objects :data:`READS` times at once, each answer checked
against what that process wrote. A pooled socket, an SDK client or a lock inherited
from the parent shows up as another process's answer, an error, or a child that never
finishes (after ``fork_timeout`` seconds it prints its stacks and is reported, so the
test cannot hang).

Children report through a pipe and leave with ``os._exit``, so nothing of pytest runs
twice. An in-memory store passes too: the child works on its copy of the parent's
memory, and no process is expected to see what another wrote after the fork.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import pathlib
import pickle
import select
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from tracklet.entities import Metric, Param
from tracklet.stores import ArtifactRepository, TrackingStore
from tracklet.testing._support import T0

#: Children forked from the test process.
CHILDREN = 4
#: Reads each process makes of its own objects.
READS = 300
#: Examples of wrong answers and errors a report carries.
_EXAMPLES = 3

#: (what, read, expected): ``read()`` must equal ``expected``.
Check = tuple[str, Callable[[], Any], Any]
#: ``prepare(who)`` writes one process's objects and returns the reads that check them.
Prepare = Callable[[str], list[Check]]

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` has something to read within ``timeout`` seconds. ``poll``, not
    ``select``: a test process with more than 1,024 open descriptors (a long suite) hands
    out numbers that ``select`` refuses."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0.0, timeout) * 1000))


class Tally:
    """One process's reads: how many, how many gave a wrong answer, how many raised."""

    def __init__(self, who: str) -> None:
        self.report: dict[str, Any] = {"who": who, "reads": 0, "wrong": 0, "errors": 0, "examples": []}

    def run(self, checks: list[Check], reads: int, stop: threading.Event | None = None) -> None:
        """``reads`` reads, cycling through ``checks`` (until ``stop`` is set, if given)."""
        for i in range(reads):
            if stop is not None and stop.is_set():
                return
            what, read, expected = checks[i % len(checks)]
            self.report["reads"] += 1
            try:
                got = read()
            except Exception as exc:
                self.fail("errors", f"{what}: {type(exc).__name__}: {exc}")
                continue
            if got != expected:
                self.fail("wrong", f"{what}: got {got!r}, expected {expected!r}")

    def fail(self, kind: str, example: str) -> None:
        self.report[kind] += 1
        if len(self.report["examples"]) < _EXAMPLES:
            self.report["examples"].append(f"{self.report['who']}: {example[:500]}")


def _fork() -> int:
    # Python 3.12+ warns about forking a process that runs threads; that is the very
    # situation under test (and filterwarnings=error would raise it in the parent).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _child(who: str, prepare: Prepare, reads: int, gate: int, out: int, timeout: float) -> NoReturn:
    """A forked child's whole life: it reports on ``out`` and never returns to pytest. A
    child stuck for ``timeout`` seconds in one phase prints its threads' stacks on
    stderr (the test's captured output) and exits."""
    try:
        tally = Tally(who)
        faulthandler.dump_traceback_later(timeout, exit=True, file=2)
        try:
            checks = prepare(who)
        except Exception as exc:
            tally.fail("errors", f"writing its objects: {type(exc).__name__}: {exc}")
        else:
            os.write(out, b"ready\n")
            faulthandler.cancel_dump_traceback_later()
            if _readable(gate, timeout):
                faulthandler.dump_traceback_later(timeout, exit=True, file=2)
                tally.run(checks, reads)
            else:
                tally.fail("errors", f"the parent did not start the reads within {timeout:g}s")
        os.write(out, json.dumps(tally.report).encode() + b"\n")
    finally:
        os._exit(0)


class _Forked:
    """The parent's side of one child: its pid and the pipe it reports on."""

    def __init__(self, who: str, pid: int, fd: int) -> None:
        self.who, self.pid, self.fd = who, pid, fd
        self._buffer = bytearray()

    def line(self, deadline: float) -> bytes | None:
        """The child's next line (None at end of file or at ``deadline``)."""
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not _readable(self.fd, left):
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        return line

    def rest(self, deadline: float) -> bytes:
        """Everything the child writes until it closes the pipe (or until ``deadline``)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not _readable(self.fd, left):
                return b""
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return bytes(self._buffer)
            self._buffer += chunk

    def report(self, first: bytes | None, deadline: float, timeout: float) -> dict[str, Any]:
        """The child's report (its first line, or the next one after ``ready``)."""
        line = self.line(deadline) if first == b"ready" else first
        if line is not None:
            return json.loads(line)  # type: ignore[no-any-return]
        missing = Tally(self.who)
        phase = "writing its objects" if first is None else "reading"
        missing.fail("errors", f"no report: stuck {phase} for {timeout:g}s (stacks on stderr)")
        return missing.report

    def reap(self, deadline: float) -> None:
        """Wait for the child to exit until ``deadline``, then kill it."""
        os.close(self.fd)
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return
            time.sleep(0.01)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _fork_children(
    forked: list[_Forked], prepare: Prepare, checks: list[Check], reads: int, gate: list[int], timeout: float
) -> None:
    """Fork :data:`CHILDREN` children that wait on ``gate``: the first half while the
    parent's pools sit idle (inherited connections), the second half while one of its
    threads is inside the store (a lock may be held at the moment of the fork)."""
    stop = threading.Event()
    churn = threading.Thread(target=lambda: Tally("churn").run(checks, 10**9, stop), daemon=True)
    try:
        for i in range(CHILDREN):
            if i == CHILDREN // 2:
                churn.start()
            out_read, out_write = os.pipe()
            pid = _fork()
            if pid == 0:
                os.close(gate[1])
                os.close(out_read)
                _child(f"child-{i}", prepare, reads, gate[0], out_write, timeout)
            os.close(out_write)
            forked.append(_Forked(f"child-{i}", pid, out_read))
    finally:
        stop.set()
        if churn.is_alive():
            churn.join(timeout)


def forked_reads(prepare: Prepare, reads: int = READS, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Run ``prepare`` and its reads in this process and in :data:`CHILDREN` forked ones
    at once; one report per process, the parent's first (a child that gave none is
    reported as one error)."""
    checks = prepare("parent")  # the parent uses the store before it forks
    gate = list(os.pipe())
    forked: list[_Forked] = []
    try:
        _fork_children(forked, prepare, checks, reads, gate, timeout)
        ready_by = time.monotonic() + timeout
        firsts = [child.line(ready_by) for child in forked]
        _close(gate)  # end of file on the gate: every child starts reading now
        parent = Tally("parent")
        parent.run(checks, reads)
        done_by = time.monotonic() + timeout
        return [parent.report] + [c.report(f, done_by, timeout) for c, f in zip(forked, firsts, strict=True)]
    finally:
        _close(gate)  # after a failure: the children waiting at the gate stop waiting
        for child in forked:
            child.reap(time.monotonic() + 10)


def _close(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


def in_forked_child(function: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``function()`` run in a child forked from this process, and its (picklable) result.

    :raises AssertionError: with the child's traceback if it raised, or if it had not
        finished after ``timeout`` seconds (it is killed; its stacks go to stderr).
    """
    out_read, out_write = os.pipe()
    pid = _fork()
    if pid == 0:
        try:
            os.close(out_read)
            faulthandler.dump_traceback_later(timeout, exit=True, file=2)
            try:
                answer: tuple[bool, Any] = (True, function())
            except BaseException:
                answer = (False, traceback.format_exc())
            os.write(out_write, pickle.dumps(answer))
        finally:
            os._exit(0)
    os.close(out_write)
    child = _Forked("child", pid, out_read)
    data = child.rest(time.monotonic() + timeout)
    child.reap(time.monotonic() + 10)
    if not data:
        raise AssertionError(f"the forked child gave no answer within {timeout:g}s (stuck? stacks on stderr)")
    ok, value = pickle.loads(data)
    if not ok:
        raise AssertionError(f"the forked child raised:\n{value}")
    return value


@contextlib.contextmanager
def held_by_another_thread(lock: Any) -> Iterator[None]:
    """Hold ``lock`` (anything with ``acquire``/``release``) in another thread for the
    duration of the block, as a thread of a real program may hold it when it forks."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    if not taken.wait(30):
        raise AssertionError("the lock could not be taken within 30s")
    try:
        yield
    finally:
        done.set()
        holder.join(30)


def assert_no_wrong_answers(reports: list[dict[str, Any]]) -> None:
    """Every process made its reads with 0 wrong answers and 0 errors."""
    wrong = sum(r["wrong"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    examples = [e for r in reports for e in r["examples"]]
    counts = ", ".join(
        f"{r['who']}: {r['reads']} reads {r['wrong']} wrong {r['errors']} errors" for r in reports
    )
    assert (wrong, errors) == (0, 0), f"{wrong} wrong answers, {errors} errors ({counts}); e.g. {examples}"


class ForkTests:
    """A tracking store used in the parent, then by the parent and forked children at once."""

    #: Reads each process makes of its own objects.
    fork_reads = READS
    #: Seconds a forked child may spend in one phase before it is reported as stuck.
    fork_timeout = 120.0

    @needs_fork
    def test_forked_processes_each_read_their_own_objects(self, store: TrackingStore) -> None:
        assert_no_wrong_answers(
            forked_reads(lambda who: _tracking_objects(store, who), self.fork_reads, self.fork_timeout)
        )


def _tracking_objects(store: TrackingStore, who: str) -> list[Check]:
    """An experiment, a run with a param and 3 metric points, all unique to this process."""
    name = f"fork-{who}-{os.getpid()}"
    experiment_id = store.create_experiment(name)
    run_id = store.create_run(experiment_id, who, T0, [], f"run-{who}").info.run_id
    values = [float(os.getpid() * 10 + i) for i in range(3)]
    metrics = [Metric("m", v, T0 + i, i) for i, v in enumerate(values)]
    store.log_batch(run_id, metrics, [Param("who", who)], [])
    history = [(i, v) for i, v in enumerate(values)]

    def run() -> Any:
        found = store.get_run(run_id)
        return found.info.run_id, found.info.experiment_id, dict(found.data.params), dict(found.data.metrics)

    return [
        ("get_experiment", lambda: store.get_experiment(experiment_id).name, name),
        ("get_run", run, (run_id, experiment_id, {"who": who}, {"m": values[-1]})),
        (
            "get_metric_history",
            lambda: [(m.step, m.value) for m in store.get_metric_history(run_id, "m")],
            history,
        ),
    ]


class ArtifactForkTests:
    """An artifact repository used in the parent, then by the parent and forked children at once."""

    #: Reads each process makes of its own files (lower it for a slow emulator).
    fork_reads = READS
    #: Seconds a forked child may spend in one phase before it is reported as stuck.
    fork_timeout = 120.0

    @needs_fork
    def test_forked_processes_each_read_their_own_files(
        self, repo: ArtifactRepository, tmp_path: pathlib.Path
    ) -> None:
        assert_no_wrong_answers(
            forked_reads(lambda who: artifact_files(repo, who, tmp_path), self.fork_reads, self.fork_timeout)
        )


def artifact_files(repo: ArtifactRepository, who: str, scratch: pathlib.Path) -> list[Check]:
    """One file under ``<who>/``, with content unique to this process."""
    source = scratch / who / "upload" / "own.txt"
    source.parent.mkdir(parents=True)
    content = f"{who} {os.getpid()}\n".encode() * 10
    source.write_bytes(content)
    repo.log_artifact(str(source), who)
    downloads = str(scratch / who / "download")

    def download() -> bytes:
        return pathlib.Path(repo.download_artifacts(f"{who}/own.txt", downloads)).read_bytes()

    return [
        (
            "list_artifacts",
            lambda: [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts(who)],
            [(f"{who}/own.txt", False, len(content))],
        ),
        ("download_artifacts", download, content),
    ]
