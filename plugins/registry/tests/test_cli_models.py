"""``tracklet models``: list, describe, versions, alias, transition, download — through the
``tracklet`` CLI the plugin extends (click's runner), on the file store and sqlite."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tracklet
from tracklet.cli import build_cli

Cli = Callable[..., Result]


def _runner() -> CliRunner:
    try:  # click 8.1 mixes stderr into output unless told otherwise; 8.2+ keeps both
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


@pytest.fixture(params=["file", "sqlite"])
def uri(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for variable in (
        "TRACKLET_REGISTRY_URI",
        "MLFLOW_REGISTRY_URI",
        "TRACKLET_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(variable, raising=False)
    return str(tmp_path / "mlruns") if request.param == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def cli(uri: str) -> Cli:
    """``cli("models", "list", ...)`` against the test's own store."""
    return lambda *args: _runner().invoke(build_cli(), ["--tracking-uri", uri, *args], catch_exceptions=False)


@pytest.fixture
def client(uri: str) -> tracklet.MlflowClient:
    """A client on the store with model ``fraud`` (tagged, described): versions 1 and 2,
    alias ``champion`` on 1; and model ``other`` without versions."""
    client = tracklet.MlflowClient(uri)
    client.create_registered_model("fraud", {"team": "risk"}, "catches fraud")
    for number in (1, 2):
        run = client.create_run("0")
        client.log_text(run.info.run_id, f"weights {number}", "model/weights.txt")
        client.create_model_version("fraud", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("fraud", "champion", "1")
    client.create_registered_model("other")
    return client


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_models_is_a_command_of_tracklet(cli: Cli) -> None:
    result = cli("models", "--help")
    assert result.exit_code == 0
    for command in ("list", "describe", "versions", "alias", "transition", "download"):
        assert command in result.stdout


def test_list(cli: Cli, client: tracklet.MlflowClient) -> None:
    table = cli("models", "list")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "Name" in lines[1] and "Latest version" in lines[1]
    row = next(line for line in lines if "fraud" in line)
    assert "champion: 1" in row and "catches fraud" in row
    listed = _json(cli("models", "list", "--json"))
    assert sorted(m["name"] for m in listed) == ["fraud", "other"]
    assert _json(cli("models", "list", "--json", "--filter", "name LIKE 'fr%'"))[0]["name"] == "fraud"
    assert len(_json(cli("models", "list", "--json", "--max-results", "1"))) == 1


def test_list_empty(cli: Cli) -> None:
    result = cli("models", "list")
    assert (result.exit_code, result.stdout) == (0, "No registered models.\n")


def test_describe(cli: Cli, client: tracklet.MlflowClient) -> None:
    result = cli("models", "describe", "fraud")
    assert result.exit_code == 0, result.output
    assert "Registered model fraud" in result.stdout
    assert "team=risk" in result.stdout and "champion -> 1" in result.stdout
    assert "Versions" in result.stdout
    described = _json(cli("models", "describe", "fraud", "--json"))
    assert described["registered_model"]["name"] == "fraud"
    assert [str(v["version"]) for v in described["model_versions"]] == ["2", "1"]
    assert cli("models", "describe", "other").stdout.endswith("No versions.\n")


def test_describe_unknown_model_is_one_line(cli: Cli, client: tracklet.MlflowClient) -> None:
    result = cli("models", "describe", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Registered Model with name=nope not found.")
    assert "Traceback" not in result.stderr


def test_versions(cli: Cli, client: tracklet.MlflowClient) -> None:
    listed = _json(cli("models", "versions", "fraud", "--json", "--order-by", "version_number ASC"))
    assert [str(v["version"]) for v in listed] == ["1", "2"]
    run_id = client.get_model_version("fraud", "2").run_id
    by_run = _json(cli("models", "versions", "--filter", f"run_id = '{run_id}'", "--json"))
    assert [str(v["version"]) for v in by_run] == ["2"]
    table = cli("models", "versions", "fraud")
    assert "champion" in table.stdout and "READY" in table.stdout
    assert cli("models", "versions", "other").stdout == "No model versions.\n"
    usage = cli("models", "versions")
    assert usage.exit_code == 2 and "Give a model NAME or --filter" in usage.stderr


def test_alias(cli: Cli, client: tracklet.MlflowClient) -> None:
    result = cli("models", "alias", "set", "fraud", "challenger", "2")
    assert result.stdout == "Alias 'challenger' of model 'fraud' now points at version 2.\n"
    assert str(_json(cli("models", "alias", "show", "fraud", "challenger", "--json"))["version"]) == "2"
    assert cli("models", "alias", "delete", "fraud", "challenger").exit_code == 0
    assert {a: str(v) for a, v in client.get_registered_model("fraud").aliases.items()} == {"champion": "1"}


def test_transition(cli: Cli, client: tracklet.MlflowClient) -> None:
    result = cli("models", "transition", "fraud", "1", "production")
    assert result.stdout == "Model 'fraud' version 1 is now in stage Production.\n"
    assert "FutureWarning" not in result.stderr
    moved = _json(
        cli("models", "transition", "fraud", "2", "Production", "--archive-existing-versions", "--json")
    )
    assert moved["current_stage"] == "Production"
    assert client.get_model_version("fraud", "1").current_stage == "Archived"


def test_download(cli: Cli, client: tracklet.MlflowClient, tmp_path: Path) -> None:
    result = cli("models", "download", "models:/fraud@champion", "--dst-path", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip(), "weights.txt").read_text() == "weights 1"
    latest = cli("models", "download", "fraud", "--dst-path", str(tmp_path / "e"))  # a bare name: latest
    assert Path(latest.stdout.strip(), "weights.txt").read_text() == "weights 2"
    one_file = cli("models", "download", "models:/fraud/1/weights.txt", "--dst-path", str(tmp_path / "f"))
    assert Path(one_file.stdout.strip()).read_text() == "weights 1"
    bad = cli("models", "download", "models:/fraud/1/x/y/../z", "--dst-path", str(tmp_path / "g"))
    assert bad.exit_code == 1


def test_registry_uri_option(cli: Cli, client: tracklet.MlflowClient, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("models", "--registry-uri", other, "list").stdout == "No registered models.\n"


def test_as_a_real_process(uri: str, client: tracklet.MlflowClient) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tracklet", "--tracking-uri", uri, "models", "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(m["name"] for m in json.loads(done.stdout)) == ["fraud", "other"]
