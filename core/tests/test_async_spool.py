"""The async logging spool (tracklet.async_logging.spool) on real files: what a segment
holds, what its reader returns, its .ack and .runs, and who may claim it. Where a lock
between processes is the point, the other process is real: a subprocess, or os.fork().

The writer copies records into a shared map of the file, which it grows a window at a
time (64 KiB first): the file's size is not the records' end, the first NUL byte is."""

from __future__ import annotations

import errno
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


def run_python(code: str, *args: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[str]:
    """A real Python process running ``code``; its stdin and stdout are pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=pass_fds,
    )


def on_disk(path: str) -> tuple[bytes, bytes]:
    """A segment file's bytes up to its first NUL (header and records), and the rest."""
    data = Path(path).read_bytes()
    cut = data.find(b"\x00")
    return (data, b"") if cut < 0 else (data[:cut], data[cut:])


# -- writing and reading ---------------------------------------------------------------


def test_records_appended_are_read_back_with_their_end_offsets(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    records = [metric(i) for i in range(100)]
    ends = [segment.append(record) for record in records]
    assert segment.end == ends[-1]
    # in the file at once: the records, then zeros to the end of the window
    records_part, zeros = on_disk(segment.path)
    assert len(records_part) == segment.end and records_part.endswith(b"".join(records))
    assert zeros == bytes(len(zeros)) and os.path.getsize(segment.path) == 64 << 10

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
    # closing cuts the file at the records' end
    segment.close()
    assert os.path.getsize(segment.path) == end
    (orphan,) = claim_orphans(spool)
    assert orphan.end == end and len(orphan.read_records(0)[0]) == 102
    orphan.remove()


def test_a_segment_starts_with_its_header_and_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "there"
    segment = SpoolSegment.create(str(directory), URI)
    header, _zeros = on_disk(segment.path)
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


def test_a_last_line_without_its_newline_or_with_a_nul_inside_is_not_returned(spool: str) -> None:
    """What a reader may find while a record is being copied, or after a kill cut its copy
    short: part of it (no newline yet), or its end but not its middle (memcpy may store a
    record's tail first). Neither is returned, nor anything after it."""
    segment = SpoolSegment.create(spool, URI)
    end = segment.append(metric(1))
    record = metric(2)
    fd = os.open(segment.path, os.O_WRONLY)
    try:
        os.pwrite(fd, record[:20], end)  # the head only
        assert segment.read_records(segment.header_end) == ([metric(1)[:-1]], [end])
        assert segment.read_records(end) == ([], [])
        os.pwrite(fd, record[40:] + metric(3), end + 40)  # the tail and more, not the middle
        assert segment.read_records(segment.header_end) == ([metric(1)[:-1]], [end])
        assert segment.read_records(end) == ([], [])
        os.pwrite(fd, record[20:40], end + 20)  # the middle: whole now
        assert segment.read_records(end) == (
            [record[:-1], metric(3)[:-1]],
            [end + len(record), end + len(record) + len(metric(3))],
        )
    finally:
        os.close(fd)
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


def test_a_window_the_file_cannot_grow_by_raises_before_anything_is_copied(spool: str) -> None:
    """RLIMIT_FSIZE makes growing the file fail (as a full disk does): the append that
    needed the next window raises EFBIG before copying any of its record, the records
    before it are whole and the last, and the segment goes on once it may grow."""
    child = run_python(
        """
        import os, resource, signal, sys
        from tracklet.async_logging.spool import SpoolSegment
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        segment = SpoolSegment.create(sys.argv[1], "http://x")
        size = os.path.getsize(segment.path)  # the first window
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
        record = b"m\\t" + b"r" * 40 + b"\\tk\\t1.0\\t1\\t1\\n"
        fitting = (size - segment.end) // len(record)
        for _ in range(fitting):
            segment.append(record)
        before = segment.end
        errors = []
        for _ in range(2):
            try:
                segment.append(record)  # straddles the window's end: needs the next one
            except OSError as exc:
                errors.append(exc.errno)
        print(before, segment.end, os.path.getsize(segment.path), size, fitting, errors, flush=True)
        with open(segment.path, "rb") as f:
            print(f.read()[segment.end:] == bytes(size - segment.end), flush=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(segment.append(record), flush=True)
        segment.close()
        """,
        spool,
    )
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    first, zeros_after, after_growth = out.splitlines()
    before, end, size, window, fitting, errors = first.split(" ", 5)
    assert int(end) == int(before) and int(size) == int(window)  # nothing copied, no growth
    assert errors == "[27, 27]"  # EFBIG, each time
    assert zeros_after == "True"  # not even the head of the refused record
    record_length = len(b"m\t" + b"r" * 40 + b"\tk\t1.0\t1\t1\n")
    assert int(after_growth) == int(before) + record_length
    (orphan,) = claim_orphans(spool)
    lines, ends = orphan.read_records(0, limit_bytes=1 << 20)
    assert len(lines) == int(fitting) + 1 and ends[-1] == orphan.end == int(after_growth)
    assert set(lines) == {b"m\t" + b"r" * 40 + b"\tk\t1.0\t1\t1"}
    orphan.remove()


def test_a_record_across_windows_and_one_larger_than_a_window_round_trip(spool: str) -> None:
    segment = SpoolSegment.create(spool, URI)
    window = os.path.getsize(segment.path)
    records = []
    i = 0
    while segment.end + len(metric(i)) <= window:
        records.append(metric(i))
        segment.append(records[-1])
        i += 1
    straddling = b"j\t" + json.dumps(["p", "r", "k", "x" * 100]).encode() + b"\n"
    assert segment.end < window < segment.end + len(straddling)
    records.append(straddling)
    segment.append(straddling)
    assert os.path.getsize(segment.path) > window  # the next window
    if sys.platform == "linux":  # with its blocks: a full disk is an OSError when growing, not SIGBUS
        assert os.stat(segment.path).st_blocks * 512 >= os.path.getsize(segment.path)
    huge = b"j\t" + json.dumps(["p", "r", "k", "y" * (3 * window)]).encode() + b"\n"
    for record in (huge, metric(i)):
        records.append(record)
        end = segment.append(record)
    assert end == segment.end == sum(map(len, records)) + segment.header_end
    assert on_disk(segment.path)[0][segment.header_end :] == b"".join(records)
    lines, ends = segment.read_records(0, limit_bytes=1 << 30)
    assert lines == [r[:-1] for r in records] and ends[-1] == end
    segment.close()
    (orphan,) = claim_orphans(spool)
    assert orphan.end == end and orphan.read_records(0, limit_bytes=1 << 30)[0] == lines
    orphan.remove()


def test_a_reader_at_the_end_of_a_mostly_empty_window_copies_one_block(
    spool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain polls the end of its segment: it reads one small block of the zeros there,
    not the megabytes of the window."""
    segment = SpoolSegment.create(spool, URI)
    while os.path.getsize(segment.path) < 4 << 20:  # windows of 1 MiB and more
        segment.append(b"j\t" + json.dumps(["p", "r", "k", "z" * 50_000]).encode() + b"\n")
    end = segment.append(metric(1))
    assert os.path.getsize(segment.path) - end > 1 << 20
    read: list[int] = []
    real_pread = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        data = real_pread(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", pread)
    assert segment.read_records(end) == ([], [])
    assert segment.read_records(end - len(metric(1))) == ([metric(1)[:-1]], [end])
    monkeypatch.undo()
    assert read and max(read) <= 64 << 10 and len(read) == 2
    segment.remove()


def test_a_reader_in_another_process_sees_each_append_at_once(spool: str) -> None:
    """The drain process (SpoolSegment.attach, the writer's locked descriptor inherited)
    reads what the writer copied into its map, with no msync or fsync in between."""
    segment = SpoolSegment.create(spool, URI)
    reader = run_python(
        """
        import sys
        from tracklet.async_logging.spool import SpoolSegment
        segment = SpoolSegment.attach(sys.argv[1], int(sys.argv[2]))
        offset = segment.header_end
        for _ in sys.stdin:
            lines, ends = segment.read_records(offset, limit_bytes=1 << 30)
            offset = ends[-1] if ends else offset
            print(len(lines), offset, flush=True)
        """,
        segment.path,
        str(segment._lock_fd),
        pass_fds=(segment._lock_fd,),
    )
    try:
        assert reader.stdin is not None and reader.stdout is not None
        i = 0
        for count in (1, 0, 5, 2000, 1):  # 2000 cross the first window's end
            for _ in range(count):
                segment.append(metric(i))
                i += 1
            reader.stdin.write("read\n")
            reader.stdin.flush()
            assert reader.stdout.readline().split() == [str(count), str(segment.end)]
        assert os.path.getsize(segment.path) > 64 << 10
    finally:
        reader.communicate("", timeout=60)
    assert reader.returncode == 0
    segment.remove()


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


KILLED_WRITER = """
    import sys
    from tracklet.async_logging.spool import SpoolSegment
    segment = SpoolSegment.create(sys.argv[1], "http://x")
    i = 0
    while True:
        end = segment.append(b"m\\trun\\tk\\t%d.0\\t%d\\t%d\\n" % (i, i, i))
        i += 1
        if i == 1000:
            segment.mark_applied(end)  # where a claimer starts looking for the end
        if i % 1000 == 0:
            print(i, end, flush=True)
            if i == 20_000 and sys.argv[2] == "idle":
                sys.stdin.readline()  # until killed
"""


@pytest.mark.parametrize("when", ["idle", "appending"])
def test_a_killed_writers_records_are_all_claimed_up_to_its_logical_end(spool: str, when: str) -> None:
    """SIGKILL while the writer waits, or at a random moment of a loop of appends (maybe in
    the middle of a copy): every append that returned is claimed, in order, nothing else
    but at most the one cut off, which is not returned."""
    writer = run_python(KILLED_WRITER, spool, when)
    try:
        assert writer.stdout is not None
        for _ in range(20):  # 500 kB: across five windows
            returned, end = map(int, writer.stdout.readline().split())
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    (orphan,) = claim_orphans(spool)
    assert os.path.getsize(orphan.path) > orphan.end  # not cut: the writer never closed it
    lines, ends = orphan.read_records(0, limit_bytes=1 << 30)
    assert lines == [b"m\trun\tk\t%d.0\t%d\t%d" % (i, i, i) for i in range(len(lines))]
    assert len(lines) >= returned and ends[returned - 1] == end
    assert orphan.acked()[0] == ends[999]
    if when == "idle":
        assert orphan.end == ends[-1] == end and len(lines) == returned
    else:  # the logical end is the last record's, or inside the one cut off
        assert ends[-1] <= orphan.end < ends[-1] + len(b"m\trun\tk\t%d.0\t%d\t%d\n" % ((len(lines),) * 3))
    assert spool_size(spool) == orphan.end - ends[999]
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
def test_a_forked_childs_append_raises_and_the_parents_map_goes_on(spool: str) -> None:
    from tracklet.testing import in_forked_child

    segment = SpoolSegment.create(spool, URI)
    segment.append(metric(1))

    def child() -> tuple[bool, int, str]:
        try:
            segment.append(metric(2))
        except OSError as exc:
            return segment._map is None, exc.errno or 0, str(exc)
        return segment._map is None, 0, "appended"

    no_map, code, message = in_forked_child(child)
    assert no_map and code == errno.EBADF and "forked" in message
    # the child unmapped its own copy only: the parent goes on, across windows
    end = 0
    for i in range(3, 2000):
        end = segment.append(metric(i))
    assert os.path.getsize(segment.path) > 64 << 10
    lines, ends = segment.read_records(0, limit_bytes=1 << 30)
    assert lines == [metric(1)[:-1]] + [metric(i)[:-1] for i in range(3, 2000)] and ends[-1] == end
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
