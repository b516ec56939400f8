"""``tracklet server --mlflow-ui``: MLflow's own web UI bundle, from the installed mlflow
package, served by a real ``tracklet server`` subprocess as MLflow's server serves it, and
the calls that UI makes on every page answered as MLflow 3.17.2 answers them.

(Driving MLflow's UI in a browser against this server is the browser suite's job,
``tests/ui``; the list of requests it makes is in ``plugins/http/README.md``.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracklet import plugins
from tracklet_http.server.cli import server as server_command
from tracklet_http.server.mlflow_ui_api import store_type
from tracklet_http.testing import ServerProcess, raw_request

#: The keys MLflow 3.17.2's server-info answers with (mlflow.server.handlers).
MLFLOW_SERVER_INFO_KEYS = {
    "store_type",
    "workspaces_enabled",
    "trace_archival_enabled",
    "multipart_uploads_enabled",
    "multipart_downloads_enabled",
    "presigned_upload_run_id_supported",
    "presigned_upload_model_id_supported",
    "features_enabled",
}


def _bundle() -> Path:
    spec = importlib.util.find_spec("mlflow")
    assert spec is not None and spec.submodule_search_locations, "these tests need mlflow installed"
    return Path(list(spec.submodule_search_locations)[0]) / "server" / "js" / "build"


@pytest.fixture(scope="module")
def mlflow_ui_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tracklet_http.testing import launch_tracklet_server

    server = launch_tracklet_server(tmp_path_factory.mktemp("mlflow-ui"), None, None, "--mlflow-ui")
    yield server
    server.stop()


def _get(server: ServerProcess, target: str, method: str = "GET", **headers: str) -> Any:
    return raw_request(server.url, method, target, headers=headers)


def test_root_is_mlflow_s_index_page_without_a_csp(mlflow_ui_server: ServerProcess) -> None:
    answer = _get(mlflow_ui_server, "/")
    assert answer.status == 200
    assert answer.body == (_bundle() / "index.html").read_bytes()
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    # MLflow's bundle runs inline code: MLflow sends no CSP, and neither do we for it
    assert "content-security-policy" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert _get(mlflow_ui_server, "/", "HEAD").status == 200


def test_the_bundle_s_scripts_and_styles_are_served_from_static_files(
    mlflow_ui_server: ServerProcess,
) -> None:
    index = (_bundle() / "index.html").read_text()
    loaded = re.findall(r'(?:src|href)="\.?/?(static-files/[^"]+)"', index)
    assert any(path.endswith(".js") for path in loaded) and any(path.endswith(".css") for path in loaded)
    for path in loaded:
        answer = _get(mlflow_ui_server, "/" + path)
        assert answer.status == 200, path
        assert answer.body == (_bundle() / path.removeprefix("static-files/")).read_bytes()
        assert answer.headers["cache-control"] == "public, max-age=2419200"  # MLflow's 28 days
        if path.endswith(".js"):
            assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
        if path.endswith(".css"):
            assert answer.headers["content-type"] == "text/css; charset=utf-8"
        etag = answer.headers["etag"]
        assert _get(mlflow_ui_server, "/" + path, **{"If-None-Match": etag}).status == 304


@pytest.mark.parametrize(
    "target",
    ["/static-files/../__init__.py", "/static-files/%2e%2e/%2e%2e/__init__.py", "/static-files/nope.js"],
)
def test_nothing_outside_the_bundle(mlflow_ui_server: ServerProcess, target: str) -> None:
    answer = _get(mlflow_ui_server, target)
    assert answer.status == 404
    assert b"import" not in answer.body


def test_tracklet_s_own_ui_stays_at_ui(mlflow_ui_server: ServerProcess) -> None:
    ours = [a for a in plugins.server_assets() if a.root]
    if not ours:
        pytest.skip("no plugin with root assets (tracklet-ui) is installed")
    answer = _get(mlflow_ui_server, ours[0].prefix + "/")
    assert answer.status == 200
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.body != (_bundle() / "index.html").read_bytes()


@pytest.mark.parametrize("prefix", ["/ajax-api/3.0/mlflow", "/api/3.0/mlflow"])
def test_server_info_answers_mlflow_s_keys(mlflow_ui_server: ServerProcess, prefix: str) -> None:
    answer = _get(mlflow_ui_server, prefix + "/server-info")
    assert answer.status == 200
    info = json.loads(answer.body)
    assert set(info) == MLFLOW_SERVER_INFO_KEYS
    assert info["store_type"] == "SqlStore"
    assert info["workspaces_enabled"] is False
    assert info["features_enabled"] == {"gateway": False}


@pytest.mark.parametrize("prefix", ["/ajax-api/3.0/mlflow", "/api/3.0/mlflow"])
def test_evaluation_dataset_search_is_an_empty_page(mlflow_ui_server: ServerProcess, prefix: str) -> None:
    body = json.dumps(
        {"experiment_ids": ["0"], "order_by": ["created_time DESC"], "max_results": 50}
    ).encode()
    answer = raw_request(
        mlflow_ui_server.url,
        "POST",
        prefix + "/datasets/search",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert json.loads(answer.body) == {}


def test_store_type_by_backend() -> None:
    assert store_type("sqlite:///x.db") == "SqlStore"
    assert store_type("postgresql+psycopg://u@h/db") == "SqlStore"
    assert store_type("mysql://u@h/db") == "SqlStore"
    assert store_type("/srv/mlruns") == "FileStore"
    assert store_type("file:///srv/mlruns") == "FileStore"
    assert store_type("memory:") is None


# -- start-up errors ---------------------------------------------------------------------------


def _start(tmp_path: Path) -> Any:
    return CliRunner().invoke(
        server_command,
        ["--backend-store-uri", f"sqlite:///{tmp_path / 'never.db'}", "--port", "1", "--mlflow-ui"],
        catch_exceptions=False,
    )


def test_without_mlflow_installed_the_flag_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # Python's own "not importable" marker
    result = _start(tmp_path)
    assert result.exit_code != 0
    assert "pip install mlflow" in result.output
    assert not (tmp_path / "never.db").exists()  # refused before anything was opened


def test_an_mlflow_without_a_built_ui_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "site" / "mlflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    monkeypatch.delitem(sys.modules, "mlflow", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    result = _start(tmp_path)
    assert result.exit_code != 0
    assert "has no built web UI" in result.output and str(fake) in result.output
    assert os.environ.get("TRACKLET_SERVER_MLFLOW_UI") is None
    assert "mlflow" not in sys.modules
