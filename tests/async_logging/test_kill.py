"""The issue's kill test: a process logging asynchronously with the spool on is killed with
SIGKILL at a random moment, 20 times; after ``tracklet sync`` every point whose call had
returned is in the store exactly once.

Each round starts a child that logs 200,000 points of its own key (``loss_<round>``, steps
0..199,999) with ``synchronous=False`` (client API in even rounds, fluent API in odd ones)
and prints, after every 1,000 calls that returned, how many have returned. The parent picks
a random count (or, in some rounds, the end of the loop, where the child then waits for its
kill rather than exit: an exit would flush) and a random extra delay, and SIGKILLs the
child once it has printed that count. The highest count the child printed is a lower bound
of the calls that returned: every step below it must be stored; steps above it may be (a
call that returned after the last print), but once at most.

With the spool, a separate drain process writes the child's segment to the store, and it
outlives a ``kill -9`` of the child alone (it then finishes the segment). Half the rounds
kill only the child (a training process killed, or crashed); the other half (and the
last round) kill its drain process in the same instant (the whole job killed: a node lost, a container
stopped, the OOM killer taking the cgroup), so that what was accepted survives only in
the spool, and a drain killed mid-batch leaves an uncertain region to deduplicate.

The next round's child, logging to the same URI with the same spool, replays what a killed
one left (and may itself be killed while doing so); ``tracklet sync`` sends the rest. The
test also checks that the kills really fell while points were unsent (the store lacked
some returned points right after a whole-job kill in at least one round: otherwise the
spool would have had nothing to save), that sync empties the spool, and that a second sync
sends nothing.

The seed is printed in every assertion message; ``TRACKLET_TEST_SEED=<seed>`` repeats a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import tracklet

POINTS = 200_000
PRINT_EVERY = 1_000

#: The child: log POINTS points async, print the count of returned calls every PRINT_EVERY,
#: then wait (on stdin) for the SIGKILL instead of exiting.
CHILD = r"""
import sys
import tracklet

uri, run_id, key, points, every, api = sys.argv[1:7]
points, every = int(points), int(every)
out = sys.stdout
if api == "fluent":
    tracklet.set_tracking_uri(uri)
    tracklet.start_run(run_id=run_id)
    log_metric = tracklet.log_metric
    for i in range(points):
        log_metric(key, float(i), step=i, synchronous=False)
        if (i + 1) % every == 0:
            out.write(f"{i + 1}\n")
            out.flush()
else:
    client = tracklet.MlflowClient(uri)
    log_metric = client.log_metric
    for i in range(points):
        log_metric(run_id, key, float(i), step=i, synchronous=False)
        if (i + 1) % every == 0:
            out.write(f"{i + 1}\n")
            out.flush()
out.write("done\n")
out.flush()
sys.stdin.read()  # killed here at the latest: a normal exit would flush the queue
"""


def _kill_rounds(kit: SimpleNamespace, uri: str, spool: Path, rounds: int, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    client = tracklet.MlflowClient(uri)
    experiment_id = client.create_experiment(f"kill-{seed}")
    run_id = client.create_run(experiment_id).info.run_id
    env = kit.child_env(TRACKLET_ASYNC_SPOOL=str(spool))
    returned: dict[str, int] = {}
    unsent_at_kill: dict[str, int] = {}
    lingering: list[int] = []  # drain processes left running by a kill of their child alone
    note = f"(seed {seed}, TRACKLET_TEST_SEED={seed} repeats it)"

    for round_ in range(rounds):
        key = f"loss_{round_}"
        api = "fluent" if round_ % 2 else "client"
        # where to kill: a random count of returned calls, or (one round in eight) after the
        # loop has ended; then a random extra delay of up to 5 ms
        target = POINTS + 1 if rng.random() < 0.125 else rng.randrange(PRINT_EVERY, POINTS, PRINT_EVERY)
        delay = rng.uniform(0, 0.005)
        stderr_path = tmp_path / f"child-{round_}.err"
        with open(stderr_path, "wb") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, uri, run_id, key, str(POINTS), str(PRINT_EVERY), api],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        assert child.stdout is not None
        count = 0
        killed = False
        # child and drain, or the child alone; the last round kills both, so that sync has
        # a segment nobody finished to replay
        whole_job = (round_ // 2) % 2 == 0 or round_ == rounds - 1
        try:
            for raw in child.stdout:
                line = raw.strip()
                count = POINTS if line == b"done" else int(line)
                if not killed and (count >= target or line == b"done"):
                    time.sleep(delay)
                    drains = _drain_processes(child.pid)
                    os.kill(child.pid, signal.SIGKILL)
                    if whole_job:
                        for pid in drains:
                            _kill_quietly(pid)
                    else:
                        lingering.extend(drains)
                    killed = True
                # after the kill, go on reading: what the child printed before it died counts
        finally:
            if child.poll() is None and not killed:
                os.kill(child.pid, signal.SIGKILL)
            child.wait(60)
            child.stdout.close()
            assert child.stdin is not None
            child.stdin.close()
        err = stderr_path.read_text(errors="replace")
        assert child.returncode == -signal.SIGKILL, (
            f"round {round_}: the child ended with {child.returncode} before its kill {note}:\n{err[-3000:]}"
        )
        assert count > 0, f"round {round_}: the child printed nothing {note}:\n{err[-3000:]}"
        returned[key] = count
        if whole_job:
            # right after the kill, before any other process can replay the spool: how many
            # returned points the store lacks (only the spool still has them)
            stored = {m.step for m in client.get_metric_history(run_id, key)}
            unsent_at_kill[key] = sum(1 for step in range(count) if step not in stored)

    assert any(unsent_at_kill.values()), (
        f"no whole-job kill fell while returned points were still unsent, so the spool was never "
        f"needed: {unsent_at_kill} {note}"
    )

    result = kit.run_sync(spool)
    assert result.returncode == 0, f"tracklet sync failed {note}:\n{result.stdout}\n{result.stderr}"
    assert kit.segment_files(spool) == [], (
        f"sync left segments in the spool {note}: {kit.segment_files(spool)}"
    )

    for pid in lingering:  # sync waited for them: none should be left, but never leak one
        _kill_quietly(pid)
    for key, count in returned.items():
        unsent = f", {unsent_at_kill[key]} unsent at the kill" if key in unsent_at_kill else ""
        kit.assert_exactly_once(
            client.get_metric_history(run_id, key),
            logged=range(POINTS),
            returned=range(count),
            what=f"{key} ({count} calls returned{unsent}) {note}",
        )

    print(f"kill rounds {note}: returned {returned}, unsent at the kill {unsent_at_kill}")
    print(result.stdout)
    again = kit.run_sync(spool)
    assert again.returncode == 0, f"second sync failed {note}:\n{again.stdout}\n{again.stderr}"
    assert "Nothing to sync" in again.stdout or "sent: 0 " in again.stdout, (
        f"a second sync sent something {note}:\n{again.stdout}"
    )


def _drain_processes(parent: int) -> list[int]:
    """The pids of ``parent``'s drain processes (``python -m tracklet.async_logging.drain``),
    found in /proc: they run in a session of their own, so a process group kill misses them."""
    found: list[int] = []
    if not os.path.isdir("/proc"):  # not Linux: the whole-job rounds kill the child alone
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"tracklet.async_logging.drain" in cmdline:
            found.append(int(entry))
    return found


def _kill_quietly(pid: int) -> None:
    """SIGKILL a drain process found by :func:`_drain_processes` if it still runs (and is one)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"tracklet.async_logging.drain" not in f.read():
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def _seed() -> int:
    return int(os.environ.get("TRACKLET_TEST_SEED") or random.SystemRandom().randrange(2**32))


@pytest.mark.slow
def test_every_returned_point_survives_20_kills_on_sqlite(kit: SimpleNamespace, tmp_path: Path) -> None:
    _kill_rounds(kit, f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "spool", 20, tmp_path, _seed())


@pytest.mark.slow
def test_every_returned_point_survives_kills_through_the_server(
    kit: SimpleNamespace, http_server: str, tmp_path: Path
) -> None:
    # fewer rounds through the server: each adds a backlog the HTTP path drains more slowly
    _kill_rounds(kit, http_server, tmp_path / "spool", 5, tmp_path, _seed())


@pytest.mark.slow
def test_every_returned_point_survives_kills_on_postgresql(
    kit: SimpleNamespace, postgres_uri: str, tmp_path: Path
) -> None:
    # a few rounds on PostgreSQL: concurrent writers (a drain, the next child's replay) on
    # a server database rather than one sqlite file
    _kill_rounds(kit, postgres_uri, tmp_path / "spool", 4, tmp_path, _seed())
