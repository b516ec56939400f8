"""The async logging spool (tracklet.async_logging.spool) on real files: what a segment
holds, what its reader returns, its .ack and .runs, and who may claim it. Where a lock
between processes is the point, the other process is real: a subprocess, or os.fork()."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracklet.async_logging.spool import SpoolSegment, claim_orphans, spool_size

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the spool needs flock()")

URI = "http://tracking.example:5000"
OTHER_URI = "http://other.example:5000"


def metric(i: int) -> bytes:
    """A metric record line (records.py's format), about 60 bytes."""
    return f"m\t{'a' * 32}\tloss\t{i * 0.5!r}\t{1_733_000_000_000 + i}\t{i}\n".encode()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[str]:
    directory = str(tmp_path / "spool")
    yield directory
    # whatever a test left locked in this process
    for segment in claim_orphans(directory):
        segment.close()


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    """A real Python process running ``code``; its stdin and stdout are pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


# -- writing and reading ---------------------------------------------------------------


def test_records_appended_are_read_back_with_their_end_offsets(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    records = [metric(i) for i in range(100)]
    ends = [segment.append(record) for record in records]
    assert segment.end == os.path.getsize(segment.path) == ends[-1]

    lines, line_ends = segment.read_records(segment.header_end)
    assert lines == [r.rstrip(b"\n") for r in records]
    assert line_ends == ends
    # reading on from any record's end gives the rest
    lines, line_ends = segment.read_records(ends[49])
    assert lines == [r.rstrip(b"\n") for r in records[50:]]
    assert segment.read_records(segment.end) == ([], [])
    # several records in one append are several lines
    end = segment.append(metric(100) + metric(101))
    assert segment.read_records(ends[-1]) == (
        [metric(100)[:-1], metric(101)[:-1]],
        [end - len(metric(101)), end],
    )
    segment.remove()


def test_a_segment_starts_with_its_header_and_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "there"
    segment = SpoolSegment.create(str(directory), URI)
    header = Path(segment.path).read_bytes()
    assert header.startswith(b"#tracklet-spool 1 ") and header.endswith(b"\n")
    meta = json.loads(header[len(b"#tracklet-spool 1 ") :])
    assert meta == {"tracking_uri": URI, "pid": os.getpid(), "created": segment.created, "cwd": os.getcwd()}
    assert segment.header_end == segment.end == len(header)
    assert re.fullmatch(rf"{segment.created}-{os.getpid()}-[0-9a-f]{{8}}\.seg", Path(segment.path).name)
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(segment.path).st_mode) == 0o600
    segment.mark_applied(segment.end)
    segment.add_run("a" * 32, "b" * 32)
    for suffix in (".ack", ".runs"):
        assert stat.S_IMODE(os.stat(segment.path[:-4] + suffix).st_mode) == 0o600
    # reading from before the first record does not return the header
    segment.append(metric(1))
    assert segment.read_records(0)[0] == [metric(1)[:-1]]
    segment.remove()


def test_a_last_line_without_its_newline_is_not_returned(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    end = segment.append(metric(1))
    # another descriptor writes half a record, as a write in progress or cut by a kill
    record = metric(2)
    with open(segment.path, "ab") as f:
        f.write(record[:20])
    assert segment.read_records(segment.header_end) == ([metric(1)[:-1]], [end])
    assert segment.read_records(end) == ([], [])
    with open(segment.path, "ab") as f:
        f.write(record[20:])
    assert segment.read_records(end) == ([record[:-1]], [end + len(record)])
    segment.remove()


def test_a_read_is_about_limit_bytes_and_a_longer_record_comes_alone(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    records = [metric(i) for i in range(10)]
    for record in records:
        segment.append(record)
    start = segment.header_end
    got: list[bytes] = []
    while True:
        lines, ends = segment.read_records(start, limit_bytes=150)
        if not lines:
            break
        assert sum(len(line) + 1 for line in lines) <= 150
        got += lines
        start = ends[-1]
    assert got == [r[:-1] for r in records]

    long = b"j\t" + json.dumps(["p", "r", "k", "x" * 10_000]).encode() + b"\n"
    end = segment.append(long)
    segment.append(metric(99))
    assert segment.read_records(start, limit_bytes=100) == ([long[:-1]], [end])
    segment.remove()


def test_a_write_cut_short_is_taken_back_so_no_half_record_stays(spool: str) -> None:
    """RLIMIT_FSIZE makes the kernel write part of an append, then refuse the rest (as a
    full disk does); the half written is cut off again, and the segment goes on."""
    child = run_python(
        """
        import os, resource, signal, sys
        from tracklet.async_logging.spool import SpoolSegment
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        segment = SpoolSegment.create(sys.argv[1], "http://x")
        resource.setrlimit(resource.RLIMIT_FSIZE, (segment.end + 120, resource.RLIM_INFINITY))
        record = b"m\\t" + b"r" * 40 + b"\\tk\\t1.0\\t1\\t1\\n"
        errors = []
        for _ in range(3):
            try:
                segment.append(record)
            except OSError as exc:
                errors.append(exc.errno)
        print(segment.end, os.path.getsize(segment.path), len(record), segment.header_end, errors)
        segment.close()
        """,
        spool,
    )
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    end, size, record, header_end, errors = out.split(" ", 4)
    assert int(end) == int(size) == int(header_end) + 2 * int(record)
    assert errors.strip() == "[27]"  # EFBIG: the third append, cut off and taken back
    (orphan,) = claim_orphans(spool)
    assert len(orphan.read_records(0)[0]) == 2
    orphan.remove()


# -- acks ---------------------------------------------------------------------------------


def test_acks_survive_the_writer_and_are_read_by_whoever_claims_the_segment(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    assert segment.acked() == (segment.header_end, segment.header_end)
    assert not os.path.exists(segment.path[:-4] + ".ack")  # made on the first mark
    ends = [segment.append(metric(i)) for i in range(10)]
    segment.mark_inflight(ends[5])
    assert segment.acked() == (segment.header_end, ends[5])
    segment.mark_applied(ends[2])
    assert segment.acked() == (ends[2], ends[5])
    segment.mark_applied(ends[7])  # applied beyond what was in flight: in flight follows
    assert segment.acked() == (ends[7], ends[7])
    segment.mark_inflight(ends[9])
    segment.close()

    (orphan,) = claim_orphans(spool)
    assert orphan.path == segment.path
    assert orphan.acked() == (ends[7], ends[9])
    assert orphan.end == ends[9]
    assert orphan.read_records(ends[7])[0] == [metric(8)[:-1], metric(9)[:-1]]
    orphan.mark_applied(ends[9])
    orphan.close()
    (again,) = claim_orphans(spool)
    assert again.acked() == (ends[9], ends[9])
    again.remove()


def test_a_segment_never_acked_is_unsent_from_its_first_record(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))
    segment.close()
    (orphan,) = claim_orphans(spool)
    assert orphan.acked() == (orphan.header_end, orphan.header_end)
    orphan.remove()


def test_an_ack_that_is_no_record_end_makes_everything_uncertain(
    spool: str, caplog: pytest.LogCaptureFixture
) -> None:
    segment = SpoolSegment.create(spool, URI)
    ends = [segment.append(metric(i)) for i in range(3)]
    segment.mark_applied(ends[0] + 3)  # mid-record, as a corrupt .ack would say
    segment.close()
    with caplog.at_level(logging.WARNING, logger="tracklet.async_logging.spool"):
        (orphan,) = claim_orphans(spool)
    assert orphan.acked() == (orphan.header_end, ends[2])
    assert segment.path in caplog.text
    orphan.close()

    # an in-flight end off a record's end: everything after applied_end is uncertain
    Path(segment.path[:-4] + ".ack").write_bytes(
        ends[0].to_bytes(8, "little") + (ends[1] - 1).to_bytes(8, "little")
    )
    (orphan,) = claim_orphans(spool)
    assert orphan.acked() == (ends[0], ends[2])
    orphan.remove()


# -- offline runs --------------------------------------------------------------------------


def test_the_run_map_survives_the_writer(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    assert segment.run_map() == {}
    segment.add_run("l1", "s1")
    segment.add_run("l2", "s2")
    assert segment.run_map() == {"l1": "s1", "l2": "s2"}
    with pytest.raises(ValueError, match="local_id"):
        segment.add_run("l\t3", "s3")
    with pytest.raises(ValueError, match="store_id"):
        segment.add_run("l3", "")
    segment.close()
    with open(segment.path[:-4] + ".runs", "ab") as f:
        f.write(b"l3\ts")  # cut off by a kill
    (orphan,) = claim_orphans(spool)
    assert orphan.run_map() == {"l1": "s1", "l2": "s2"}
    orphan.remove()


# -- removing ------------------------------------------------------------------------------


def test_remove_deletes_the_files_and_releases_the_lock(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))
    segment.mark_applied(segment.end)
    segment.add_run("l", "s")
    segment.remove()
    assert os.listdir(spool) == []
    segment.remove()  # twice is harmless
    with pytest.raises(OSError, match="closed"):
        segment.append(metric(2))
    with pytest.raises(OSError, match="closed"):
        segment.read_records(0)


def test_close_keeps_the_files_for_the_next_claimer(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))
    segment.flush_to_disk()
    segment.close()
    segment.close()
    assert claim_orphans(spool)[0].path == segment.path


def test_leftovers_of_removed_and_unfinished_segments_are_cleaned_up(spool: str) -> None:
    kept = SpoolSegment.create(spool, URI)
    kept.mark_applied(kept.end)
    base = os.path.join(spool, "1000-1-deadbeef")
    Path(base + ".ack").write_bytes(bytes(16))  # its .seg was removed, then the remover died
    Path(base + ".runs").write_bytes(b"l\ts\n")
    old_new = os.path.join(spool, "1001-1-0badf00d.new")  # its writer died before naming it
    young_new = os.path.join(spool, "1002-1-0badf00d.new")  # its writer may be on its way
    for path in (old_new, young_new):
        Path(path).write_bytes(b"#tracklet-spool 1 {}\n")
    os.utime(old_new, (time.time() - 3600, time.time() - 3600))
    assert claim_orphans(spool) == []
    assert sorted(os.listdir(spool)) == sorted(
        [os.path.basename(kept.path), os.path.basename(kept.path)[:-4] + ".ack", os.path.basename(young_new)]
    )
    kept.remove()


# -- claiming ------------------------------------------------------------------------------


def test_claims_are_oldest_first_and_by_tracking_uri(spool: str) -> None:
    # the created ms in the names order them, as numbers (not as the directory lists them)
    order = {"999": URI, "20": OTHER_URI, "1000": URI, "3": URI}
    paths = {}
    for ms, uri in order.items():
        segment = SpoolSegment.create(spool, uri)
        segment.append(metric(int(ms)))
        segment.close()
        paths[ms] = os.path.join(spool, f"{ms}-1-00000000.seg")
        os.rename(segment.path, paths[ms])

    claimed = claim_orphans(spool, URI)
    assert [s.path for s in claimed] == [paths["3"], paths["999"], paths["1000"]]
    assert all(s.tracking_uri == URI for s in claimed)
    (other,) = claim_orphans(spool, OTHER_URI)
    assert other.path == paths["20"] and other.tracking_uri == OTHER_URI
    assert claim_orphans(spool) == []  # this process holds them all now
    for segment in [*claimed, other]:
        segment.close()
    assert [s.path for s in claim_orphans(spool)] == [paths[ms] for ms in ("3", "20", "999", "1000")]


def test_a_process_never_claims_its_own_live_segment(spool: str) -> None:
    live = SpoolSegment.create(spool, URI)
    live.append(metric(1))
    assert claim_orphans(spool) == []
    live.close()
    (orphan,) = claim_orphans(spool)
    assert orphan.path == live.path
    with pytest.raises(OSError, match="claimed for replay"):
        orphan.append(metric(2))
    orphan.remove()


def test_a_live_writer_in_another_process_keeps_its_segment_until_killed(spool: str) -> None:
    writer = run_python(
        """
        import sys
        from tracklet.async_logging.spool import SpoolSegment
        segment = SpoolSegment.create(sys.argv[1], sys.argv[2])
        for i in range(5):
            end = segment.append(b"m\\trun\\tk\\t%d.0\\t%d\\t%d\\n" % (i, i, i))
        segment.mark_inflight(end)
        print(segment.path, end, flush=True)
        sys.stdin.readline()  # until killed
        """,
        spool,
        URI,
    )
    try:
        assert writer.stdout is not None
        path, end = writer.stdout.readline().split()
        assert claim_orphans(spool) == []
        assert claim_orphans(spool, URI) == []
        assert os.path.exists(path)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    (orphan,) = claim_orphans(spool, URI)
    assert orphan.path == path
    lines, ends = orphan.read_records(0)
    assert len(lines) == 5 and ends[-1] == int(end)
    # what was in flight at the kill is uncertain for the replayer
    assert orphan.acked() == (orphan.header_end, int(end))
    orphan.remove()


def test_a_segment_removed_between_opening_and_locking_it_is_not_claimed(spool: str) -> None:
    """A claimer opens a .seg, a replayer removes it and lets go of its lock, and only then
    does the claimer lock its descriptor: the name no longer names that file."""
    from tracklet.async_logging.spool import _lock_if_still_named

    segment = SpoolSegment.create(spool, URI)
    segment.close()
    (replayer,) = claim_orphans(spool)
    fd = os.open(segment.path, os.O_RDONLY)
    try:
        assert not _lock_if_still_named(fd, segment.path)  # the replayer holds it
        replayer.remove()
        assert not _lock_if_still_named(fd, segment.path)  # gone
    finally:
        os.close(fd)
    # and a new file under the name is not the one locked
    other = SpoolSegment.create(spool, URI)
    other.close()
    fd = os.open(other.path, os.O_RDONLY)
    try:
        os.rename(other.path, other.path + ".old")
        Path(other.path).write_bytes(Path(other.path + ".old").read_bytes())
        assert not _lock_if_still_named(fd, other.path)
    finally:
        os.close(fd)
    os.unlink(other.path + ".old")


CLAIMER = """
    import json, sys
    from tracklet.async_logging.spool import claim_orphans
    print("ready", flush=True)
    sys.stdin.readline()
    segments = claim_orphans(sys.argv[1])
    print(json.dumps([s.path for s in segments]), flush=True)
    sys.stdin.readline()  # holds its claims until told to go
"""


@pytest.mark.parametrize("round_", range(3))
def test_two_claiming_processes_never_get_the_same_segment(spool: str, round_: int) -> None:
    made = set()
    for _ in range(40):
        segment = SpoolSegment.create(spool, URI)
        segment.append(metric(1))
        segment.close()
        made.add(segment.path)
    claimers = [run_python(CLAIMER, spool) for _ in range(3)]
    try:
        for claimer in claimers:
            assert claimer.stdout is not None and claimer.stdout.readline() == "ready\n"
        for claimer in claimers:  # let them go as close together as pipes allow
            assert claimer.stdin is not None
            claimer.stdin.write("go\n")
            claimer.stdin.flush()
        got = []
        for claimer in claimers:
            assert claimer.stdout is not None
            got.append(set(json.loads(claimer.stdout.readline())))
    finally:
        for claimer in claimers:
            claimer.communicate("bye\n", timeout=60)
    for i, a in enumerate(got):
        for b in got[i + 1 :]:
            assert not a & b, "two processes claimed the same segment"
    assert set().union(*got) == made
    for segment in claim_orphans(spool):  # released by their exit
        segment.remove()
    assert os.listdir(spool) == []


def test_an_empty_segment_is_removed_and_a_garbled_one_is_left_with_a_warning(
    spool: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = SpoolSegment.create(spool, URI)
    good.close()
    empty = os.path.join(spool, "1-1-00000000.seg")
    garbled = os.path.join(spool, "2-1-00000000.seg")
    no_uri = os.path.join(spool, "3-1-00000000.seg")
    Path(empty).write_bytes(b"")
    Path(garbled).write_bytes(bytes(4096))  # zeros, as a power loss may leave
    Path(no_uri).write_bytes(b'#tracklet-spool 1 {"pid":1}\nm\tr\tk\t1.0\t1\t1\n')
    with caplog.at_level(logging.WARNING, logger="tracklet.async_logging.spool"):
        claimed = claim_orphans(spool)
    assert [s.path for s in claimed] == [good.path]
    assert not os.path.exists(empty)
    assert os.path.exists(garbled) and os.path.exists(no_uri)
    assert garbled in caplog.text and no_uri in caplog.text
    claimed[0].close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tracklet.async_logging.spool"):
        for segment in claim_orphans(spool):
            segment.close()
    assert garbled not in caplog.text  # warned once per process


# -- forks -----------------------------------------------------------------------------------


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")


@needs_fork
def test_a_forked_child_neither_claims_nor_writes_nor_frees_its_parents_segment(spool: str) -> None:
    from tracklet.testing import in_forked_child

    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))

    def child() -> tuple[list[str], str, list[str]]:
        claimed = [s.path for s in claim_orphans(spool)]
        try:
            segment.append(metric(2))
            refused = ""
        except OSError as exc:
            refused = str(exc)
        segment.close()  # must not flock(LOCK_UN) the parent's lock
        segment.remove()  # nor delete the parent's files
        own = SpoolSegment.create(spool, URI)  # a child that logs makes its own
        own.append(metric(3))
        own.remove()
        return claimed, refused, os.listdir(spool)

    claimed, refused, files = in_forked_child(child)
    assert claimed == []
    assert "forked" in refused
    assert files == [os.path.basename(segment.path)]
    # the parent still holds its lock, and goes on writing
    assert claim_orphans(spool) == []
    end = segment.append(metric(4))
    assert segment.read_records(0) == ([metric(1)[:-1], metric(4)[:-1]], [end - len(metric(4)), end])
    segment.remove()


@needs_fork
def test_a_forked_child_does_not_keep_its_parents_segment_locked(spool: str) -> None:
    """The child's inherited descriptors would hold the parent's lock (one open file
    description) after the parent let go of it; they are closed at the fork."""
    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))
    release_r, release_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: lives on, with whatever it inherited, until released
        try:
            os.close(release_w)
            os.close(ready_r)
            os.write(ready_w, b"x")
            os.read(release_r, 1)
        finally:
            os._exit(0)
    os.close(release_r)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        segment.close()
        claimed = claim_orphans(spool)
        assert [s.path for s in claimed] == [segment.path]
        claimed[0].remove()
    finally:
        os.write(release_w, b"x")
        os.close(release_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


# -- size -------------------------------------------------------------------------------------


def test_spool_size_counts_what_is_not_applied(spool: str) -> None:
    assert spool_size(spool) == 0  # no directory yet
    a = SpoolSegment.create(spool, URI)
    b = SpoolSegment.create(spool, OTHER_URI)
    assert spool_size(spool) == 0
    ends = [a.append(metric(i)) for i in range(4)]
    b.append(metric(9))
    assert spool_size(spool) == (ends[3] - a.header_end) + len(metric(9))
    a.mark_inflight(ends[3])  # in flight is not applied
    assert spool_size(spool) == (ends[3] - a.header_end) + len(metric(9))
    a.mark_applied(ends[1])
    assert spool_size(spool) == (ends[3] - ends[1]) + len(metric(9))
    b.remove()
    a.mark_applied(ends[3])
    assert spool_size(spool) == 0
    a.remove()
