"""``tracklet ui``: its help, the error without a server, and what it hands the server."""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner

from tracklet.cli import build_cli
from tracklet_ui.cli import NEEDS_SERVER, ui


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(build_cli(), ["ui", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--backend-store-uri", "--default-artifact-root", "--host", "--port", "--mlflow-ui"):
        assert option in result.output
    assert "[default: 127.0.0.1]" in result.output and "5000" in result.output


def _root_with(*commands: click.Command) -> click.Group:
    group = click.Group("tracklet")
    for command in (ui, *commands):
        group.add_command(command)
    return group


def test_without_the_server_command_it_says_what_to_install() -> None:
    result = CliRunner().invoke(_root_with(), ["ui"])
    assert result.exit_code == 1
    assert NEEDS_SERVER in result.output
    assert "pip install './plugins/http[server]'" in result.output


def _recording_server(calls: list[dict[str, Any]], with_mlflow_ui: bool) -> click.Command:
    options = [
        click.Option(["--backend-store-uri"]),
        click.Option(["--default-artifact-root"]),
        click.Option(["--host"], default="127.0.0.1"),
        click.Option(["--port"], type=int, default=5000),
        click.Option(["--workers"], type=int, default=1),
    ]
    if with_mlflow_ui:
        options.append(click.Option(["--mlflow-ui"], is_flag=True))
    return click.Command("server", params=options, callback=lambda **kw: calls.append(kw))


def test_it_invokes_the_server_with_its_options_and_prints_the_address() -> None:
    calls: list[dict[str, Any]] = []
    root = _root_with(_recording_server(calls, with_mlflow_ui=True))
    result = CliRunner().invoke(
        root, ["ui", "--port", "5123", "--backend-store-uri", "sqlite:///x.db", "--mlflow-ui"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "backend_store_uri": "sqlite:///x.db",
            "default_artifact_root": None,
            "host": "127.0.0.1",
            "port": 5123,
            "workers": 1,
            "mlflow_ui": True,
        }
    ]
    assert "http://127.0.0.1:5123/" in result.output


def test_defaults_leave_the_store_to_the_server() -> None:
    calls: list[dict[str, Any]] = []
    result = CliRunner().invoke(_root_with(_recording_server(calls, with_mlflow_ui=False)), ["ui"])
    assert result.exit_code == 0, result.output
    assert calls[0]["backend_store_uri"] is None and calls[0]["port"] == 5000


def test_mlflow_ui_with_a_server_that_lacks_it_is_a_usage_error() -> None:
    calls: list[dict[str, Any]] = []
    result = CliRunner().invoke(
        _root_with(_recording_server(calls, with_mlflow_ui=False)), ["ui", "--mlflow-ui"]
    )
    assert result.exit_code == 2
    assert "no --mlflow-ui option" in result.output
    assert calls == []
