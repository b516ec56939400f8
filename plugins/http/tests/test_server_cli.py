"""The ``tracklet server`` command: its option parsing, the open-to-the-network warning,
the missing-extra message, and a real ``--workers 2`` server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import pytest

from tracklet.cli import CliState
from tracklet_http.server import cli
from tracklet_http.testing import ServerProcess

API = "/api/2.0/mlflow"


@pytest.mark.parametrize(
    "text, size",
    [
        ("1024", 1024),
        ("512K", 512 * 1024),
        ("32M", 32 * 1024**2),
        ("32mb", 32 * 1024**2),
        ("1GiB", 1024**3),
        (" 7 b ", 7),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert cli.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1", "1.5M", "ten", "5X"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a size"):
        cli.parse_size(text)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts_get_no_warning(host: str) -> None:
    assert cli.is_loopback_host(host)
    assert cli.exposure_warning(host, auth=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "tracking.example.com"])
def test_reachable_hosts_without_auth_get_the_warning(host: str) -> None:
    assert not cli.is_loopback_host(host)
    warning = cli.exposure_warning(host, auth=False)
    assert warning is not None and warning.startswith("WARNING")
    assert "anyone who can reach this port can read and write" in warning
    assert cli.exposure_warning(host, auth=True) is None


def _default_backend(tracking_uri: str | None) -> str:
    ctx = click.Context(cli.server, obj=CliState(tracking_uri=tracking_uri))
    return cli._default_backend_uri(ctx)


def test_default_backend_is_the_tracking_uri_unless_it_is_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _default_backend("sqlite:///somewhere.db") == "sqlite:///somewhere.db"
    from tracklet import plugins

    fallback = plugins.default_tracking_uri()
    assert _default_backend("http://other-server:5000") == fallback
    monkeypatch.setenv("TRACKLET_TRACKING_URI", "postgresql://db/x")
    assert _default_backend(None) == "postgresql://db/x"


def test_missing_server_extra_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from tracklet.cli import main\n"
        "main(['server', '--backend-store-uri', 'sqlite:///x.db'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode != 0
    assert "pip install 'tracklet-http[server]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


def _call(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


@pytest.mark.slow
def test_two_workers_serve_one_database(start_tracklet_server: Any) -> None:
    server: ServerProcess = start_tracklet_server(
        None, None, "--workers", "2", "--max-body-size", "2K", "--no-serve-artifacts"
    )
    names = [f"w{i}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: _call(server.url, "POST", API + "/experiments/create", {"name": n}), names)
        )
    assert all(status == 200 for status, _ in results), results
    ids = {body["experiment_id"] for _, body in results}
    assert len(ids) == len(names)
    status, found = _call(server.url, "POST", API + "/experiments/search", {"filter": "name LIKE 'w%'"})
    assert status == 200 and {e["name"] for e in found["experiments"]} == set(names)
    # --no-serve-artifacts: new experiments keep artifacts in a local folder, not behind the proxy
    assert not found["experiments"][0]["artifact_location"].startswith("mlflow-artifacts:")

    status, body = _call(server.url, "POST", API + "/experiments/create", {"name": "x" * 3000})
    assert status == 400 and body["error_code"] == "BAD_REQUEST" and "2048" in body["message"]

    # /health answers once one worker is up; the second may still be starting
    deadline = time.monotonic() + 60
    while server.output().count("Started server process") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    output = server.output()
    assert output.count("Started server process") == 2
    # the metrics of both workers add up (prometheus multiprocess mode)
    status, text = _call(server.url, "GET", "/metrics")
    assert status == 200
    line = next(
        x
        for x in text.splitlines()
        if x.startswith('tracklet_http_requests_total{endpoint="create_experiment",status="200"}')
    )
    assert float(line.split()[-1]) == len(names)
