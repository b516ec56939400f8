"""The "pip install ..." hints of a missing plugin come from the plugins' own
``tracklet_schemes()`` declarations (tools/gen_install_hints.py), and work from a clone."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import tomllib

from tracklet import plugins

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
from tracklet._install_hints import INSTALL_HINTS

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "gen_install_hints.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_install_hints", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_is_what_the_installed_plugins_declare() -> None:
    generator = load_generator()
    declared = {(s.kind, s.scheme) for info in plugins.list_plugins() for s in info.schemes}
    from_plugins_folder = {key for key in declared if key in generator.declared_hints(ROOT)}
    assert set(INSTALL_HINTS) == from_plugins_folder
    assert INSTALL_HINTS[("artifacts", "s3")] == ("tracklet-s3", "plugins/s3")
    assert INSTALL_HINTS[("tracking", "postgresql")] == ("tracklet-sql", "plugins/sql")


def test_a_stale_table_is_caught() -> None:
    generator = load_generator()
    hints = dict(generator.declared_hints(ROOT))
    hints[("artifacts", "s3")] = ("tracklet-s3-old", "plugins/s3-old")
    assert generator.render(hints) != generator.TARGET.read_text()


def test_each_hint_installs_from_a_clone() -> None:
    for (kind, scheme), (distribution, folder) in INSTALL_HINTS.items():
        pyproject = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == distribution
        assert plugins.install_hint(kind, scheme) == (
            f"pip install {distribution} (or, from a clone of the tracklet repository: pip install ./{folder})"
        )
