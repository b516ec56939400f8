"""The server never reads an artifact location a client chose (issue 12's SSRF).

Before, ``artifacts/list`` with ``--no-serve-artifacts`` built a repository for whatever
``artifact_location`` a client had given its experiment: an ``http(s)://`` or
``mlflow-artifacts://host:port`` URL was fetched with the server's own
``TRACKLET_TRACKING_TOKEN`` and the answer relayed, a ``file:`` location anywhere on the
server's disk was listed, and ``runs:/`` resolved through the server's tracking store.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet_http.server.locations import check_readable_location, is_within
from tracklet_http.testing import ServerProcess, raw_request

API = "/api/2.0/mlflow"
TOKEN = "server-secret-token-4711"


class Canary:
    """An HTTP server that records every request it gets and answers with a listing."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                canary.requests.append((self.path, dict(self.headers)))
                body = json.dumps(
                    {"files": [{"path": "stolen.txt", "is_dir": False, "file_size": 1}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def _post(server: ServerProcess, path: str, body: dict[str, Any]) -> Any:
    answer = raw_request(
        server.url, "POST", API + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    return answer


def _list(server: ServerProcess, run_id: str) -> Any:
    return raw_request(server.url, "GET", f"{API}/artifacts/list?run_id={run_id}")


def _run_in(server: ServerProcess, name: str, location: str) -> str:
    answer = _post(server, "/experiments/create", {"name": name, "artifact_location": location})
    assert answer.status == 200, answer.body
    experiment_id = answer.json["experiment_id"]
    answer = _post(server, "/runs/create", {"experiment_id": experiment_id})
    assert answer.status == 200, answer.body
    return str(answer.json["run"]["info"]["run_id"])


@pytest.mark.parametrize("serve_artifacts", [False, True], ids=["no-serve-artifacts", "serve-artifacts"])
def test_client_chosen_locations_are_never_read(
    start_tracklet_server: Any, tmp_path: Path, canary: Canary, serve_artifacts: bool
) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    extra = ["--default-artifact-root", str(root)] if not serve_artifacts else []
    server = start_tracklet_server(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        str(tmp_path / "dest"),
        *(["--no-serve-artifacts"] if not serve_artifacts else []),
        *extra,
        env={"TRACKLET_TRACKING_TOKEN": TOKEN, "MLFLOW_TRACKING_TOKEN": TOKEN},
    )
    hostile = {
        "http": f"http://127.0.0.1:{canary.port}/api/2.0/mlflow-artifacts/artifacts/x",
        "http-plain": f"http://127.0.0.1:{canary.port}/anything",
        "mlflow-artifacts-host": f"mlflow-artifacts://127.0.0.1:{canary.port}/x",
        "file-outside": outside.as_uri(),
        "path-outside": str(outside),
        "climbing": f"{root}/../outside",
    }
    for name, location in hostile.items():
        run_id = _run_in(server, name, location)
        answer = _list(server, run_id)
        if serve_artifacts and name in ("http", "mlflow-artifacts-host"):
            # proxied forms: only their path is used, under the proxy's own destination
            assert answer.status == 200, (name, answer.body)
            assert "stolen" not in answer.body.decode()
            continue
        assert answer.status == 400, (name, answer.status, answer.body)
        assert answer.json["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "never reads a location a client chose" in answer.json["message"]
        assert "secret.txt" not in answer.body.decode()
    assert canary.requests == []  # nothing fetched, no token sent anywhere


def test_locations_under_the_operators_root_are_listed(start_tracklet_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    server = start_tracklet_server(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        str(tmp_path / "dest"),
        "--no-serve-artifacts",
        "--default-artifact-root",
        str(root),
    )
    # the server's own default location
    answer = _post(server, "/runs/create", {"experiment_id": "0"})
    run_id = answer.json["run"]["info"]["run_id"]
    artifacts = Path(answer.json["run"]["info"]["artifact_uri"].replace("file://", ""))
    artifacts.mkdir(parents=True)
    (artifacts / "model.txt").write_text("ok")
    listed = _list(server, run_id)
    assert listed.status == 200 and listed.json["files"][0]["path"] == "model.txt"
    # a client-chosen location that is still under the operator's root
    custom = root / "team-a"
    run_id = _run_in(server, "team-a", str(custom))
    (custom / run_id / "artifacts").mkdir(parents=True)
    (custom / run_id / "artifacts" / "f.txt").write_text("x")
    listed = _list(server, run_id)
    assert listed.status == 200 and listed.json["files"][0]["path"] == "f.txt"


def test_runs_uri_locations_are_refused(start_tracklet_server: Any, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    server = start_tracklet_server(
        f"sqlite:///{db}",
        str(tmp_path / "dest"),
        "--no-serve-artifacts",
        "--default-artifact-root",
        str(tmp_path / "root"),
    )
    # through the API: refused at creation, as MLflow does
    answer = _post(server, "/experiments/create", {"name": "r", "artifact_location": "runs:/abc/artifacts"})
    assert answer.status == 400 and "cannot be a runs:/ URI" in answer.json["message"]
    # written straight into the database (an old database, another tool; the store itself
    # refuses it now): never resolved
    store = get_tracking_store(f"sqlite:///{db}", str(tmp_path / "root"))
    try:
        victim = store.create_run("0", "u", 1, [], None)
        experiment_id = store.create_experiment("direct")
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                (f"runs:/{victim.info.run_id}", int(experiment_id)),
            )
        run = store.create_run(experiment_id, "u", 1, [], None)
    finally:
        store.close()
    assert run.info.artifact_uri.startswith("runs:/")
    answer = _list(server, run.info.run_id)
    assert answer.status == 400 and answer.json["error_code"] == "INVALID_PARAMETER_VALUE"


def test_client_refuses_runs_uri_location(tmp_path: Path) -> None:
    import tracklet

    client = tracklet.MlflowClient(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(TrackletException, match="cannot be a runs:/ URI") as info:
        client.create_experiment("e", artifact_location="runs:/abc/x")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_experiment_by_name("e") is None


@pytest.mark.parametrize(
    ("location", "root", "inside"),
    [
        ("s3://bucket/root/1/abc/artifacts", "s3://bucket/root", True),
        ("s3://bucket/root", "s3://bucket/root/", True),
        ("s3://bucket/rootless/x", "s3://bucket/root", False),
        ("s3://other/root/x", "s3://bucket/root", False),
        ("s3://bucket/root/../x", "s3://bucket/root", False),
        ("s3://bucket/root/%2e%2e/x", "s3://bucket/root", False),
        ("s3://bucket/root/%252e%252e/x", "s3://bucket/root", True),  # one decoding is what S3 does
        ("gs://bucket/root/x", "s3://bucket/root", False),
        ("https://h/p/x?u=http://evil", "https://h/p", False),
        ("https://h:1/p/x", "https://h/p", False),
        ("https://H/p/x", "https://h/p", True),
        ("runs:/abc/x", "runs:/abc", False),
        ("mlflow-artifacts:/0/x", "mlflow-artifacts:/", False),
        ("", "s3://bucket", False),
    ],
)
def test_is_within(location: str, root: str, inside: bool) -> None:
    assert is_within(location, root) is inside


def test_is_within_local_paths_follow_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    assert is_within(str(root / "sub"), str(root))
    assert is_within((root / "sub").as_uri(), str(root))
    assert not is_within(str(root / "link"), str(root))
    assert not is_within(str(tmp_path / "rootx"), str(root))
    assert not is_within("s3://b/x", str(root))
    with pytest.raises(TrackletException, match="outside the artifact roots"):
        check_readable_location(str(outside), (str(root),))
