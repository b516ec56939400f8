"""MLflow's own client (from PyPI, in a subprocess) logs, lists and downloads artifacts
through a ``tracklet server``; what it wrote is what tracklet's repository reads, and
the other way round."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tracklet_http.artifacts import HttpArtifactRepository
from tracklet_http.testing import ServerProcess

pytestmark = pytest.mark.interop


def run_mlflow(script: str, server: ServerProcess, tmp_path: pathlib.Path, **env: str) -> dict[str, Any]:
    """Run ``script`` with the real mlflow client against ``server``; it prints one JSON line."""
    full_env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PYTHONWARNINGS": "ignore",
        "WORK": str(tmp_path),
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


LOG_AND_READ = """
    import json, os, pathlib
    import mlflow
    from mlflow import MlflowClient

    work = pathlib.Path(os.environ["WORK"])
    src = work / "src"
    (src / "tree" / "deeper").mkdir(parents=True)
    (src / "hello.txt").write_text("hello")
    (src / "tree" / "one.bin").write_bytes(bytes(range(256)) * 40)
    (src / "tree" / "deeper" / "two.txt").write_text("two")
    big = work / "big.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024))

    mlflow.set_experiment("artifacts-interop")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src / "hello.txt"))
        mlflow.log_artifact(str(src / "hello.txt"), "sub/dir")
        mlflow.log_artifacts(str(src / "tree"), "tree")
        mlflow.log_artifact(str(big), "big")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "cfg/d.json")
        mlflow.log_text("some text", "notes/t.txt")
    client = MlflowClient()
    run_id = run.info.run_id

    def listing(path=None):
        return [[f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run_id, path)]

    dst = work / "dl"
    root = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(dst))
    files = {}
    for p in sorted(pathlib.Path(root).rglob("*")):
        if p.is_file():
            files[p.relative_to(root).as_posix()] = p.stat().st_size
    one = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree/deeper/two.txt",
                                              dst_path=str(work / "one"))
    print(json.dumps({
        "run_id": run_id,
        "artifact_uri": run.info.artifact_uri,
        "root": listing(),
        "tree": listing("tree"),
        "file_listing": listing("hello.txt"),
        "files": files,
        "big_same": (pathlib.Path(root) / "big" / "big.bin").read_bytes() == big.read_bytes(),
        "dict": mlflow.artifacts.load_dict(run.info.artifact_uri + "/cfg/d.json"),
        "text": mlflow.artifacts.load_text(run.info.artifact_uri + "/notes/t.txt"),
        "one": pathlib.Path(one).read_text(),
    }))
"""


def test_mlflow_client_logs_lists_and_downloads(
    tracklet_server: ServerProcess, tmp_path: pathlib.Path
) -> None:
    out = run_mlflow(LOG_AND_READ, tracklet_server, tmp_path)
    assert out["artifact_uri"].startswith("mlflow-artifacts:/") and out["artifact_uri"].endswith("/artifacts")
    assert out["root"] == [
        ["big", True, None],
        ["cfg", True, None],
        ["hello.txt", False, 5],
        ["notes", True, None],
        ["sub", True, None],
        ["tree", True, None],
    ]
    assert out["tree"] == [["tree/deeper", True, None], ["tree/one.bin", False, 10240]]
    assert out["file_listing"] == []
    sizes = dict(out["files"])
    assert sizes.pop("cfg/d.json") > 0
    assert sizes == {
        "big/big.bin": 5 * 1024 * 1024,
        "hello.txt": 5,
        "notes/t.txt": 9,
        "sub/dir/hello.txt": 5,
        "tree/deeper/two.txt": 3,
        "tree/one.bin": 10240,
    }
    assert out["big_same"] is True
    assert out["dict"] == {"a": 1, "b": [1, 2]}
    assert out["text"] == "some text"
    assert out["one"] == "two"

    # tracklet's repository reads the same run folder through the same proxy
    repo = HttpArtifactRepository(out["artifact_uri"], tracklet_server.url)
    assert [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("tree")] == [
        ("tree/deeper", True, None),
        ("tree/one.bin", False, 10240),
    ]
    got = repo.download_artifacts("cfg/d.json", str(tmp_path / "ours"))
    assert json.loads(pathlib.Path(got).read_text()) == {"a": 1, "b": [1, 2]}


READ_WHAT_TRACKLET_WROTE = """
    import json, os
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    run_id = os.environ["RUN_ID"]
    dst = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=os.path.join(os.environ["WORK"], "m"))
    files = {}
    for folder, _, names in os.walk(dst):
        for name in names:
            path = os.path.join(folder, name)
            files[os.path.relpath(path, dst)] = open(path, "rb").read().decode()
    print(json.dumps({"files": files, "listing": [f.path for f in client.list_artifacts(run_id, "a")]}))
"""


def test_mlflow_client_reads_what_tracklet_wrote(
    tracklet_server: ServerProcess, tmp_path: pathlib.Path
) -> None:
    made = run_mlflow(
        """
        import json, mlflow
        with mlflow.start_run() as run:
            pass
        print(json.dumps({"run_id": run.info.run_id, "uri": run.info.artifact_uri}))
        """,
        tracklet_server,
        tmp_path,
    )
    repo = HttpArtifactRepository(made["uri"], tracklet_server.url)
    (tmp_path / "src" / "b").mkdir(parents=True)
    (tmp_path / "src" / "x.txt").write_text("ex")
    (tmp_path / "src" / "b" / "y.txt").write_text("why")
    repo.log_artifacts(str(tmp_path / "src"), "a")
    out = run_mlflow(READ_WHAT_TRACKLET_WROTE, tracklet_server, tmp_path, RUN_ID=made["run_id"])
    assert out["files"] == {"a/x.txt": "ex", "a/b/y.txt": "why"}
    assert out["listing"] == ["a/b", "a/x.txt"]


MULTIPART_FORCED = """
    import json, os, pathlib, logging
    import mlflow

    logging.disable(logging.WARNING)
    work = pathlib.Path(os.environ["WORK"])
    big = work / "m.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big))
    got = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="m.bin", dst_path=str(work / "d")
    )
    print(json.dumps({"same": pathlib.Path(got).read_bytes() == big.read_bytes()}))
"""


def test_mlflow_client_forced_to_multipart_falls_back(
    tracklet_server: ServerProcess, tmp_path: pathlib.Path
) -> None:
    out = run_mlflow(
        MULTIPART_FORCED,
        tracklet_server,
        tmp_path,
        MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true",
        MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE="1024",
        MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD="true",
    )
    assert out == {"same": True}
