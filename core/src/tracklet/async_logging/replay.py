"""Writing what a spool holds: at the start of a logger, and by ``tracklet sync``.

A spool segment whose writer has gone (killed, crashed, exited with the store
unreachable) is an *orphan*: :func:`~tracklet.async_logging.spool.claim_orphans` hands it
to exactly one process. Its ``.ack`` file says how far it was written: records before
``applied_end`` are in the store, records between ``applied_end`` and ``inflight_end``
were being written when the writer stopped (so they are written again with
``uncertain=True``, which skips the metric values the store already holds), and the rest
were never sent. Each chunk is marked in flight before it is sent and applied after, so
a replay that is itself killed leaves the same kind of record behind: replaying a spool
any number of times stores each call once.

Runs started offline are created from their ``"c"`` records; the local → store id
mapping is appended to the segment's ``.runs`` file as soon as the run exists, and read
from every ``.runs`` file in the directory, so records in another segment (a forked
child's) that name the local id find the run too.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracklet.async_logging.apply import apply_records, is_unavailable
from tracklet.async_logging.records import Record, decode

if TYPE_CHECKING:
    from tracklet.async_logging.spool import SpoolSegment
    from tracklet.stores import TrackingStore

__all__ = ["SyncReport", "held_by_a_process", "replay_segments", "segments_of_ended_writers", "sync_spool"]

_log = logging.getLogger("tracklet.async_logging")

_CHUNK = 10_000
_READ_BYTES = 4 << 20


@dataclass
class SyncReport:
    """What a replay of a spool did."""

    segments: int = 0
    """Spool segments read."""
    calls: int = 0
    """Records found (one per metric value, param, tag, run start or end)."""
    sent: int = 0
    """Records written to the store now."""
    duplicates_skipped: int = 0
    """Metric values not written because the store already had them."""
    failed: int = 0
    """Records the store refused (their errors are in ``errors``, the first 20)."""
    runs_created: dict[str, str] = field(default_factory=dict)
    """Runs started offline and created now: local id → the store's run id."""
    errors: list[str] = field(default_factory=list)
    """The store's messages for the first refused records."""
    left: int = 0
    """Records still in the spool (the store became unreachable, or a dry run)."""


def _all_run_maps(directory: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in glob.glob(os.path.join(directory, "*.runs")):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    local, _, stored = line.rstrip("\n").partition("\t")
                    if local and stored:
                        found[local] = stored
        except OSError:
            continue
    return found


def replay_segments(
    store: TrackingStore,
    segments: list[SpoolSegment],
    directory: str,
    *,
    wait_while_unreachable: bool = False,
    progress: Any = None,
    dry_run: bool = False,
    report: SyncReport | None = None,
) -> SyncReport:
    """Write the records of claimed ``segments`` to ``store`` and delete each segment once
    all of it is written.

    :param wait_while_unreachable: keep retrying (0.2 s to 5 s apart) while the store
        cannot be reached; otherwise stop there, keep the rest, and count it in ``left``.
    :param progress: a tqdm-like bar (``update(n)`` in bytes), or None.
    :param dry_run: count what would be sent and change nothing.
    """
    report = report if report is not None else SyncReport()
    run_map = _all_run_maps(directory)
    for index, segment in enumerate(segments):
        report.segments += 1
        applied, inflight = segment.acked()
        offset = applied
        stopped = False
        while not stopped:
            lines, ends = segment.read_records(offset, _READ_BYTES)
            if not lines:
                break
            records: list[Record] = []
            for line in lines:
                try:
                    records.append(decode(line))
                except ValueError as exc:
                    report.failed += 1
                    if len(report.errors) < 20:
                        report.errors.append(f"{segment.path}: {exc}")
                    records.append(("?", ""))
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                end = ends[start + len(chunk) - 1]
                report.calls += len(chunk)
                if dry_run:
                    report.left += len(chunk)
                elif not _write_chunk(
                    store, segment, chunk, offset < inflight, end, run_map, report, wait_while_unreachable
                ):
                    report.calls -= len(chunk)  # counted again below, with the rest left
                    stopped = True
                    break
                if progress is not None:
                    progress.update(end - offset)
                offset = end
        if stopped:
            for rest, start_at in [(segment, offset)] + [(s, s.acked()[0]) for s in segments[index + 1 :]]:
                unsent = _count_lines_after(rest, start_at)
                report.left += unsent
                report.calls += unsent
                rest.close()
            return report
        if dry_run:
            segment.close()
        else:
            segment.remove()
    return report


def _count_lines_after(segment: SpoolSegment, offset: int) -> int:
    count = 0
    while True:
        lines, ends = segment.read_records(offset, _READ_BYTES)
        if not lines:
            return count
        count += len(lines)
        offset = ends[-1]


def _write_chunk(
    store: TrackingStore,
    segment: SpoolSegment,
    chunk: list[Record],
    uncertain: bool,
    end: int,
    run_map: dict[str, str],
    report: SyncReport,
    wait: bool,
) -> bool:
    segment.mark_inflight(end)
    pause = 0.2

    def created(local: str, stored: str) -> None:
        segment.add_run(local, stored)
        report.runs_created[local] = stored

    while True:
        try:
            errors, duplicates = apply_records(
                store,
                [r for r in chunk if r[0] != "?"] if any(r[0] == "?" for r in chunk) else chunk,
                uncertain=uncertain,
                run_map=run_map,
                on_run_created=created,
            )
            break
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if not wait:
                _log.warning("The tracking store cannot be reached (%s); the rest stays in the spool.", exc)
                return False
            uncertain = True
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
    segment.mark_applied(end)
    report.duplicates_skipped += duplicates
    report.failed += len(errors)
    report.sent += len(chunk) - len(errors) - duplicates - sum(1 for r in chunk if r[0] == "?")
    for error in list(errors.values())[: max(0, 20 - len(report.errors))]:
        report.errors.append(str(error))
    return True


def segments_of_ended_writers(directory: str) -> list[str]:
    """Segments (by path) whose writer process, named in the file name, has ended."""
    found = []
    for name in os.listdir(directory):
        if not name.endswith(".seg"):
            continue
        parts = name.split("-")
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        if not _alive(int(parts[1])):
            found.append(os.path.join(directory, name))
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


def held_by_a_process(path: str) -> bool:
    """Whether some process (a drain) holds the segment's lock."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def _wait_for_drains(directory: str, timeout: float) -> None:
    """Wait while drain processes of ended writers are still writing their segments."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [p for p in segments_of_ended_writers(directory) if held_by_a_process(p)]
        if not busy:
            return
        _log.info("waiting for %d drain processes still writing %s", len(busy), directory)
        time.sleep(0.2)


@contextlib.contextmanager
def _working_directory(path: str | None) -> Iterator[None]:
    """Run the block in ``path`` (when it exists), then come back."""
    if not path or not os.path.isdir(path) or path == os.getcwd():
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def sync_spool(
    directory: str | None = None,
    tracking_uri: str | None = None,
    progress: bool = False,
    dry_run: bool = False,
    wait_for_drains: float = 600.0,
) -> SyncReport:
    """Send everything left in a spool to its stores; what ``tracklet sync`` does.

    A segment whose writer has ended but whose drain process is still writing it is
    waited for (up to ``wait_for_drains`` seconds; 0: not at all), so that a sync right
    after a training process was killed finds everything written or claimable. Segments
    of writers still running are theirs, and left alone.

    :param directory: the spool (default: ``TRACKLET_ASYNC_SPOOL`` if it names a
        directory, else :func:`~tracklet.async_logging.default_spool_directory`).
    :param tracking_uri: only the segments written for this tracking URI (default: all,
        each to the URI it was written for).
    :param progress: show a tqdm progress bar (for the command line).
    :param dry_run: count what would be sent; change nothing.
    """
    from tracklet import plugins
    from tracklet.async_logging import default_spool_directory, spool_directory_setting
    from tracklet.async_logging.spool import claim_orphans, header_of

    directory = directory or spool_directory_setting() or default_spool_directory()
    report = SyncReport()
    if not os.path.isdir(directory):
        return report
    if wait_for_drains:
        _wait_for_drains(directory, wait_for_drains)
    segments = claim_orphans(directory, tracking_uri)
    by_uri: dict[tuple[str, str | None], list[SpoolSegment]] = {}
    for segment in segments:
        cwd = header_of(segment.path).get("cwd")
        by_uri.setdefault((segment.tracking_uri, cwd if isinstance(cwd, str) else None), []).append(segment)
    bar = None
    if progress and segments:
        from tqdm import tqdm

        total = sum(max(0, s.end - s.acked()[0]) for s in segments)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc="tracklet sync")
    try:
        for (uri, cwd), group in by_uri.items():
            try:
                with _working_directory(cwd):  # a relative URI means what it meant to the writer
                    store = plugins.get_tracking_store(uri)
            except Exception as exc:
                report.errors.append(f"{uri}: {exc}")
                report.left += sum(_count_lines_after(s, s.acked()[0]) for s in group)
                for s in group:
                    s.close()
                continue
            with _working_directory(cwd):
                replay_segments(store, group, directory, progress=bar, dry_run=dry_run, report=report)
    finally:
        if bar is not None:
            bar.close()
    return report
