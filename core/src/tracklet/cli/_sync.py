"""``tracklet sync``: send what the async-logging spool still holds to the tracking store.

The spool (``tracklet.async_logging``) is a folder of write-ahead segments: calls logged with
``synchronous=False`` that a process accepted but had not yet applied when it stopped (killed,
``os._exit``, a store that was down), and everything logged with ``TRACKLET_OFFLINE=true``.
Any later process logging asynchronously to the same URI replays them on its own; this command
does it on demand and says what it did, which is what a job script or a person needs after a
crash or an offline session.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from tracklet.cli._errors import one_line
from tracklet.exceptions import TrackletException

if TYPE_CHECKING:
    from tracklet.async_logging import SyncReport

#: How many of the failed calls' errors are printed (the count covers them all).
_ERRORS_SHOWN = 10

#: Seconds to wait for the drain processes of ended training processes before replaying.
_DRAIN_WAIT = 600.0


@click.command("sync")
@click.option(
    "--spool",
    "spool",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help=(
        "Spool folder to replay. Default: TRACKLET_ASYNC_SPOOL when it names a folder, "
        "else the default spool (~/.cache/tracklet/spool, under XDG_CACHE_HOME when set)."
    ),
)
@click.option(
    "--tracking-uri",
    "tracking_uri",
    metavar="URI",
    help=(
        "Replay only the calls logged to URI (spelled as the logging process had it). "
        "Default: every call, each sent to the tracking URI it was logged to."
    ),
)
@click.option(
    "--dry-run", is_flag=True, help="Read the spool and report what it holds; send and change nothing."
)
@click.pass_context
def sync(ctx: click.Context, spool: str | None, tracking_uri: str | None, dry_run: bool) -> None:
    """Send the calls left in the async-logging spool to their tracking store, exactly once.

    Segments a live process still writes are left to it. Runs created offline are created in
    the store and their local ids mapped to the store's; the mapping is printed. Exits with
    status 1 when the store refused calls (the first errors are listed) or could not be
    reached (what was not sent stays in the spool).
    """
    from tracklet.async_logging import sync_spool

    directory = spool or _default_spool()
    uri = tracking_uri or _root_tracking_uri(ctx)
    if not os.path.isdir(directory):
        click.echo(f"Nothing to sync: the spool folder {directory} does not exist.")
        return
    draining = _draining(directory)
    if draining:
        click.echo(
            f"Waiting for {draining} drain process{'es' if draining != 1 else ''} of ended "
            f"training processes to finish writing (up to {_DRAIN_WAIT:.0f} s)...",
            err=True,
        )
    try:
        # the bar on a terminal only, as every tracklet progress bar: not in a job's log file
        report = sync_spool(
            directory, uri, progress=sys.stderr.isatty(), dry_run=dry_run, wait_for_drains=_DRAIN_WAIT
        )
    except (TrackletException, OSError) as exc:
        # The spool is left as it was: say so, with what to do, on one line (the root group
        # adds "Error: " and exit status 1).
        raise click.ClickException(
            f"{one_line(str(exc))} Nothing was lost: what was not sent stays in the spool "
            f"{directory}; run `tracklet sync` again once the store is reachable."
        ) from exc
    _print_report(report, directory, uri, dry_run)
    busy = _held_segments(directory, uri)
    if busy:
        which = "1 segment is" if busy == 1 else f"{busy:,} segments are"
        whose = "the live process holding it" if busy == 1 else "the live processes holding them"
        click.echo(
            f"{which} left to {whose}: a training process still logging, or a drain process "
            "still writing (it retries an unreachable store for TRACKLET_ASYNC_DRAIN_LINGER "
            "seconds after the training ends, then leaves the rest to `tracklet sync`)."
        )
    _print_errors(report.errors)
    problems = []
    if report.failed and dry_run:
        problems.append(f"{report.failed:,} call(s) in the spool cannot be sent (listed above)")
    elif report.failed:
        problems.append(
            f"{report.failed:,} call(s) were refused by the tracking store (listed above) and not "
            "stored; replaying them would fail again, so they are not kept"
        )
    if report.left and not dry_run:
        problems.append(
            f"{report.left:,} call(s) could not be sent (the store could not be reached) and stay "
            f"in the spool {directory}; run `tracklet sync` again once it is reachable"
        )
    if problems:
        raise click.ClickException("; ".join(problems) + ".")


def _default_spool() -> str:
    """TRACKLET_ASYNC_SPOOL when it names a folder, else the default spool folder (where
    logging puts it when the variable is unset, ``on`` or offline)."""
    from tracklet.async_logging import default_spool_directory, spool_directory_setting

    return spool_directory_setting() or default_spool_directory()


def _root_tracking_uri(ctx: click.Context) -> str | None:
    """``tracklet --tracking-uri URI sync``'s URI when given on the command line.

    The tracking URI from the environment is not used: the spool records where each call was
    logged, and a shell's TRACKLET_TRACKING_URI pointing elsewhere must not hide those calls.
    """
    root = ctx.find_root()
    if root.get_parameter_source("tracking_uri") != click.core.ParameterSource.COMMANDLINE:
        return None
    value = root.params.get("tracking_uri")
    return str(value) if value else None


def _draining(directory: str) -> int:
    """How many segments of ended writers a drain process is still writing: ``sync_spool``
    waits for those before it claims what is left."""
    from tracklet.async_logging.replay import held_by_a_process, segments_of_ended_writers

    return sum(1 for path in segments_of_ended_writers(directory) if held_by_a_process(path))


def _held_segments(directory: str, uri: str | None) -> int:
    """How many segments in ``directory`` (logged to ``uri``, when given) a live process holds.

    A non-blocking shared lock fails on a segment whose writer or drain holds its exclusive
    lock; it is let go at once. Read-only otherwise: the header is the spool's first line.
    """
    try:
        import fcntl
    except ImportError:  # no flock, no spool
        return 0
    held = 0
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".seg"):
            continue
        try:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue  # removed meanwhile
        try:
            if uri is not None and _logged_to(fd) != uri:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                held += 1
        finally:
            os.close(fd)  # closing lets go of the shared lock, if taken
    return held


def _logged_to(fd: int) -> str | None:
    """The tracking URI in a segment's header line, None if it has none."""
    import json

    first = os.pread(fd, 64 << 10, 0).split(b"\n", 1)[0]
    prefix = b"#tracklet-spool 1 "
    if not first.startswith(prefix):
        return None
    try:
        found = json.loads(first[len(prefix) :]).get("tracking_uri")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _print_report(report: SyncReport, directory: str, uri: str | None, dry_run: bool) -> None:
    """The summary: what the spool held, what was sent, skipped and refused, and the runs created."""
    where = f" for {uri}" if uri else ""
    if report.calls == 0 and not report.errors and not report.left:
        click.echo(f"Nothing to sync in {directory}{where}.")
        return
    segments = f"{report.segments:,} segment{'s' if report.segments != 1 else ''}"
    if dry_run:
        click.echo(
            f"Dry run, nothing sent or changed. Spool {directory}{where}: {segments}, {report.calls:,} calls."
        )
        return
    click.echo(f"Synced spool {directory}{where}: {segments}, {report.calls:,} calls.")
    click.echo(
        f"  sent: {report.sent:,}  duplicates skipped: {report.duplicates_skipped:,}  "
        f"failed: {report.failed:,}  left in the spool: {report.left:,}"
    )
    if report.runs_created:
        click.echo("Runs created (local id -> store id):")
        for local_id, store_id in report.runs_created.items():
            click.echo(f"  {local_id} -> {store_id}")


def _print_errors(errors: list[str]) -> None:
    """The first errors, one line each, on stderr (before the final ``Error:`` line)."""
    for error in errors[:_ERRORS_SHOWN]:
        click.echo(f"  {one_line(error)}", err=True)
    if len(errors) > _ERRORS_SHOWN:
        click.echo(f"  (the first {_ERRORS_SHOWN} errors are shown)", err=True)
