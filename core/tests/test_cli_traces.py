"""``tracklet traces list|get|delete`` through click's runner, on a real file store."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tracklet.cli import build_cli
from tracklet.entities import Trace
from tracklet.tracing.client import TracingClient


def _load_sibling(name: str) -> Any:
    """The sibling test module (tests are imported with importlib, so not on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_tracing_client.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_helpers = _load_sibling("_tracklet_test_tracing_client")
T0: int = _helpers.T0
make_trace = _helpers.make_trace


def _runner() -> CliRunner:
    try:  # click 8.1 mixes stderr into output unless told otherwise; 8.2+ keeps both
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return str(tmp_path / "mlruns")


@pytest.fixture
def logged(uri: str) -> list[Trace]:
    """Three traces in experiment 0 (oldest first), the second failed."""
    client = TracingClient(uri)
    traces = [make_trace("0", name, i, error=(i == 1)) for i, name in enumerate(("alpha", "beta", "gamma"))]
    for trace in traces:
        client.log_trace(trace)
    return traces


def cli(uri: str, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return _runner().invoke(build_cli(), ["--tracking-uri", uri, *args], env=env, catch_exceptions=False)


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def _json(result: Result) -> Any:
    return json.loads(_ok(result))


def _error(result: Result) -> str:
    assert result.exit_code != 0, result.stdout
    assert "Traceback" not in result.output
    return result.stderr


def test_list_pages_filters_and_json(uri: str, logged: list[Trace]) -> None:
    ids = [t.info.trace_id for t in logged]
    table = _ok(cli(uri, "traces", "list", "--experiment-id", "0"))
    for trace_id, name in zip(ids, ("alpha", "beta", "gamma"), strict=True):
        assert trace_id in table and name in table
    assert table.index(ids[2]) < table.index(ids[0])  # newest first
    assert "Next page token" not in table

    # the experiment from the environment, one page of 2, then the rest with its token
    env = {"TRACKLET_EXPERIMENT_ID": "0"}
    first = _ok(cli(uri, "traces", "list", "--max-results", "2", "--order-by", "timestamp_ms ASC", env=env))
    token = first.rsplit("Next page token: ", 1)[1].strip()
    assert ids[0] in first and ids[1] in first and ids[2] not in first
    page = _json(
        cli(uri, "traces", "list", "--order-by", "timestamp_ms ASC", "--page-token", token, "--json", env=env)
    )
    assert [t["info"]["trace_id"] for t in page["traces"]] == [ids[2]]
    assert page["next_page_token"] is None

    # MLflow's JSON, spans included; and the filter
    everything = _json(cli(uri, "traces", "list", "--experiment-id", "0", "--output", "json"))
    assert [t["info"]["trace_id"] for t in everything["traces"]] == ids[::-1]
    assert all(len(t["data"]["spans"]) == 2 for t in everything["traces"])
    assert Trace.from_dict(everything["traces"][0]).info.trace_id == ids[2]
    failed = _json(
        cli(uri, "traces", "list", "--experiment-id", "0", "--filter-string", "status = 'ERROR'", "--json")
    )
    assert [t["info"]["trace_id"] for t in failed["traces"]] == [ids[1]]
    assert (
        _ok(cli(uri, "traces", "list", "--experiment-id", "0", "--filter", "tags.nope = 'x'")).strip()
        == "No traces."
    )

    assert "--experiment-id" in _error(
        cli(uri, "traces", "list", env={"TRACKLET_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_ID": None})
    )
    assert "No experiment with id '999'" in _error(cli(uri, "traces", "list", "--experiment-id", "999"))
    assert "Error:" in _error(cli(uri, "traces", "list", "--experiment-id", "0", "--filter", "bogus ~ 1"))


def test_get_prints_mlflows_json_or_the_span_tree(uri: str, logged: list[Trace]) -> None:
    trace = logged[0]
    trace_id = trace.info.trace_id
    printed = _ok(cli(uri, "traces", "get", trace_id))
    assert printed == TracingClient(uri).get_trace(trace_id).to_json(pretty=True) + "\n"
    again = Trace.from_json(printed)
    assert sorted(s.span_id for s in again.data.spans) == sorted(s.span_id for s in trace.data.spans)

    table = _ok(cli(uri, "traces", "get", trace_id, "--output", "table"))
    root_id = next(s.span_id for s in trace.data.spans if s.parent_id is None)
    assert trace_id in table and root_id in table and "RETRIEVER" in table
    # the child indented under its root, both with their durations
    lines = table.splitlines()
    root_line = next(line for line in lines if root_id in line)
    child_line = next(line for line in lines if "  retrieve" in line)
    assert lines.index(root_line) < lines.index(child_line)
    assert "5.000" in root_line and "2.000" in child_line

    unknown = _error(cli(uri, "traces", "get", "tr-" + "0" * 32))
    assert unknown.startswith("Error: No trace with id 'tr-") and "tracklet traces list" in unknown


def test_delete_by_id_and_by_time(uri: str, logged: list[Trace]) -> None:
    alpha, beta, gamma = (t.info.trace_id for t in logged)
    # MLflow's spelling: --trace-ids with a comma-separated list
    out = _ok(cli(uri, "traces", "delete", "--experiment-id", "0", "--trace-ids", f"{beta},tr-{'0' * 32}"))
    assert out.strip() == "Deleted 1 trace(s) from experiment 0."
    out = _ok(
        cli(
            uri,
            "traces",
            "delete",
            "--experiment-id",
            "0",
            "--max-timestamp-millis",
            str(T0 + 60_000),
            "--max-traces",
            "1",
        )
    )
    assert out.strip() == "Deleted 1 trace(s) from experiment 0."
    left = _json(cli(uri, "traces", "list", "--experiment-id", "0", "--json"))
    assert [t["info"]["trace_id"] for t in left["traces"]] == [gamma]
    assert alpha not in _ok(cli(uri, "traces", "list", "--experiment-id", "0"))

    both = _error(
        cli(
            uri,
            "traces",
            "delete",
            "--experiment-id",
            "0",
            "--trace-id",
            gamma,
            "--max-timestamp-millis",
            "1",
        )
    )
    assert "not both" in both
    assert "--max-timestamp-millis" in _error(cli(uri, "traces", "delete", "--experiment-id", "0"))
    assert "No experiment with id '999'" in _error(
        cli(uri, "traces", "delete", "--experiment-id", "999", "--trace-id", gamma)
    )
    assert _json(cli(uri, "traces", "list", "--experiment-id", "0", "--json"))["traces"]  # nothing else went
