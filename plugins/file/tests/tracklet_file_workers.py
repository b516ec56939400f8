"""Code run in child processes by the concurrency and crash tests (importable by name,
which ``multiprocessing``'s spawn start method needs)."""

from __future__ import annotations

import sys

from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet_file.store import FileStore

POINTS = 500


def log_points(root: str, run_id: str, worker: int) -> None:
    """Log POINTS values to a shared metric and to one of our own, plus params and tags."""
    store = FileStore(root)
    for i in range(POINTS):
        store.log_metric(run_id, Metric("shared", worker * 1000 + i, 1_700_000_000_000 + i, i))
        store.log_metric(run_id, Metric(f"own/{worker}", float(i), 1_700_000_000_000 + i, i))
        if i % 25 == 0:
            store.log_param(run_id, Param(f"p{worker}_{i}", str(i)))
            store.set_tag(run_id, RunTag(f"t{worker}", str(i)))
    store.close()


def create_experiments(root: str, worker: int, count: int) -> list[str]:
    """Create experiments of our own and try the contested name 'shared'; return the ids
    we got (the contested one prefixed with 'shared:')."""
    store = FileStore(root)
    ids = [store.create_experiment(f"w{worker}-{i}") for i in range(count)]
    try:
        ids.append("shared:" + store.create_experiment("shared"))
    except TrackletException as exc:
        assert exc.error_code == "RESOURCE_ALREADY_EXISTS"
    return ids


def write_until_killed(root: str, run_id: str) -> None:
    """Loop over every kind of write, printing an acknowledgement after each one returns.

    The parent kills us with SIGKILL at a random moment and checks that every
    acknowledged write is on disk and that every file still parses.
    """
    store = FileStore(root)
    i = 0
    while True:
        store.log_metric(run_id, Metric("m", float(i), i, i))
        _ack("metric", i)
        store.log_param(run_id, Param(f"p{i}", "x" * (i % 50)))
        _ack("param", i)
        store.set_tag(run_id, RunTag("counter", str(i)))
        _ack("tag", i)
        store.update_run_info(run_id, "RUNNING" if i % 2 else "SCHEDULED", i, f"name-{i}")
        _ack("meta", i)
        store.set_experiment_tag("0", RunTag("counter", str(i)))
        _ack("exp_tag", i)
        i += 1


def _ack(kind: str, i: int) -> None:
    sys.stdout.write(f"{kind} {i}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    write_until_killed(sys.argv[1], sys.argv[2])
