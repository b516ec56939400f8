"""tracklet's public surface: one literal ``__all__`` that matches what the package
resolves and what type checkers see, public modules for what store authors need
(run-tag names, the clock, the environment lookup, every MLflow error code), and the
registry and tracing names declared with MLflow's own parameters."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracklet
from tracklet import _tracing, _unavailable, exceptions
from tracklet.testing import raises_code
from tracklet.utils import environment, mlflow_tags
from tracklet.utils.time import now_ms

INIT = Path(tracklet.__file__)


def _type_checking_imports() -> dict[str, str]:
    """Name -> ``module:attribute`` of each import in ``tracklet/__init__``'s TYPE_CHECKING block."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    found = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom) and node.module != "typing":
            for alias in node.names:
                assert alias.asname == alias.name or node.module != "tracklet", ast.unparse(node)
                assert alias.asname is not None, f"not an explicit re-export: {ast.unparse(node)}"
                found[alias.asname] = f"{node.module}:{alias.name}"
    return found


def test_all_is_one_literal_list_that_matches_the_lazy_table_and_the_type_checking_block() -> None:
    tree = ast.parse(INIT.read_text())
    assigned = next(
        n for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "__all__"
    )
    literal = ast.literal_eval(assigned.value)  # raises if __all__ is computed
    assert literal == tracklet.__all__ and len(set(literal)) == len(literal)
    lazy, submodules = tracklet._LAZY, tracklet._SUBMODULES  # type: ignore[attr-defined]
    assert set(literal) == {*lazy, *submodules, "__version__"}
    expected = {name: target if ":" in target else f"{target}:{name}" for name, target in lazy.items()}
    expected |= {name: f"tracklet:{name}" for name in submodules}
    assert _type_checking_imports() == expected


def test_every_public_name_resolves_and_dir_lists_them() -> None:
    for name in tracklet.__all__:
        assert getattr(tracklet, name) is not None, name
    assert sorted(dir(tracklet)) == sorted(tracklet.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        tracklet.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_import_tracklet_loads_nothing_else_of_tracklet() -> None:
    code = "import sys, tracklet; print([m for m in sys.modules if m.startswith('tracklet')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == ["tracklet"]


def test_every_public_core_module_declares_all_with_names_it_has() -> None:
    src = INIT.parent
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts) or parts[:2] in {("tracklet", "cli")}:
            continue
        module = __import__(".".join(parts), fromlist=["_"])
        declared = getattr(module, "__all__", None)
        if declared is None:
            continue  # tools/check_imports.py fails when a plugin imports such a module
        missing = [name for name in declared if not hasattr(module, name)]
        assert missing == [], f"{module.__name__}.__all__ lists names it does not have: {missing}"


def test_error_codes_are_mlflows(tmp_path: Path) -> None:
    code = (
        "import json; from mlflow.protos import databricks_pb2 as d; "
        "print(json.dumps({k: v for k, v in d.ErrorCode.items() if v < 5000}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert exceptions.ERROR_CODES == json.loads(out.stdout.splitlines()[-1])
    for name in exceptions.ERROR_CODES:
        assert getattr(exceptions, name) == name and name in exceptions.__all__
        assert exceptions.TrackletException("m", exceptions.ERROR_CODES[name]).error_code == name


def test_store_author_helpers() -> None:
    assert mlflow_tags.MLFLOW_RUN_NAME == "mlflow.runName"
    assert mlflow_tags.MLFLOW_PARENT_RUN_ID == "mlflow.parentRunId"
    assert abs(now_ms() - int(__import__("time").time() * 1000)) < 60_000


def test_environment_reads_tracklet_then_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TRACKLET_X_SETTING", "MLFLOW_X_SETTING", "OTHER_X"):
        monkeypatch.delenv(variable, raising=False)
    assert environment.get("X_SETTING", "dflt") == "dflt"
    monkeypatch.setenv("OTHER_X", "other")
    assert environment.lookup("X_SETTING", also=("OTHER_X",)) == ("OTHER_X", "other")
    monkeypatch.setenv("MLFLOW_X_SETTING", "mlflow")
    assert environment.get("X_SETTING") == "mlflow"
    assert environment.get("X_SETTING", mlflow="") is None
    monkeypatch.setenv("TRACKLET_X_SETTING", "  ")  # blank counts as unset
    assert environment.lookup("X_SETTING") == ("MLFLOW_X_SETTING", "mlflow")
    monkeypatch.setenv("TRACKLET_X_SETTING", " On ")
    assert environment.get("X_SETTING") == "On" and environment.get_flag("X_SETTING")


def test_environment_parse_errors_name_the_variable_and_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKLET_X_COUNT", raising=False)
    monkeypatch.setenv("MLFLOW_X_COUNT", "many")
    names = environment.variables("X_COUNT")
    assert names == ("TRACKLET_X_COUNT", "MLFLOW_X_COUNT")
    with raises_code(exceptions.INVALID_PARAMETER_VALUE) as info:
        environment.get_parsed(names, 1, int, "it must be a whole number")
    assert info.value.message == (
        "MLFLOW_X_COUNT='many' is not valid: it must be a whole number. Fix or unset the variable."
    )
    monkeypatch.setenv("TRACKLET_X_COUNT", "7")
    assert environment.get_parsed(names, 1, int, "it must be a whole number") == 7


def _mlflow_signatures(tmp_path: Path) -> dict[str, list[str]]:
    code = f"""
import inspect, json, mlflow
out = {{}}
for name in {list(_tracing.TRACING_NAMES)!r}:
    out[name] = list(inspect.signature(getattr(mlflow, name)).parameters)
for name in {list(_unavailable.REGISTRY_METHODS + _unavailable.LOGGED_MODEL_METHODS + _unavailable.TRACE_METHODS)!r}:
    out["MlflowClient." + name] = list(inspect.signature(getattr(mlflow.MlflowClient, name)).parameters)
print(json.dumps(out))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.interop
def test_registry_and_tracing_declare_mlflows_parameters(tmp_path: Path) -> None:
    ours = {
        name: list(inspect.signature(getattr(tracklet, name)).parameters) for name in _tracing.TRACING_NAMES
    }
    for name in (
        _unavailable.REGISTRY_METHODS + _unavailable.LOGGED_MODEL_METHODS + _unavailable.TRACE_METHODS
    ):
        ours["MlflowClient." + name] = list(
            inspect.signature(getattr(tracklet.MlflowClient, name)).parameters
        )
    assert ours == _mlflow_signatures(tmp_path)


def test_tracing_loads_only_when_used() -> None:
    """``import tracklet`` (and the client) load none of the tracing runtime; a tracing name
    loads it on first use."""
    code = (
        "import sys, json, tracklet\n"
        "runtime = lambda: sorted(m for m in sys.modules if m.startswith('tracklet.tracing.') "
        "and m != 'tracklet.tracing.constant')\n"
        "a = runtime(); tracklet.MlflowClient; b = runtime(); tracklet.get_current_active_span(); c = runtime()\n"
        "print(json.dumps([a, b, c]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, with_client, after = json.loads(out.stdout.splitlines()[-1])
    assert before == [] and with_client == []
    assert "tracklet.tracing.fluent" in after and "tracklet.tracing.provider" in after
