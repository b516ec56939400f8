"""The dependency rule, checked by tools/check_imports.py on every source file: the core
never imports a plugin, plugins never import each other, and plugins import only
tracklet's public modules and the names those list in ``__all__``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tools" / "check_imports.py"


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def pyproject(distribution: str, package: str) -> str:
    return (
        f'[project]\nname = "{distribution}"\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["src/{package}"]\n'
    )


def test_the_repository_follows_the_rule(checker: ModuleType) -> None:
    violations = checker.check(ROOT)
    assert [str(v) for v in violations] == []


def test_packages_come_from_the_pyproject_files(checker: ModuleType) -> None:
    packages = {p.distribution: p.modules for p in checker.find_packages(ROOT)}
    assert packages["tracklet"] == ("tracklet",)
    assert packages["tracklet-s3"] == ("tracklet_s3",)
    assert packages["tracklet-example"] == ("tracklet_example",)


def test_each_kind_of_violation_is_reported_with_its_line(checker: ModuleType, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "core/pyproject.toml": pyproject("tracklet", "tracklet"),
            "core/src/tracklet/__init__.py": '__all__ = ["api", "loose"]\n',
            "core/src/tracklet/_private.py": "X = 1\n",
            "core/src/tracklet/api.py": '__all__ = ["public"]\npublic = 1\n_hidden = 2\nextra = 3\n',
            "core/src/tracklet/loose.py": "anything = 1\n",
            "core/src/tracklet/stores/__init__.py": '__all__ = ["Store"]\nStore = object\n',
            "core/src/tracklet/stores/_impl.py": "Y = 1\n",
            "core/src/tracklet/uses_plugin.py": "def f():\n    import tracklet_a\n",
            "plugins/a/pyproject.toml": pyproject("tracklet-a", "tracklet_a"),
            "plugins/a/src/tracklet_a/__init__.py": """\
                from tracklet.api import public
                from tracklet import api
                import tracklet_a.inner
                from . import inner
                import tracklet_b
                from tracklet_b.store import Store
                from tracklet._private import X
                from tracklet import _private
                from tracklet.stores._impl import Y
                from tracklet.api import extra
                from tracklet.api import _hidden
                from tracklet.loose import anything
                from tracklet.stores import Store
                """,
            "plugins/a/src/tracklet_a/inner.py": "",
            "plugins/a/tests/test_a.py": "from tracklet_b import thing\n",
            "plugins/b/pyproject.toml": pyproject("tracklet-b", "tracklet_b"),
            "plugins/b/src/tracklet_b/__init__.py": "import tracklet_third_party\n",
            "tests/test_cross.py": "import tracklet_a, tracklet_b\nfrom tracklet._private import X\n",
        },
    )
    found = sorted(
        (v.path.relative_to(tmp_path).as_posix(), v.line, v.message) for v in checker.check(tmp_path)
    )
    a = "plugins/a/src/tracklet_a/__init__.py"
    assert [(path, line) for path, line, _ in found] == [
        ("core/src/tracklet/uses_plugin.py", 2),
        (a, 5),
        (a, 6),
        (a, 7),
        (a, 8),
        (a, 9),
        (a, 10),
        (a, 11),
        (a, 12),
        ("plugins/a/tests/test_a.py", 1),
    ]
    messages = {(path, line): message for path, line, message in found}
    assert messages[("core/src/tracklet/uses_plugin.py", 2)].startswith(
        "the core imports 'tracklet_a': the core never imports a plugin"
    )
    assert messages[(a, 5)].startswith("tracklet-a imports 'tracklet_b': ")
    assert "private module 'tracklet._private'" in messages[(a, 7)]
    assert "imports '_private' from 'tracklet', which is not in its __all__" in messages[(a, 8)]
    assert "private module 'tracklet.stores._impl'" in messages[(a, 9)]
    assert "imports 'extra' from 'tracklet.api', which is not in its __all__" in messages[(a, 10)]
    assert "imports 'tracklet.loose', which has no literal __all__" in messages[(a, 12)]


def test_the_command_fails_on_a_violation(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "core/pyproject.toml": pyproject("tracklet", "tracklet"),
            "core/src/tracklet/__init__.py": "__all__ = []\n",
            "plugins/a/pyproject.toml": pyproject("tracklet-a", "tracklet_a"),
            "plugins/a/src/tracklet_a/__init__.py": "",
            "plugins/b/pyproject.toml": pyproject("tracklet-b", "tracklet_b"),
            "plugins/b/src/tracklet_b/__init__.py": "from tracklet_a import x\n",
        },
    )
    result = subprocess.run([sys.executable, str(CHECKER), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "plugins/b/src/tracklet_b/__init__.py:1: tracklet-b imports 'tracklet_a'" in result.stdout
    (tmp_path / "plugins/b/src/tracklet_b/__init__.py").write_text("import tracklet\n")
    result = subprocess.run([sys.executable, str(CHECKER), str(tmp_path)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")
