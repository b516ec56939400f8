"""Differential drop-in tests: one snippet written for MLflow runs under real MLflow and,
imports rewritten, under ``import tracklet as mlflow``; what each observed must match.

Each run is a subprocess in a fresh working directory, with every ``MLFLOW_*`` and
``TRACKLET_*`` variable removed, on a sqlite tracking store in a temp dir (or the URI a
test passes). The snippet gets the tracking URI as ``sys.argv[1]``, records what it sees
in the dict ``out`` and the harness prints it as JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_PRELUDE = """\
import json, sys, warnings
warnings.simplefilter("ignore")
out = {}
def failure(call, message=True):
    '''The exception a call raises as MLflow code sees it: type (MlflowException for either
    tool's), error code, and the message unless message=False.'''
    try:
        call()
    except Exception as e:
        kind = "MlflowException" if hasattr(e, "error_code") else type(e).__name__
        return [kind, getattr(e, "error_code", None)] + ([str(e)] if message else [])
    return None
"""
_EPILOGUE = '\nprint("RESULT " + json.dumps(out, sort_keys=True, default=str))\n'
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def as_tracklet(source: str) -> str:
    """The snippet with MLflow's imports replaced by tracklet's (``import tracklet as mlflow``,
    ``import mlflow.x`` -> ``import tracklet.x``, ``from mlflow.x import`` likewise)."""
    source = re.sub(r"(?m)^(\s*)import mlflow$", r"\1import tracklet as mlflow", source)
    source = re.sub(r"(?m)^(\s*)import mlflow\.(\w+)$", r"\1import tracklet.\2", source)
    return re.sub(
        r"(?m)^(\s*)from mlflow(\.\w+)* import", lambda m: m.group(0).replace("mlflow", "tracklet", 1), source
    )


def clean_env(home: Path) -> dict[str, str]:
    """The environment without MLflow's and tracklet's variables, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLET_", "MLFLOW_"))}
    env.update({"HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    return env


def run_snippet(source: str, who: str, root: Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Run ``source`` under ``who`` ("mlflow" or "tracklet") in ``root/<who>/work``; return
    ``out``, with uuids replaced by ``<uuid>``."""
    base = root / who
    work = base / "work"
    work.mkdir(parents=True)
    uri = tracking_uri or f"sqlite:///{base / 'db.sqlite'}"
    body = textwrap.dedent(source)
    script = base / "snippet.py"
    script.write_text(_PRELUDE + (as_tracklet(body) if who == "tracklet" else body) + _EPILOGUE)
    proc = subprocess.run(
        [sys.executable, str(script), uri],
        cwd=work,
        env=clean_env(base),
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{who} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(_UUID.sub("<uuid>", lines[-1][len("RESULT ") :]))  # type: ignore[no-any-return]


Compare = Callable[..., dict[str, Any]]


@pytest.fixture
def compare(tmp_path: Path) -> Compare:
    """``compare(source, tracking_uri=None)`` runs the snippet under both, asserts they
    observed the same (key by key, then whole), and returns what MLflow observed."""

    def run(source: str, tracking_uri: str | None = None) -> dict[str, Any]:
        seen_by_mlflow = run_snippet(source, "mlflow", tmp_path, tracking_uri)
        seen_by_tracklet = run_snippet(source, "tracklet", tmp_path, tracking_uri)
        assert seen_by_mlflow, "the snippet observed nothing"
        for key in sorted(seen_by_mlflow):
            assert seen_by_tracklet.get(key) == seen_by_mlflow[key], key
        assert seen_by_tracklet == seen_by_mlflow
        return seen_by_mlflow

    return run


RunAs = Callable[..., dict[str, Any]]


@pytest.fixture
def run_as(tmp_path: Path) -> RunAs:
    """``run_as(who, source, tracking_uri=None)``: one tool's run of a snippet (each call in
    a fresh folder)."""
    calls = iter(range(1000))

    def run(who: str, source: str, tracking_uri: str | None = None) -> dict[str, Any]:
        return run_snippet(source, who, tmp_path / f"run{next(calls)}", tracking_uri)

    return run
