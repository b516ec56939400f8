"""``tracklet sync``: the async-logging spool replayed by the command line, against real stores.

Each spool is made the way it is made in life: a child Python process logs with
``synchronous=False`` (or offline) and stops with ``os._exit``, so neither its end-of-process
flush nor anything else runs. The command is then driven through click's runner (the store
checks read the same files from this process).

The stores: a folder (tracklet-file), where a metric logged twice shows up twice in its
history, so "exactly once" can fail there; and a sqlite file (tracklet-sql), whose primary key
collapses identical points, where the counts the command prints are what is checked.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tracklet
from tracklet.async_logging.records import encode, encode_metric
from tracklet.async_logging.spool import SpoolSegment
from tracklet.cli import build_cli
from tracklet.entities import Metric

#: Points the children log: enough for several worker batches, few enough to stay quick.
POINTS = 3_000

_ISOLATED = (
    "TRACKLET_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "TRACKLET_ASYNC_SPOOL",
    "TRACKLET_ASYNC_DRAIN",
    "TRACKLET_OFFLINE",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "TRACKLET_ENABLE_ASYNC_LOGGING",
    "MLFLOW_EXPERIMENT_ID",
    "TRACKLET_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "TRACKLET_EXPERIMENT_NAME",
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No tracking URI, spool or offline switch from the environment; the default spool under
    the test's folder."""
    for variable in _ISOLATED:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield
    tracklet.set_tracking_uri(None)


@pytest.fixture(params=["file", "sqlite"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "mlruns")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    try:  # click 8.1 mixes stderr into output unless told otherwise; 8.2+ keeps both
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(build_cli(), list(args), env=env, catch_exceptions=False)


def child(
    code: str,
    *args: str,
    spool: Path,
    offline: bool = False,
    uri: str | None = None,
    drain: str | None = None,
) -> list[str]:
    """Run ``code`` in a new interpreter with the spool at ``spool`` (and offline, or with
    ``TRACKLET_ASYNC_DRAIN=drain``, when asked); the words it printed. The code ends with
    ``os._exit``: no flush at exit."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
    env["TRACKLET_ASYNC_SPOOL"] = str(spool)
    if drain is not None:
        env["TRACKLET_ASYNC_DRAIN"] = drain
    if offline:
        env["TRACKLET_OFFLINE"] = "true"
    if uri is not None:
        env["TRACKLET_TRACKING_URI"] = uri
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


# A run created in the store, then POINTS metrics, a param and a tag logged asynchronously; the
# process ends with os._exit while the worker may still be sending (or not have started).
LOG_AND_DIE = """
    import os, sys
    import tracklet

    uri, points = sys.argv[1], int(sys.argv[2])
    client = tracklet.MlflowClient(uri)
    run_id = client.create_run("0").info.run_id
    print(run_id, flush=True)
    for i in range(points):
        client.log_metric(run_id, "loss", i / 7, timestamp=1_000 + i, step=i, synchronous=False)
    client.log_param(run_id, "lr", "0.01", synchronous=False)
    client.set_tag(run_id, "phase", "train", synchronous=False)
    os._exit(0)
"""

# Offline: the calls to an existing run only reach the spool; nothing reaches the store.
LOG_OFFLINE_AND_DIE = """
    import os, sys
    import tracklet

    uri, run_id, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = tracklet.MlflowClient(uri)
    for i in range(points):
        client.log_metric(run_id, "loss", i / 7, timestamp=1_000 + i, step=i, synchronous=False)
    client.log_param(run_id, "lr", "0.01", synchronous=False)
    client.set_tag(run_id, "phase", "train", synchronous=False)
    os._exit(0)
"""

# Calls to a run the store has, through the default drain process, then os._exit.
LOG_TO_RUN_AND_DIE = """
    import os, sys
    import tracklet

    uri, run_id, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = tracklet.MlflowClient(uri)
    for i in range(points):
        client.log_metric(run_id, "loss", i / 7, timestamp=1_000 + i, step=i, synchronous=False)
    client.log_param(run_id, "lr", "0.01", synchronous=False)
    client.set_tag(run_id, "phase", "train", synchronous=False)
    os._exit(0)
"""

# Offline from the start: the run itself is created with a local id.
OFFLINE_RUN = """
    import os, sys
    import tracklet

    points = int(sys.argv[1])
    with tracklet.start_run(run_name="offline-run") as run:
        print(run.info.run_id, flush=True)
        tracklet.log_param("lr", "0.01")
        tracklet.set_tag("phase", "train")
        for i in range(points):
            tracklet.log_metric("acc", i / points, step=i, timestamp=2_000 + i, synchronous=False)
    tracklet.flush_async_logging()
    os._exit(0)
"""


def history(uri: str, run_id: str, key: str = "loss") -> list[tuple[int, int, float]]:
    """(step, timestamp, value) of every stored point of ``key``, sorted; duplicates kept."""
    points = tracklet.MlflowClient(uri).get_metric_history(run_id, key)
    return sorted((m.step, m.timestamp, m.value) for m in points)


def expected(points: int) -> list[tuple[int, int, float]]:
    return [(i, 1_000 + i, i / 7) for i in range(points)]


def counts(result: Result) -> dict[str, int]:
    """The numbers of the summary line: sent, duplicates skipped, failed."""
    found = re.search(r"sent: ([\d,]+)\s+duplicates skipped: ([\d,]+)\s+failed: ([\d,]+)", result.stdout)
    assert found, result.stdout
    sent, skipped, failed = (int(group.replace(",", "")) for group in found.groups())
    return {"sent": sent, "duplicates_skipped": skipped, "failed": failed}


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def left_behind(spool: Path, uri: str, run_id: str, points: int) -> None:
    """A spool segment as a writer that died before sending anything leaves it: ``points``
    metric values, a param and a tag for ``run_id``, none of them applied. Made with the
    spool's own code, then let go of (the lock goes, the files stay)."""
    segment = SpoolSegment.create(str(spool), uri)
    for step, timestamp, value in expected(points):
        segment.append(encode_metric(run_id, "loss", value, timestamp, step))
    segment.append(encode(("p", run_id, "lr", "0.01")) + encode(("t", run_id, "phase", "train")))
    segment.close()


# -- a killed process's calls -----------------------------------------------------------------


def test_sync_sends_what_a_dead_process_left_exactly_once(uri: str, spool: Path) -> None:
    # The drain in a thread of the child dies with it, wherever it was (mid-batch included),
    # as a drain process does when a job's whole process group is killed.
    (run_id,) = child(LOG_AND_DIE, uri, str(POINTS), spool=spool, drain="thread")
    before = history(uri, run_id)
    assert len(set(before)) == len(before)  # the worker never stores a point twice either
    assert any(spool.glob("*.seg")), "the child left no spool segment"

    result = run_cli("sync", "--spool", str(spool))

    assert result.exit_code == 0, result.output + result.stderr
    assert history(uri, run_id) == expected(POINTS)
    run = tracklet.MlflowClient(uri).get_run(run_id)
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags["phase"] == "train"
    numbers = counts(result)
    assert numbers["failed"] == 0
    assert numbers["sent"] <= POINTS + 2
    assert not any(spool.glob("*.seg")), "a fully applied segment is deleted"


def test_sync_sends_every_offline_call_and_then_nothing(uri: str, spool: Path) -> None:
    run_id = tracklet.MlflowClient(uri).create_run("0").info.run_id
    child(LOG_OFFLINE_AND_DIE, uri, run_id, str(POINTS), spool=spool, offline=True)
    assert history(uri, run_id) == []  # offline: nothing reached the store

    first = run_cli("sync", "--spool", str(spool))
    assert first.exit_code == 0, first.output + first.stderr
    assert counts(first) == {"sent": POINTS + 2, "duplicates_skipped": 0, "failed": 0}
    assert history(uri, run_id) == expected(POINTS)
    assert tracklet.MlflowClient(uri).get_run(run_id).data.params == {"lr": "0.01"}

    second = run_cli("sync", "--spool", str(spool))
    assert second.exit_code == 0, second.output + second.stderr
    assert "Nothing to sync" in second.stdout
    assert history(uri, run_id) == expected(POINTS)


def test_dry_run_reports_and_changes_nothing(uri: str, spool: Path) -> None:
    run_id = tracklet.MlflowClient(uri).create_run("0").info.run_id
    left_behind(spool, uri, run_id, POINTS)
    spooled = files(spool)

    dry = run_cli("sync", "--spool", str(spool), "--dry-run")

    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "Dry run" in dry.stdout
    assert f"{POINTS + 2:,} calls" in dry.stdout
    assert files(spool) == spooled
    assert history(uri, run_id) == []
    assert tracklet.MlflowClient(uri).get_run(run_id).data.params == {}

    real = run_cli("sync", "--spool", str(spool))
    assert real.exit_code == 0, real.output + real.stderr
    assert counts(real) == {"sent": POINTS + 2, "duplicates_skipped": 0, "failed": 0}
    assert history(uri, run_id) == expected(POINTS)

    again = run_cli("sync", "--spool", str(spool))
    assert again.exit_code == 0, again.output + again.stderr
    assert again.stdout.startswith("Nothing to sync")
    assert history(uri, run_id) == expected(POINTS)


def test_sync_skips_what_the_store_has_from_the_uncertain_window(tmp_path: Path, spool: Path) -> None:
    """A segment left as a killed writer leaves it: the first 1,000 calls applied, the next
    1,000 in flight (the store got half of them before the kill), the rest never sent. On the
    file store a point sent twice would show twice in the history."""
    uri = str(tmp_path / "mlruns")
    client = tracklet.MlflowClient(uri)
    run_id = client.create_run("0").info.run_id
    segment = SpoolSegment.create(str(spool), uri)
    ends = [segment.append(encode_metric(run_id, "loss", i / 7, 1_000 + i, i)) for i in range(POINTS)]
    segment.mark_inflight(ends[999])
    segment.mark_applied(ends[999])
    segment.mark_inflight(ends[1_999])
    stored = [Metric("loss", value, timestamp, step) for step, timestamp, value in expected(1_500)]
    for start in range(0, len(stored), 1_000):
        client.log_batch(run_id, metrics=stored[start : start + 1_000])
    segment.close()  # as the writer's death does: the lock goes, the files stay

    result = run_cli("sync", "--spool", str(spool))

    assert result.exit_code == 0, result.output + result.stderr
    assert f"{POINTS - 1_000:,} calls" in result.stdout
    assert counts(result) == {"sent": POINTS - 1_500, "duplicates_skipped": 500, "failed": 0}
    assert history(uri, run_id) == expected(POINTS)
    assert not any(spool.glob("*.seg"))


def test_a_live_writers_segment_is_left_to_it_and_counted(tmp_path: Path, spool: Path) -> None:
    uri = str(tmp_path / "mlruns")
    run_id = tracklet.MlflowClient(uri).create_run("0").info.run_id
    live = SpoolSegment.create(str(spool), uri)  # this process holds it, as a writer does
    live.append(encode_metric(run_id, "loss", 0.0, 1_000, 0))

    busy = run_cli("sync", "--spool", str(spool))

    assert busy.exit_code == 0, busy.output + busy.stderr
    assert busy.stdout.startswith("Nothing to sync")
    assert "1 segment is left to the live process holding it" in busy.stdout
    assert history(uri, run_id) == []

    live.close()
    done = run_cli("sync", "--spool", str(spool))
    assert done.exit_code == 0, done.output + done.stderr
    assert "left to the live" not in done.stdout
    assert history(uri, run_id) == expected(1)


# -- offline runs -----------------------------------------------------------------------------


def test_offline_run_is_created_on_sync_and_its_mapping_printed(uri: str, spool: Path) -> None:
    (local_id,) = child(OFFLINE_RUN, str(POINTS), spool=spool, offline=True, uri=uri)
    client = tracklet.MlflowClient(uri)
    assert client.search_runs(["0"]) == []  # offline: no run in the store yet

    result = run_cli("sync", "--spool", str(spool))

    assert result.exit_code == 0, result.output + result.stderr
    (run,) = client.search_runs(["0"])
    store_id = run.info.run_id
    assert f"{local_id} -> {store_id}" in result.stdout
    assert run.data.tags["tracklet.spool.localRunId"] == local_id
    assert run.info.run_name == "offline-run"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags["phase"] == "train"
    stored = sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(store_id, "acc"))
    assert stored == [(i, 2_000 + i, i / POINTS) for i in range(POINTS)]

    again = run_cli("sync", "--spool", str(spool))
    assert again.exit_code == 0, again.output + again.stderr
    assert "Nothing to sync" in again.stdout
    assert len(client.search_runs(["0"])) == 1


# -- refused calls ----------------------------------------------------------------------------


def test_a_refused_call_exits_1_and_names_it_while_the_rest_is_sent(tmp_path: Path, spool: Path) -> None:
    uri = str(tmp_path / "mlruns")
    client = tracklet.MlflowClient(uri)
    run_id = client.create_run("0").info.run_id
    left_behind(spool, uri, run_id, 10)
    client.log_param(run_id, "lr", "0.5")  # the spooled lr=0.01 can no longer be stored

    result = run_cli("sync", "--spool", str(spool))

    assert result.exit_code == 1, result.output
    assert counts(result)["failed"] == 1
    assert "lr" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: 1 call(s) were refused")
    assert history(uri, run_id) == expected(10)
    assert client.get_run(run_id).data.params == {"lr": "0.5"}


# -- a store that cannot be reached -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def tracklet_server(db: Path, port: int) -> Iterator[str]:
    """``tracklet server`` on the sqlite file ``db`` at ``port``, as a separate process,
    until the block ends; its URL."""
    log = db.parent / f"server-{port}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tracklet", "server", "--backend-store-uri", f"sqlite:///{db}"]
            + ["--port", str(port)],
            cwd=db.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # until it answers, or dies
            if server.poll() is not None:
                raise RuntimeError(f"tracklet server did not start: {log.read_text()}")
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5).close()
                break
            except OSError:
                try:
                    server.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        yield url
    finally:
        server.terminate()
        server.wait()


def test_an_unreachable_store_exits_1_keeps_every_call_for_the_next_sync(
    tmp_path: Path, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "server.db"
    run_id = tracklet.MlflowClient(f"sqlite:///{db}").create_run("0").info.run_id
    port = _free_port()
    url = f"http://127.0.0.1:{port}"  # nothing listens there yet
    # the child's drain process gives up on the store as soon as the child has gone
    monkeypatch.setenv("TRACKLET_ASYNC_DRAIN_LINGER", "0")
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "0")  # the sync's own store, too
    child(LOG_TO_RUN_AND_DIE, url, run_id, str(POINTS), spool=spool)

    down = run_cli("sync", "--spool", str(spool))

    assert down.exit_code == 1, down.output + down.stderr
    assert counts(down) == {"sent": 0, "duplicates_skipped": 0, "failed": 0}
    assert "call(s) could not be sent (the store could not be reached)" in down.stderr
    assert "Traceback" not in down.output + down.stderr
    assert any(spool.glob("*.seg"))

    with tracklet_server(db, port):
        up = run_cli("sync", "--spool", str(spool))

    assert up.exit_code == 0, up.output + up.stderr
    assert counts(up)["sent"] + counts(up)["duplicates_skipped"] == POINTS + 2
    assert history(f"sqlite:///{db}", run_id) == expected(POINTS)
    assert tracklet.MlflowClient(f"sqlite:///{db}").get_run(run_id).data.params == {"lr": "0.01"}
    assert not any(spool.glob("*.seg"))


def test_the_calls_left_in_the_spool_are_counted_once(
    tmp_path: Path, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    left_behind(spool, url, "0123456789abcdef0123456789abcdef", 10)

    result = run_cli("sync", "--spool", str(spool))

    assert result.exit_code == 1, result.output + result.stderr
    assert "left in the spool: 12" in result.stdout
    assert "12 call(s) could not be sent" in result.stderr


# -- which spool, which store -----------------------------------------------------------------


def test_default_spool_is_the_async_spool_variable(tmp_path: Path, spool: Path) -> None:
    uri = str(tmp_path / "mlruns")
    run_id = tracklet.MlflowClient(uri).create_run("0").info.run_id
    left_behind(spool, uri, run_id, 10)

    result = run_cli("sync", env={"TRACKLET_ASYNC_SPOOL": str(spool)})

    assert result.exit_code == 0, result.output + result.stderr
    assert str(spool) in result.stdout
    assert history(uri, run_id) == expected(10)


def test_nothing_to_sync_in_an_absent_default_spool(tmp_path: Path) -> None:
    result = run_cli("sync")
    assert result.exit_code == 0, result.output + result.stderr
    assert "Nothing to sync" in result.stdout
    assert str(tmp_path / "cache") in result.stdout


def test_an_empty_spool_has_nothing_to_sync(spool: Path) -> None:
    result = run_cli("sync", "--spool", str(spool))
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith("Nothing to sync")


def test_a_spool_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("sync", "--spool", str(tmp_path / "no-such-folder"))
    assert result.exit_code == 2
    assert "no-such-folder" in result.stderr


def test_tracking_uri_limits_the_sync_to_that_store(tmp_path: Path, spool: Path) -> None:
    uri = str(tmp_path / "mlruns")
    run_id = tracklet.MlflowClient(uri).create_run("0").info.run_id
    left_behind(spool, uri, run_id, 10)
    other = str(tmp_path / "other")

    elsewhere = run_cli("sync", "--spool", str(spool), "--tracking-uri", other)
    assert elsewhere.exit_code == 0, elsewhere.output + elsewhere.stderr
    assert "Nothing to sync" in elsewhere.stdout
    assert history(uri, run_id) == []
    assert not Path(other).exists()

    # The root group's --tracking-uri, given on the command line, limits it the same way.
    root = run_cli("--tracking-uri", other, "sync", "--spool", str(spool))
    assert "Nothing to sync" in root.stdout
    assert history(uri, run_id) == []

    # ... but one from the environment does not: each call goes where it was logged.
    result = run_cli("sync", "--spool", str(spool), env={"TRACKLET_TRACKING_URI": other})
    assert result.exit_code == 0, result.output + result.stderr
    assert history(uri, run_id) == expected(10)


def test_sync_is_listed_in_help() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "sync" in result.stdout
    usage = run_cli("sync", "--help")
    assert usage.exit_code == 0
    for option in ("--spool", "--tracking-uri", "--dry-run"):
        assert option in usage.stdout
