"""Fork safety of async logging with the spool on: a forked child never writes into its
parent's spool segment; it makes its own, and every point of parent and children is
stored once.

The failure first (what the reset prevents). A segment is a file descriptor holding an
``flock``; ``fork`` gives the child that descriptor, and the lock with it (a flock belongs
to the open file description the two processes now share). The control experiment does
exactly that with a plain file, no tracklet involved, and shows both ways it goes wrong:
the child's write lands in the parent's file (two writers in one append-only segment: the
parent's byte offsets in ``.ack`` then point at the child's records), and the child's
``flock(LOCK_UN)`` (what closing a segment does) releases the *parent's* lock, so a third
process would claim the parent's live segment as an orphan and replay it while the parent
still writes it (points stored twice). The same two checks then pass on a real
``SpoolSegment`` inherited over a fork (the spool's reset: the child's copy cannot append,
and closing or removing it leaves the parent's lock and files alone) and on the logger
end to end.

The end-to-end part: a parent logs async, forks two children with ``os.fork`` and two with
a ``multiprocessing`` fork context while its worker is busy (its records not all written),
and goes on logging. Each child logs its own key async; before flushing it checks that
its points are in a segment whose header names its own pid and in no segment of its
parent's; then it calls ``flush_async_logging()`` and exits. The parent checks its own
segments hold none of the children's keys, flushes, and the test reads the store.

Everything runs in a separate Python process: forking pytest itself (with its threads)
would test pytest, and would trip the DeprecationWarning Python 3.12 gives for a fork
of a process with threads, which the suite turns into an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import tracklet

POINTS = 3_000

SCRIPT = r"""
import fcntl, json, multiprocessing, os, signal, sys, time
import tracklet
from tracklet.async_logging import flush_async_logging as flush_with_timeout
from tracklet.async_logging.records import decode
from tracklet.async_logging.spool import SpoolSegment

uri, run_id, spool, control_dir, points, reset = sys.argv[1:7]
points = int(points)
result = {"parent_pid": os.getpid()}
# a record written over by another writer (a child through its copy of the spool's map,
# when the fork resets are taken away) that no longer decodes
GARBLED = "<garbled>"


def lock_is_free(path):
    # a new open file description conflicts with any flock held on the file
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


if reset == "on":
    # -- 1. the failure first: a plain locked file inherited over fork ---------------------------
    raw = os.path.join(control_dir, "raw.seg")
    fd = os.open(raw, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"parent\n")
    pid = os.fork()
    if pid == 0:
        os.write(fd, b"child\n")
        fcntl.flock(fd, fcntl.LOCK_UN)
        os._exit(0)
    os.waitpid(pid, 0)
    with open(raw, "rb") as f:
        result["raw_child_line_in_parent_file"] = b"child\n" in f.read()
    result["raw_parent_lock_lost"] = lock_is_free(raw)

    # -- 2. the same with a SpoolSegment -------------------------------------------------------------
    segment = SpoolSegment.create(control_dir, uri)
    segment.append(b"m\t%s\tparent\t1.0\t1\t1\n" % run_id.encode())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            segment.append(b"m\t%s\tchild\t1.0\t1\t1\n" % run_id.encode())
            outcome = "appended"
        except Exception as exc:
            outcome = type(exc).__name__
        for action in (segment.close, segment.remove):
            try:
                action()
            except Exception:
                pass
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    result["segment_child_append"] = os.read(read, 200).decode()
    os.close(read)
    with open(segment.path, "rb") as f:
        result["segment_child_line_in_parent_file"] = b"\tchild\t" in f.read()
    result["segment_file_still_there"] = os.path.exists(segment.path)
    result["segment_parent_lock_lost"] = lock_is_free(segment.path)
    segment.remove()


# -- 3. the logger, end to end ---------------------------------------------------------------------
def segments():
    # {path: (header pid, set of metric keys)} of every segment in the spool right now
    found = {}
    for name in os.listdir(spool):
        if not name.endswith(".seg"):
            continue
        try:
            with open(os.path.join(spool, name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        lines = data.split(b"\n")[:-1]  # a last line without newline is not a record yet
        if not lines:
            continue
        header = json.loads(lines[0].split(b" ", 2)[2])
        keys = set()
        for line in lines[1:]:
            if line.startswith(b"m\t"):
                try:
                    keys.add(decode(line)[2])
                except ValueError:  # two writers' records over each other: not the parent's
                    keys.add(GARBLED)
        found[name] = (header["pid"], keys)
    return found


client = tracklet.MlflowClient(uri)


def log(key, n):
    for i in range(n):
        client.log_metric(run_id, key, float(i), step=i, synchronous=False)


def child(key, report_path):
    report = {"key": key}
    try:
        log(key, points)
    except Exception as exc:
        report["error"] = repr(exc)
    seen = segments()
    me, parent = os.getpid(), result["parent_pid"]
    report["own_segments"] = sorted(p for p, (owner, _) in seen.items() if owner == me)
    report["own_segment_has_key"] = any(owner == me and key in keys for owner, keys in seen.values())
    report["key_in_parent_segment"] = any(owner == parent and key in keys for owner, keys in seen.values())
    with open(report_path, "w") as f:
        json.dump(report, f)
    if not flush_with_timeout(timeout=60):
        os._exit(3)


def wait_pid(pid, seconds):
    # the exit code of a forked child, or "hung" (then killed) after ``seconds``
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "hung"


log("parent_before", points)  # the worker is still writing these when the children fork
result["parent_segments_before_fork"] = sorted(p for p, (o, _) in segments().items() if o == os.getpid())
reports = [os.path.join(control_dir, f"child-{i}.json") for i in range(4)]
if reset == "off":
    # the sabotage run: take away the fork resets (the logger's and the spool's) just
    # before forking, to show that the checks catch what they prevent
    from tracklet.async_logging import spool as spool_module
    from tracklet.stores import forking

    forking._resets.clear()
    spool_module._live.clear()
pids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child(f"fork_{i}", reports[i])
            code = 0
        finally:
            os._exit(code)
    pids.append(pid)
context = multiprocessing.get_context("fork")
processes = [context.Process(target=child, args=(f"mp_{i}", reports[2 + i])) for i in range(2)]
for process in processes:
    process.start()
log("parent_after", points)
result["exit_codes"] = [wait_pid(pid, 120) for pid in pids]
for process in processes:
    process.join(120)
    if process.exitcode is None:
        process.kill()
        process.join()
        result["exit_codes"].append("hung")
    else:
        result["exit_codes"].append(process.exitcode)
result["children"] = [json.load(open(path)) for path in reports if os.path.exists(path)]
children_keys = {"fork_0", "fork_1", "mp_0", "mp_1", GARBLED}
result["children_keys_in_parent_segments"] = sorted(
    key for owner, keys in segments().values() if owner == os.getpid() for key in keys & children_keys
)
result["parent_flushed"] = flush_with_timeout(timeout=60)
print(json.dumps(result), flush=True)
"""


KEYS = ["parent_before", "parent_after", "fork_0", "fork_1", "mp_0", "mp_1"]


def _run_script(kit: SimpleNamespace, tmp_path: Path, reset: str) -> tuple[dict[str, Any], Any, str, Path]:
    """Run SCRIPT on a fresh sqlite store and spool; its result, a client, the run and the spool."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    spool, control = tmp_path / "spool", tmp_path / "control"
    control.mkdir()
    client = tracklet.MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("fork")).info.run_id
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, uri, run_id, str(spool), str(control), str(POINTS), reset],
        capture_output=True,
        text=True,
        env=kit.child_env(TRACKLET_ASYNC_SPOOL=str(spool), TRACKLET_ASYNC_EXIT_TIMEOUT="20"),
        timeout=600,
    )
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), (
        f"the forking script failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
    )
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = done.stderr[-4000:]
    return result, client, run_id, spool


def test_forked_children_log_to_their_own_segments(kit: SimpleNamespace, tmp_path: Path) -> None:
    result, client, run_id, spool = _run_script(kit, tmp_path, "on")

    # 1. the failure the reset prevents, shown on a plain file: the child writes into the
    # parent's file and its unlock releases the parent's lock
    assert result["raw_child_line_in_parent_file"], result
    assert result["raw_parent_lock_lost"], result

    # 2. an inherited SpoolSegment: same checks, neither happens
    assert not result["segment_child_line_in_parent_file"], result
    assert result["segment_child_append"] != "appended", result
    assert result["segment_file_still_there"], result
    assert not result["segment_parent_lock_lost"], result

    # 3. the logger: each child wrote its own segment, never the parent's
    assert result["exit_codes"] == [0, 0, 0, 0], result["stderr"]
    assert result["parent_flushed"], result
    assert len(result["children"]) == 4, result
    assert result["parent_segments_before_fork"], "the parent logged async without a spool segment"
    for report in result["children"]:
        assert "error" not in report, report
        assert report["own_segments"], f"child {report['key']} made no segment of its own: {report}"
        assert report["own_segment_has_key"], (
            f"child {report['key']}'s points are not in its segment: {report}"
        )
        assert not report["key_in_parent_segment"], f"child {report['key']} wrote into its parent's segment"
        assert not set(report["own_segments"]) & set(result["parent_segments_before_fork"]), report
    assert result["children_keys_in_parent_segments"] == [], result

    for key in KEYS:
        kit.assert_exactly_once(
            client.get_metric_history(run_id, key), logged=range(POINTS), returned=range(POINTS), what=key
        )
    # children that end with os._exit (as multiprocessing's do) run no exit hook, so their
    # segments stay behind, fully written: a sync has nothing to send and removes them
    synced = kit.run_sync(spool)
    assert synced.returncode == 0, f"{synced.stdout}\n{synced.stderr}"
    assert "sent: 0 " in synced.stdout or "Nothing to sync" in synced.stdout, synced.stdout
    assert kit.segment_files(spool) == [], synced.stdout


def test_without_the_fork_resets_the_same_checks_fail(kit: SimpleNamespace, tmp_path: Path) -> None:
    """The sabotage run: the same script with the logger's and the spool's fork resets
    removed. The checks of the test above must catch it (a child writes into its parent's
    segment, fails, hangs, or a point is stored twice or lost); if they did not, they could
    not fail when a reset breaks."""
    result, client, run_id, _spool = _run_script(kit, tmp_path, "off")
    caught = []
    if result["exit_codes"] != [0, 0, 0, 0]:
        caught.append(f"children exit codes {result['exit_codes']}")
    for report in result["children"]:
        if "error" in report or report["key_in_parent_segment"] or not report["own_segments"]:
            caught.append(f"child report {report}")
    if result["children_keys_in_parent_segments"]:
        caught.append(f"children's keys in the parent's segment {result['children_keys_in_parent_segments']}")
    for key in KEYS:
        try:
            kit.assert_exactly_once(
                client.get_metric_history(run_id, key), logged=range(POINTS), returned=range(POINTS), what=key
            )
        except AssertionError as exc:
            caught.append(str(exc).splitlines()[0])
    assert caught, f"without the fork resets nothing went wrong, so the checks prove nothing: {result}"


def test_a_forked_child_without_flush_leaves_its_points_in_the_spool(
    kit: SimpleNamespace, tmp_path: Path
) -> None:
    """A multiprocessing child that ends without flushing (multiprocessing's children skip
    atexit) keeps its returned points in its own segment; ``tracklet sync`` stores them."""
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    spool = tmp_path / "spool"
    client = tracklet.MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("fork-no-flush")).info.run_id
    script = r"""
import multiprocessing, os, sys
import tracklet
uri, run_id, points = sys.argv[1:4]
client = tracklet.MlflowClient(uri)

def child():
    for i in range(int(points)):
        client.log_metric(run_id, "child", float(i), step=i, synchronous=False)
    os._exit(0)  # no flush, no atexit

client.log_metric(run_id, "parent", 0.0, step=0, synchronous=False)
process = multiprocessing.get_context("fork").Process(target=child)
process.start()
process.join(120)
tracklet.flush_async_logging()
sys.exit(process.exitcode)
"""
    done = subprocess.run(
        [sys.executable, "-c", script, uri, run_id, str(POINTS)],
        capture_output=True,
        text=True,
        env=kit.child_env(TRACKLET_ASYNC_SPOOL=str(spool)),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    synced = kit.run_sync(spool)
    assert synced.returncode == 0, f"{synced.stdout}\n{synced.stderr}"
    kit.assert_exactly_once(
        client.get_metric_history(run_id, "child"), logged=range(POINTS), returned=range(POINTS), what="child"
    )
    kit.assert_exactly_once(
        client.get_metric_history(run_id, "parent"), logged=[0], returned=[0], what="parent"
    )
    assert kit.segment_files(spool) == []
