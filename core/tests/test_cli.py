"""The ``tracklet`` command line, driven through click's runner and as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import tracklet
from tracklet import plugins
from tracklet.cli import build_cli
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException

# -- helpers ------------------------------------------------------------------------------


def _runner() -> CliRunner:
    try:  # click 8.1 mixes stderr into output unless told otherwise; 8.2+ keeps both
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Invoke a freshly built CLI (so plugins registered by the test are included)."""
    return _runner().invoke(build_cli(), list(args), env=env, catch_exceptions=False)


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return str(tmp_path / "mlruns")


Cli = Callable[..., Result]


@pytest.fixture
def cli(uri: str) -> Cli:
    """``cli("runs", "list", ...)`` against the test's own tracking folder."""
    return lambda *args: run_cli("--tracking-uri", uri, *args)


@pytest.fixture
def client(uri: str) -> tracklet.MlflowClient:
    return tracklet.MlflowClient(tracking_uri=uri)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _user_error(result: Result) -> str:
    """Assert the result is a clean user error; return stderr."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
    return result.stderr


# -- the group itself ---------------------------------------------------------------------


def test_help_lists_every_builtin_command() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in ("experiments", "runs", "artifacts", "plugins", "--tracking-uri", "TRACKLET_TRACKING_URI"):
        assert name in result.stdout


def test_version_is_the_package_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tracklet, version {tracklet.__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("no-such-command")
    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_unserved_scheme_names_what_to_install(without_the_https_plugin: None) -> None:
    stderr = _user_error(run_cli("--tracking-uri", "https://tracking.example.com", "experiments", "list"))
    assert "pip install tracklet-http" in stderr


def test_plugins_shows_the_file_plugin_and_plain_paths() -> None:
    result = run_cli("plugins")
    assert result.exit_code == 0
    assert "tracklet-file" in result.stdout
    assert "tracking: (path), file" in result.stdout
    listed = _json(run_cli("plugins", "--json"))
    assert isinstance(listed, list)
    file_plugin = next(p for p in listed if p["distribution"] == "tracklet-file")
    assert file_plugin["version"]
    path_scheme = {
        "kind": "tracking",
        "scheme": "",
        "target": "tracklet_file.store:FileStore",
        "override": False,
    }
    assert path_scheme in file_plugin["schemes"]


# -- experiments --------------------------------------------------------------------------


def test_experiment_create_rename_delete_restore(cli: Cli, client: tracklet.MlflowClient) -> None:
    created = cli("experiments", "create", "cats", "--artifact-location", "/tmp/cats-artifacts")
    assert created.exit_code == 0, created.output
    experiment = client.get_experiment_by_name("cats")
    assert experiment is not None
    assert created.stdout.strip() == f"Created experiment 'cats' with id {experiment.experiment_id}"
    assert experiment.artifact_location.endswith("cats-artifacts")
    eid = experiment.experiment_id

    assert cli("experiments", "rename", eid, "dogs").exit_code == 0
    assert client.get_experiment(eid).name == "dogs"

    assert cli("experiments", "delete", eid).exit_code == 0
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    active = {e["name"] for e in _json(cli("experiments", "list", "--json"))}
    deleted = {e["name"] for e in _json(cli("experiments", "list", "--view", "deleted_only", "--json"))}
    assert "dogs" not in active and "dogs" in deleted

    assert cli("experiments", "restore", eid).exit_code == 0
    assert client.get_experiment(eid).lifecycle_stage == "active"


def test_experiment_list_table_shows_ids_and_names(cli: Cli, client: tracklet.MlflowClient) -> None:
    eid = client.create_experiment("[bold]not markup[/bold]")
    result = cli("experiments", "list", "--view", "ALL")
    assert result.exit_code == 0, result.output
    # rich markup in a name is printed as typed, not interpreted
    assert "[bold]not markup[/bold]" in result.stdout
    assert eid in result.stdout


def test_duplicate_experiment_is_an_error_without_traceback(cli: Cli) -> None:
    assert cli("experiments", "create", "twice").exit_code == 0
    stderr = _user_error(cli("experiments", "create", "twice"))
    assert "twice" in stderr


def test_bad_view_is_a_usage_error(cli: Cli) -> None:
    result = cli("experiments", "list", "--view", "sometimes")
    assert result.exit_code == 2
    assert "active_only" in result.stderr


# -- runs ---------------------------------------------------------------------------------


@pytest.fixture
def two_runs(client: tracklet.MlflowClient) -> tuple[str, str, str]:
    """An experiment with a good run (acc 0.9) and a bad one (acc 0.1); returns ids."""
    eid = client.create_experiment("runs-exp")
    ids = []
    for name, acc in (("good", 0.9), ("bad", 0.1)):
        run = client.create_run(eid, run_name=name, tags={"team": "vision"})
        client.log_param(run.info.run_id, "lr", "0.01")
        client.log_metric(run.info.run_id, "acc", acc, step=3)
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return eid, ids[0], ids[1]


def test_runs_list_table_and_json(cli: Cli, two_runs: tuple[str, str, str]) -> None:
    eid, good, bad = two_runs
    table = cli("runs", "list", "--experiment-id", eid)
    assert table.exit_code == 0, table.output
    assert good in table.stdout and bad in table.stdout and "FINISHED" in table.stdout
    listed = _json(cli("runs", "list", "--experiment-id", eid, "--json"))
    assert {r["info"]["run_id"] for r in listed} == {good, bad}


def test_runs_list_filter_order_and_max_results(cli: Cli, two_runs: tuple[str, str, str]) -> None:
    eid, good, bad = two_runs

    def ids(*extra: str) -> list[str]:
        return [
            r["info"]["run_id"] for r in _json(cli("runs", "list", "--experiment-id", eid, "--json", *extra))
        ]

    assert ids("--filter", "metrics.acc > 0.5") == [good]
    assert ids("--order-by", "metrics.acc ASC") == [bad, good]
    assert ids("--order-by", "metrics.acc DESC", "--max-results", "1") == [good]


def test_runs_list_rejects_a_bad_filter(cli: Cli, two_runs: tuple[str, str, str]) -> None:
    eid, _, _ = two_runs
    _user_error(cli("runs", "list", "--experiment-id", eid, "--filter", "metrics.acc >>> nonsense"))


def test_runs_list_needs_an_experiment(cli: Cli) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 2
    assert "--experiment-id" in result.stderr


def test_runs_describe_shows_params_metrics_tags(cli: Cli, two_runs: tuple[str, str, str]) -> None:
    _, good, _ = two_runs
    result = cli("runs", "describe", good)
    assert result.exit_code == 0, result.output
    for text in (good, "good", "FINISHED", "lr", "0.01", "acc", "0.9", "team", "vision"):
        assert text in result.stdout
    described = _json(cli("runs", "describe", good, "--json"))
    assert described["info"]["run_id"] == good
    assert described["data"]["params"] == {"lr": "0.01"}
    assert described["data"]["metrics"] == {"acc": 0.9}
    assert described["data"]["tags"]["team"] == "vision"


def test_runs_describe_unknown_run_is_a_user_error(cli: Cli, client: tracklet.MlflowClient) -> None:
    with pytest.raises(TrackletException) as raised:  # what the client says, the CLI repeats
        client.get_run("0" * 32)
    assert raised.value.error_code == RESOURCE_DOES_NOT_EXIST
    stderr = _user_error(cli("runs", "describe", "0" * 32))
    assert stderr.startswith(f"Error: {raised.value.message}. Check the id or name: ")


def test_runs_delete_and_restore(
    cli: Cli, client: tracklet.MlflowClient, two_runs: tuple[str, str, str]
) -> None:
    eid, good, _ = two_runs
    assert cli("runs", "delete", good).exit_code == 0
    assert client.get_run(good).info.lifecycle_stage == "deleted"
    active = [r["info"]["run_id"] for r in _json(cli("runs", "list", "--experiment-id", eid, "--json"))]
    deleted = [
        r["info"]["run_id"]
        for r in _json(cli("runs", "list", "--experiment-id", eid, "--view", "deleted_only", "--json"))
    ]
    assert good not in active and deleted == [good]
    assert cli("runs", "restore", good).exit_code == 0
    assert client.get_run(good).info.lifecycle_stage == "active"


# -- artifacts ----------------------------------------------------------------------------


@pytest.fixture
def run_id(client: tracklet.MlflowClient) -> str:
    return client.create_run(client.create_experiment("art")).info.run_id


def test_artifacts_log_list_download(cli: Cli, run_id: str, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("bb")

    assert cli("artifacts", "log", "--run-id", run_id, "--local-file", str(note)).exit_code == 0
    logged = cli(
        "artifacts", "log-dir", "--run-id", run_id, "--local-dir", str(folder), "--artifact-path", "data"
    )
    assert logged.exit_code == 0, logged.output

    root = _json(cli("artifacts", "list", "--run-id", run_id, "--json"))
    assert {(f["path"], f["is_dir"]) for f in root} == {("note.txt", False), ("data", True)}
    table = cli("artifacts", "list", "--run-id", run_id, "--artifact-path", "data")
    assert "data/a.txt" in table.stdout and "data/sub" in table.stdout

    dst = tmp_path / "downloaded"
    got = cli("artifacts", "download", "--run-id", run_id, "--artifact-path", "data", "--dst-path", str(dst))
    assert got.exit_code == 0, got.output
    local = Path(got.stdout.strip())
    assert local.parent == dst
    assert (local / "sub" / "b.txt").read_text() == "bb"


def test_artifacts_download_by_uri(cli: Cli, run_id: str, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("by uri")
    logged = cli("artifacts", "log", "--run-id", run_id, "--local-file", str(note), "--artifact-path", "x")
    assert logged.exit_code == 0, logged.output
    dst = tmp_path / "dst"
    got = cli("artifacts", "download", "--artifact-uri", f"runs:/{run_id}/x/note.txt", "--dst-path", str(dst))
    assert got.exit_code == 0, got.output
    assert Path(got.stdout.strip()).read_text() == "by uri"


def test_artifacts_download_needs_exactly_one_source(cli: Cli, run_id: str) -> None:
    neither = cli("artifacts", "download")
    both = cli("artifacts", "download", "--run-id", run_id, "--artifact-uri", f"runs:/{run_id}/x")
    assert neither.exit_code == 2 and both.exit_code == 2
    assert "exactly one of --run-id or --artifact-uri" in both.stderr


def test_artifacts_log_missing_file_is_a_usage_error(cli: Cli, run_id: str, tmp_path: Path) -> None:
    result = cli("artifacts", "log", "--run-id", run_id, "--local-file", str(tmp_path / "absent.txt"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# -- tracking URI from the environment ----------------------------------------------------


@pytest.mark.parametrize("variable", ["TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"])
def test_tracking_uri_from_environment(variable: str, uri: str, client: tracklet.MlflowClient) -> None:
    client.create_experiment("from-env")
    other = "TRACKLET_TRACKING_URI" if variable == "MLFLOW_TRACKING_URI" else "MLFLOW_TRACKING_URI"
    env: dict[str, str | None] = {variable: uri, other: None}
    names = {e["name"] for e in _json(run_cli("experiments", "list", "--json", env=env))}
    assert "from-env" in names


def test_tracklet_variable_wins_over_mlflow_variable(
    uri: str, tmp_path: Path, client: tracklet.MlflowClient
) -> None:
    client.create_experiment("tracklet-side")
    env: dict[str, str | None] = {
        "TRACKLET_TRACKING_URI": uri,
        "MLFLOW_TRACKING_URI": str(tmp_path / "elsewhere"),
    }
    names = {e["name"] for e in _json(run_cli("experiments", "list", "--json", env=env))}
    assert "tracklet-side" in names


# -- commands contributed by plugins ------------------------------------------------------


class _GreeterPlugin:
    """A throwaway plugin contributing ``hello`` (works) and ``boom`` (fails cleanly)."""

    @plugins.hookimpl
    def tracklet_cli_commands(self) -> list[click.Command]:
        @click.command("hello")
        @click.argument("who")
        def hello(who: str) -> None:
            """Say hello."""
            click.echo(f"hello, {who}")

        @click.command("boom")
        def boom() -> None:
            """Fail like a store would."""
            raise TrackletException("the plugin store is unreachable", "TEMPORARILY_UNAVAILABLE")

        return [hello, boom]


class _ClashingPlugin:
    """A throwaway plugin trying to replace the built-in ``runs`` group."""

    @plugins.hookimpl
    def tracklet_cli_commands(self) -> list[click.Command]:
        @click.command("runs")
        def runs() -> None:
            click.echo("hijacked")

        return [runs]


def _registered(plugin: object, name: str) -> Iterator[None]:
    plugins.register(plugin, name=name)
    try:
        yield
    finally:
        plugins.unregister(plugin)


@pytest.fixture
def greeter() -> Iterator[None]:
    yield from _registered(_GreeterPlugin(), "test-greeter")


@pytest.fixture
def clashing() -> Iterator[None]:
    yield from _registered(_ClashingPlugin(), "test-clashing")


def test_plugin_command_appears_in_help_and_runs(greeter: None) -> None:
    help_text = run_cli("--help").stdout
    assert "hello" in help_text and "Say hello." in help_text
    result = run_cli("hello", "world")
    assert result.exit_code == 0
    assert result.stdout == "hello, world\n"


def test_plugin_command_errors_are_user_errors(greeter: None) -> None:
    stderr = _user_error(run_cli("boom"))
    assert stderr.startswith("Error: the plugin store is unreachable. Check that the server is running")
    assert "tracking URI" not in stderr  # the command never used the tracking store


def test_plugin_command_is_gone_once_unregistered() -> None:
    plugin = _GreeterPlugin()
    plugins.register(plugin, name="test-greeter-once")
    plugins.unregister(plugin)
    assert run_cli("hello", "x").exit_code == 2


def test_plugin_cannot_shadow_a_builtin_command(
    clashing: None, uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = build_cli()  # the warning is printed while plugin commands are collected
    warning = capsys.readouterr().err
    assert "test-clashing" in warning and "'runs'" in warning
    result = _runner().invoke(cli, ["--tracking-uri", uri, "runs", "--help"])
    assert result.exit_code == 0
    assert "List, describe, delete and restore runs." in result.stdout
    assert "hijacked" not in result.stdout


# -- real processes -----------------------------------------------------------------------


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_python_dash_m_tracklet_help() -> None:
    result = _run([sys.executable, "-m", "tracklet", "--help"])
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m tracklet" in result.stdout
    assert "experiments" in result.stdout and "artifacts" in result.stdout


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("tracklet.exe" if os.name == "nt" else "tracklet")
    assert script.exists(), f"the console script is missing: reinstall the core ({script})"
    version = _run([str(script), "--version"])
    assert version.returncode == 0, version.stderr
    assert tracklet.__version__ in version.stdout
    missing = _run([str(script), "--tracking-uri", str(tmp_path / "mlruns"), "runs", "describe", "f" * 32])
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: ") and "Traceback" not in missing.stderr


def test_import_tracklet_loads_neither_click_nor_rich() -> None:
    code = "import sys, tracklet, tracklet.cli; print('click' in sys.modules, 'rich' in sys.modules)"
    probe = "import sys, tracklet; print('click' in sys.modules, 'rich' in sys.modules)"
    assert _run([sys.executable, "-c", probe]).stdout.split() == ["False", "False"]
    # the CLI itself imports click, but rich only when it prints a table
    assert _run([sys.executable, "-c", code]).stdout.split() == ["True", "False"]


def test_runs_list_by_experiment_name(tmp_path):
    from click.testing import CliRunner

    import tracklet
    from tracklet.cli import build_cli

    uri = str(tmp_path / "mlruns")
    client = tracklet.MlflowClient(uri)
    exp_id = client.create_experiment("named")
    run = client.create_run(exp_id, run_name="by-name")
    runner = CliRunner()
    result = runner.invoke(build_cli(), ["--tracking-uri", uri, "runs", "list", "--experiment-name", "named"])
    assert result.exit_code == 0, result.output
    assert run.info.run_id in result.output
    result = runner.invoke(build_cli(), ["--tracking-uri", uri, "runs", "list", "--experiment-name", "nope"])
    assert result.exit_code == 1 and "No experiment named 'nope'" in result.output
    result = runner.invoke(build_cli(), ["--tracking-uri", uri, "runs", "list"])
    assert result.exit_code == 2


# -- no traceback, whatever the input ----------------------------------------------------


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bad_uri_cases() -> list[tuple[str, str]]:
    return [
        ("sqlite://x.db", "Invalid SQLite URL"),
        ("databricks", "'databricks'"),
        ("databricks-uc", "'databricks-uc'"),
        ("nosuch://x", "No tracking plugin is installed for 'nosuch'"),
        # the port is chosen when the test runs, not in its id: pytest-xdist's workers each
        # collect the suite and must get the same ids, and a port chosen at collection could
        # be bound by another worker's server by the time the test runs
        ("http://127.0.0.1:{closed_port}", "Check that the server is running"),
    ]


@pytest.mark.parametrize(("bad_uri", "named"), _bad_uri_cases())
@pytest.mark.parametrize("command", [("experiments", "list"), ("runs", "list", "--experiment-id", "0")])
def test_a_bad_tracking_uri_is_one_line_and_creates_nothing(
    bad_uri: str, named: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "0")
    bad_uri = bad_uri.format(closed_port=_closed_port())
    stderr = _user_error(run_cli("--tracking-uri", bad_uri, *command))
    assert named in stderr
    assert stderr.count("\n") == 1, stderr  # one line
    assert "--tracking-uri" in stderr or "Install" in stderr  # and what to do about it
    # databricks is MLflow's remote workspace, never a local folder to create
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("runs", "describe", "f" * 32), "not found"),
        (("runs", "delete", "f" * 32), "not found"),
        (("runs", "list", "--experiment-id", "999"), "No experiment with id '999'"),
        (("runs", "list", "--experiment-id", "0", "--experiment-id", "999"), "No experiment with id '999'"),
        (("runs", "list", "--experiment-name", "nosuch"), "No experiment named 'nosuch'"),
        (("experiments", "delete", "999"), "999"),
        (("experiments", "rename", "999", "x"), "999"),
        (("artifacts", "list", "--run-id", "f" * 32), "not found"),
    ],
)
def test_unknown_ids_are_one_line_errors(cli: Cli, args: tuple[str, ...], named: str) -> None:
    cli("experiments", "list")  # the store exists, with its Default experiment
    stderr = _user_error(cli(*args))
    assert named in stderr
    assert stderr.count("\n") == 1, stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-flag", "experiments", "list"),
        ("runs", "list", "--experiment-id"),
        ("runs", "list", "--experiment-id", "0", "--max-results", "0"),
        ("runs", "list", "--experiment-id", "0", "--view", "sideways"),
        ("experiments", "create"),
        ("artifacts", "log", "--run-id", "x", "--local-file", "/no/such/file"),
    ],
)
def test_bad_flags_are_usage_errors(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Error: " in result.stderr


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The console script itself, not click's runner: what a user sees in a terminal."""
    env = {**os.environ, "TRACKLET_TRACKING_URI": "sqlite://x.db"}
    result = subprocess.run(
        [sys.executable, "-m", "tracklet", "runs", "list", "--experiment-id", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: Invalid SQLite URL") and result.stderr.count("\n") == 1


def test_an_unexpected_error_can_show_its_traceback(tmp_path: Path) -> None:
    """TRACKLET_CLI_TRACEBACK=1 is for whoever debugs tracklet: the driver's error raises."""
    result = _runner().invoke(
        build_cli(),
        ["--tracking-uri", "sqlite://x.db", "experiments", "list"],
        env={"TRACKLET_CLI_TRACEBACK": "1"},
    )
    assert result.exit_code == 1
    assert result.exception is not None and "Invalid SQLite URL" in str(result.exception)


# -- --json is JSON ------------------------------------------------------------------------


def _strict_json(result: Result) -> Any:
    """Parse stdout refusing the NaN/Infinity constants Python's json accepts and JSON doesn't."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"bare {constant} in --json output")

    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_constant=refuse)


def test_json_output_is_strict_json_with_non_finite_metrics(cli: Cli, client: tracklet.MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    for key, value in (("nan", float("nan")), ("inf", float("inf")), ("neg_inf", float("-inf"))):
        client.log_metric(run_id, key, value)
    client.log_param(run_id, "p", "v")

    described = _strict_json(cli("runs", "describe", run_id, "--json"))
    # proto3's JSON mapping, as MLflow's REST API writes them
    assert described["data"]["metrics"] == {"nan": "NaN", "inf": "Infinity", "neg_inf": "-Infinity"}
    listed = _strict_json(cli("runs", "list", "--experiment-id", "0", "--json"))
    assert [r["info"]["run_id"] for r in listed] == [run_id]
    assert listed[0]["data"]["metrics"]["nan"] == "NaN"
    for args in (("experiments", "list"), ("artifacts", "list", "--run-id", run_id), ("plugins",)):
        assert isinstance(_strict_json(cli(*args, "--json")), list)
