"""``import tracklet`` is type-clean for users: ``mypy --strict`` on code calling the
public API passes, and a wrong call fails (the names are declared, not attached at run
time, so a type checker sees their real signatures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """\
import tracklet

tracklet.set_tracking_uri("x")
client = tracklet.MlflowClient("sqlite:///x.db")
client.create_registered_model("m")
with tracklet.start_span("s"):
    pass
with tracklet.start_run() as run:
    tracklet.log_metric("loss", 0.5, step=1)
    run_id: str = run.info.run_id
"""

WRONG_CODE = """\
import tracklet

tracklet.set_tracking_uri(3)
tracklet.MlflowClient().create_registered_model(nme="m")
tracklet.start_span(nam="s")
tracklet.no_such_name()
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def mypy_strict(tmp_path: Path, cache_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    user_file = tmp_path / "user_code.py"
    user_file.write_text(code)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache_dir),
            str(user_file),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )


def test_user_code_passes_mypy_strict(tmp_path: Path, cache_dir: Path) -> None:
    result = mypy_strict(tmp_path, cache_dir, USER_CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_calls_fail_mypy_strict(tmp_path: Path, cache_dir: Path) -> None:
    result = mypy_strict(tmp_path, cache_dir, WRONG_CODE)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert [line.split(":")[1] for line in errors] == ["3", "4", "5", "6"], result.stdout
    assert 'Unexpected keyword argument "nme" for "create_registered_model"' in result.stdout
    assert 'Unexpected keyword argument "nam" for "start_span"' in result.stdout
    assert 'Module has no attribute "no_such_name"' in result.stdout
