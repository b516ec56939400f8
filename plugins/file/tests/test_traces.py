"""Traces on a folder: the conformance suite, MLflow 3.17's layout on disk, reading what
other writers left (MLflow 2's files, half-created traces, in-place edits), concurrent
writers and a writer killed mid-write."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import yaml

from tracklet.entities import TraceInfo, TraceLocation, TraceState
from tracklet.exceptions import TrackletException
from tracklet.testing import TraceStoreSuite
from tracklet_file.store import FileStore


class TestFileTraceStore(TraceStoreSuite):
    @pytest.fixture
    def store(self, tmp_path: pathlib.Path) -> Iterator[FileStore]:
        store = FileStore(store_uri=str(tmp_path / "mlruns"))
        yield store
        store.close()


def _info(trace_id: str, experiment_id: str = "0", **fields: object) -> TraceInfo:
    values: dict[str, object] = {
        "trace_id": trace_id,
        "trace_location": TraceLocation.from_experiment_id(experiment_id),
        "request_time": 1_700_000_000_123,
        "state": TraceState.OK,
        "execution_duration": 42,
        "request_preview": '{"x": 1}',
        "response_preview": "2",
        "trace_metadata": {"mlflow.trace_schema.version": "3", "mlflow.sourceRun": "abc"},
        "tags": {"mlflow.traceName": "root", "team/area": "search"},
    }
    values.update(fields)
    return TraceInfo(**values)  # type: ignore[arg-type]


def _read(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def test_layout_on_disk_is_mlflows(store: FileStore, root: str) -> None:
    stored = store.start_trace(_info("tr-1"))
    trace_dir = pathlib.Path(root, "0", "traces", "tr-1")
    names = sorted(
        str(p.relative_to(trace_dir)).replace(os.sep, "/")
        for p in trace_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert names == [
        "request_metadata/mlflow.sourceRun",
        "request_metadata/mlflow.trace_schema.version",
        "tags/mlflow.artifactLocation",
        "tags/mlflow.traceName",
        "tags/team/area",
        "trace_info.yaml",
    ]
    # trace_info.yaml is TraceInfo.to_dict() without the two folders' contents, as MLflow's
    # FileStore._save_trace_info writes it (block style, sorted keys).
    assert yaml.safe_load(_read(trace_dir / "trace_info.yaml")) == {
        "trace_id": "tr-1",
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "0"}},
        "request_time": "2023-11-14T22:13:20.123Z",
        "state": "OK",
        "execution_duration_ms": 42,
        "request_preview": '{"x": 1}',
        "response_preview": "2",
    }
    assert _read(trace_dir / "trace_info.yaml").startswith("execution_duration_ms: 42\n")
    assert _read(trace_dir / "tags" / "team" / "area") == "search"
    assert _read(trace_dir / "request_metadata" / "mlflow.sourceRun") == "abc"
    location = store.get_experiment("0").artifact_location + "/traces/tr-1/artifacts"
    assert _read(trace_dir / "tags" / "mlflow.artifactLocation") == location
    assert stored.tags["mlflow.artifactLocation"] == location
    assert store.get_trace_info("tr-1") == stored

    # An upsert merges: new tags and metadata added, changed ones replaced, others kept.
    again = store.start_trace(
        _info("tr-1", state=TraceState.ERROR, tags={"extra": "1"}, trace_metadata={"mlflow.sourceRun": "def"})
    )
    assert again.state == TraceState.ERROR
    assert again.tags == {**stored.tags, "extra": "1"}
    assert again.trace_metadata == {**stored.trace_metadata, "mlflow.sourceRun": "def"}
    assert store.get_trace_info("tr-1") == again
    assert _read(trace_dir / "request_metadata" / "mlflow.sourceRun") == "def"
    leftovers = [p.name for p in trace_dir.rglob(".tmp-*")]
    assert leftovers == []

    store.delete_traces("0", trace_ids=["tr-1"])
    assert not trace_dir.exists()


def test_reads_what_other_writers_left(store: FileStore, root: str) -> None:
    traces = pathlib.Path(root, "0", "traces")
    # MLflow 2's trace_info.yaml (request_id, timestamp_ms, status), read as MLflow 3.17 does.
    old = traces / "tr-old"
    (old / "tags").mkdir(parents=True)
    (old / "request_metadata").mkdir()
    (old / "trace_info.yaml").write_text(
        "execution_time_ms: 7\nexperiment_id: '0'\nrequest_id: tr-old\nstatus: OK\ntimestamp_ms: 1000\n"
    )
    (old / "tags" / "mlflow.traceName").write_text("legacy")
    (old / "request_metadata" / "mlflow.user").write_text("someone")
    # A trace whose writer died before trace_info.yaml: invisible, as to MLflow.
    (traces / "tr-half" / "tags").mkdir(parents=True)
    (traces / "tr-half" / "tags" / "mlflow.traceName").write_text("half")
    # Not traces: a hidden folder, a stray file.
    (traces / ".tmp-x").mkdir()
    (traces / "notes.txt").write_text("x")

    info = store.get_trace_info("tr-old")
    assert (info.trace_id, info.request_time, info.execution_duration, info.state) == (
        "tr-old",
        1000,
        7,
        TraceState.OK,
    )
    assert info.tags == {"mlflow.traceName": "legacy"}
    assert info.trace_metadata == {"mlflow.user": "someone"}
    with pytest.raises(TrackletException, match="tr-half") as refused:
        store.get_trace_info("tr-half")
    assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    found, _ = store.search_traces(["0"])
    assert [i.trace_id for i in found] == ["tr-old"]

    # The half-created trace is completed by the next start_trace of its id.
    store.start_trace(_info("tr-half", request_time=2000, tags={}))
    assert store.get_trace_info("tr-half").tags["mlflow.traceName"] == "half"

    # An in-place edit (MLflow rewrites tag files in place) is seen by get_trace_info, and
    # a trace created by another writer by the next search.
    tag = old / "tags" / "mlflow.traceName"
    with open(tag, "r+") as f:  # same size, so only the file's mtime and content move
        f.write("LEGACY")
    os.utime(tag, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert store.get_trace_info("tr-old").tags["mlflow.traceName"] == "LEGACY"
    other = FileStore(root)
    other.start_trace(_info("tr-new", request_time=3000))
    found, _ = store.search_traces(["0"], "tags.mlflow.traceName = 'root'")
    assert [i.trace_id for i in found] == ["tr-new"]

    # Results are copies: changing them changes nothing cached.
    found[0].tags["mlflow.traceName"] = "changed"
    found[0].trace_metadata.clear()
    again, _ = store.search_traces(["0"], "tags.mlflow.traceName = 'root'")
    assert again[0].tags["mlflow.traceName"] == "root" and again[0].trace_metadata


def test_keys_and_moves(store: FileStore, root: str) -> None:
    store.start_trace(_info("tr-k"))
    # A key is a file: 'team' cannot be set beside 'team/area', nor two nesting keys at once.
    for tags in ({"team": "x"}, {"a": "1", "a/b": "2"}):
        with pytest.raises(TrackletException) as refused:
            store.start_trace(_info("tr-k", tags=tags))
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException) as refused:
        store.set_trace_tag("tr-k", "team/area/deeper", "x")
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert store.get_trace_info("tr-k").tags["team/area"] == "search"
    store.delete_trace_tag("tr-k", "team/area")
    assert "team/area" not in store.get_trace_info("tr-k").tags

    # start_trace into another experiment moves the trace, its spans folder with it.
    spans = pathlib.Path(root, "0", "traces", "tr-k", "artifacts", "traces.json")
    spans.parent.mkdir()
    spans.write_text('{"spans": []}')
    experiment_id = store.create_experiment("other")
    store.set_trace_tag("tr-k", "grp/a", "1")
    pathlib.Path(root, experiment_id, "traces", "tr-k", "tags").mkdir(parents=True)  # a died creation
    with pytest.raises(TrackletException):  # refused before anything moves
        store.start_trace(_info("tr-k", experiment_id, tags={"grp": "x"}))
    assert store.get_trace_info("tr-k").experiment_id == "0"
    moved = store.start_trace(_info("tr-k", experiment_id))
    assert moved.experiment_id == experiment_id
    assert store.get_trace_info("tr-k") == moved
    assert not pathlib.Path(root, "0", "traces", "tr-k").exists()
    new_dir = pathlib.Path(root, experiment_id, "traces", "tr-k")
    assert (new_dir / "artifacts" / "traces.json").read_text() == '{"spans": []}'
    location = store.get_experiment(experiment_id).artifact_location + "/traces/tr-k/artifacts"
    assert moved.tags["mlflow.artifactLocation"] == location
    assert store.search_traces(["0"])[0] == []
    assert [i.trace_id for i in store.search_traces([experiment_id])[0]] == ["tr-k"]

    # Traces of a deleted experiment are still found and searched, and stay with it.
    store.delete_experiment(experiment_id)
    assert store.get_trace_info("tr-k").trace_id == "tr-k"
    assert [i.trace_id for i in store.search_traces([experiment_id])[0]] == ["tr-k"]
    store.restore_experiment(experiment_id)
    assert store.delete_traces(experiment_id, max_timestamp_millis=2**50) == 1


def test_writers_sharing_a_trace_lose_nothing(root: str) -> None:
    FileStore(root).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        store = FileStore(root)  # one store each: their locks contend as processes' do
        try:
            for i in range(15):
                tags = {f"w{n}-{i}": str(i)}
                if i % 3:
                    store.start_trace(_info("tr-shared", tags=tags, trace_metadata={f"m{n}": str(i)}))
                else:
                    store.start_trace(_info("tr-shared", tags={}, trace_metadata={}))
                    store.set_trace_tag("tr-shared", *next(iter(tags.items())))
                found, _ = store.search_traces(["0"])
                assert [t.trace_id for t in found] == ["tr-shared"]
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    info = FileStore(root).get_trace_info("tr-shared")
    assert {f"w{n}-{i}" for n in range(4) for i in range(15)} <= set(info.tags)
    assert info.trace_metadata["m0"] == "14" and info.trace_metadata["m3"] == "14"


_KILLED_WRITER = """
import sys
from tracklet.entities import TraceInfo, TraceLocation, TraceState
from tracklet_file.store import FileStore

store = FileStore(sys.argv[1])
meta = {f"mlflow.key{k}": "v" * 50 for k in range(12)}
for i in range(100000):
    tid = f"tr-{i:06d}"
    store.start_trace(TraceInfo(tid, TraceLocation.from_experiment_id("0"), 1000 + i, TraceState.OK,
                                trace_metadata=meta, tags={"mlflow.traceName": "t", "n": str(i)}))
    store.set_trace_tag(tid, "done", "yes")
    print(i, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_mid_write_leaves_only_complete_traces(root: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, root], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 40:
            break
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    proc.stdout.close()
    acked = max([acked, *(int(x) for x in rest.split())])
    store = FileStore(root)
    found, _ = store.search_traces(["0"], max_results=50000)
    ids = {i.trace_id for i in found}
    assert {f"tr-{i:06d}" for i in range(acked + 1)} <= ids
    for info in found:  # every visible trace is whole: all its metadata, its tags
        assert len(info.trace_metadata) == 12 and info.tags["n"] == str(int(info.trace_id[3:]))
    for i in range(acked + 1):
        assert store.get_trace_info(f"tr-{i:06d}").tags["done"] == "yes"


def test_fast_readers_mean_what_the_slow_ones_mean() -> None:
    """trace_info.yaml's own writer/reader and request_time parser against PyYAML and the
    entity's parser, on random values full of YAML's special cases."""
    import datetime
    import random

    from tracklet_file._layout import dump_yaml
    from tracklet_file._traces import _utc_millis
    from tracklet_file._traceyaml import dump_trace_info, load_trace_info

    rng = random.Random(15)
    chars = list("aZ09 '\"\\/#:-.{}[],&*!|>%@`?\n\t\r\x00\x07\x1f\x7f\x85\xa0é\u2028\ufeff\ufffe") + ["😀"]
    words = [
        "yes",
        "no",
        "null",
        "~",
        "true",
        "1",
        "-1",
        "0x1f",
        "1e3",
        ".inf",
        "2026-12-06",
        "tr-abc",
        "OK",
        "",
    ]

    def value() -> object:
        roll = rng.random()
        if roll < 0.1:
            return None
        if roll < 0.2:
            return rng.randint(-(10**15), 10**15)
        if roll < 0.25:
            return rng.choice([True, 1.5, [1], {}])
        if roll < 0.45:
            return rng.choice(words)
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, 12)))

    keys = ["trace_id", "state", "request_preview", "response_preview", "request_time", "client_request_id"]
    for _ in range(2000):
        data: dict[str, object] = {k: value() for k in rng.sample(keys, rng.randint(1, len(keys)))}
        if rng.random() < 0.7:
            data["trace_location"] = {"type": value(), "mlflow_experiment": {"experiment_id": value()}}
        written = dump_trace_info(data)
        assert yaml.safe_load(written) == data
        assert load_trace_info(written) == data
        assert load_trace_info(dump_yaml(data)) == data

    base = {"trace_id": "tr-1", "trace_location": {"type": "MLFLOW_EXPERIMENT"}, "state": "OK"}
    for _ in range(500):
        moment = datetime.datetime.fromtimestamp(rng.randint(0, 4_102_444_800), datetime.timezone.utc)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 9)))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{digits}" if digits else "") + "Z"
        assert _utc_millis(text) == TraceInfo.from_dict({**base, "request_time": text}).request_time
