"""Meta-tests: every hook is documented for plugin authors and exercised by a test."""

import inspect
import pathlib
import re

import pytest

from tracklet import hookspecs

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKS = [name for name, fn in vars(hookspecs).items() if name.startswith("tracklet_") and callable(fn)]


def test_there_are_hooks():
    assert {"tracklet_schemes", "tracklet_tracking_store", "tracklet_cli_commands"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_plugin_authors_guide_with_its_arguments(name):
    guide = (ROOT / "docs" / "plugin-authors.md").read_text(encoding="utf-8")
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"`{name}({params})" in guide, f"docs/plugin-authors.md must document {name}({params})"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_docstring_and_a_test(name):
    assert inspect.getdoc(getattr(hookspecs, name))
    tests = "".join(
        p.read_text(encoding="utf-8")
        for p in [*ROOT.glob("core/tests/*.py"), *ROOT.glob("plugins/*/tests/*.py")]
        if p.name != pathlib.Path(__file__).name
    )
    implemented = re.search(rf"def {name}\(", tests)
    called = name.removeprefix("tracklet_") in tests
    assert implemented or called, f"no test implements or calls the hook {name}"
