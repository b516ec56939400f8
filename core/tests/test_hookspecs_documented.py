"""Meta-tests: every hook is documented for plugin authors and has a real implementing test.

"A test mentions the hook's name" proves nothing. ``HOOK_TESTS`` names, for each hookspec,
the tests that implement it in a throwaway plugin and check what tracklet does with the
result. The meta-test runs those tests in a child pytest and watches the plugin manager:
each must pass, and while it runs the implementation of a plugin the test itself registered (not one of
the installed ones) must be called. A new hookspec without such a test fails here.
"""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet import hookspecs, plugins
from tracklet.stores import ArtifactRepository, RegistryStore

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKS = [name for name, fn in vars(hookspecs).items() if name.startswith("tracklet_") and callable(fn)]
HERE = "core/tests/test_hookspecs_documented.py"

#: hook -> tests (node ids from the repository root) that implement it and check the result
HOOK_TESTS: dict[str, list[str]] = {
    "tracklet_schemes": [
        "core/tests/test_plugins.py::test_declared_scheme_is_built_lazily",
        "core/tests/test_plugins.py::test_override_wins",
    ],
    "tracklet_tracking_store": ["core/tests/test_plugins.py::test_first_result_hook_takes_over_any_uri"],
    "tracklet_artifact_repository": [f"{HERE}::test_an_artifact_repository_from_a_plugin_stores_a_run_file"],
    "tracklet_registry_store": [f"{HERE}::test_a_registry_store_from_a_plugin_serves_the_client"],
    "tracklet_default_tracking_uri": [
        "core/tests/test_plugins.py::test_default_tracking_uri_comes_from_plugins"
    ],
    "tracklet_cli_commands": ["core/tests/test_cli.py::test_plugin_command_appears_in_help_and_runs"],
    "tracklet_request_headers": [
        "core/tests/test_plugins.py::test_run_context_tags_and_request_headers_merge",
        "plugins/http/tests/test_transport.py::test_plugins_add_headers_through_the_hook",
    ],
    "tracklet_run_context_tags": [
        "core/tests/test_plugins.py::test_run_context_tags_and_request_headers_merge"
    ],
    "tracklet_server_routes": [
        "core/tests/test_hooks_contributions.py::test_server_routes_are_collected",
        "plugins/http/tests/test_contributed_routes.py::test_a_contributed_route_is_served_with_the_server_s_stores",
    ],
    "tracklet_http_transport": [
        "core/tests/test_hooks_contributions.py::test_the_http_transport_comes_from_the_hook"
    ],
    "tracklet_sql_engine": [
        "core/tests/test_hooks_contributions.py::test_the_sql_engine_comes_from_the_hook"
    ],
    "tracklet_sql_migrations": [
        "core/tests/test_hooks_contributions.py::test_sql_migration_sets_are_collected_and_clashes_refused",
        "plugins/sql/tests/test_contributed_migrations.py::test_a_fresh_database_gets_the_set_s_tables",
    ],
}


def test_there_are_hooks() -> None:
    assert {"tracklet_schemes", "tracklet_tracking_store", "tracklet_cli_commands"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_plugin_authors_guide_with_its_arguments(name: str) -> None:
    guide = (ROOT / "docs" / "plugin-authors.md").read_text(encoding="utf-8")
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"`{name}({params})" in guide, f"docs/plugin-authors.md must document {name}({params})"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_docstring(name: str) -> None:
    assert inspect.getdoc(getattr(hookspecs, name))


def test_every_hook_and_only_hooks_have_implementing_tests() -> None:
    assert sorted(HOOK_TESTS) == sorted(HOOKS), "add the new hook's implementing tests to HOOK_TESTS"


# -- running the registered tests under a watch ----------------------------------------------

# A pytest plugin for the child run. Every hook implementation of a plugin registered while
# a test runs (a class instance, not an installed plugin module) is wrapped so that calling
# it is recorded against that test, however tracklet calls it (through the hook, or impl by
# impl as the CLI does to name a plugin).
_WATCH = textwrap.dedent(
    """
    import inspect, json, os
    import pluggy
    import pytest

    _seen = {}
    _current = []
    _register = pluggy.PluginManager.register

    def _recording(hook_name, function):
        def record(*args, **kwargs):
            if _current:
                _seen[_current[-1]].add(hook_name)
            return function(*args, **kwargs)
        return record

    def register(self, plugin, name=None):
        result = _register(self, plugin, name)
        if _current and result is not None and not inspect.ismodule(plugin):
            for caller in self.get_hookcallers(plugin) or []:
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function = _recording(caller.name, impl.function)
        return result

    pluggy.PluginManager.register = register

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        _seen.setdefault(item.nodeid, set())
        _current.append(item.nodeid)
        try:
            yield
        finally:
            _current.pop()

    def pytest_sessionfinish(session):
        with open(os.environ["HOOK_WATCH_OUT"], "w") as out:
            json.dump({k: sorted(v) for k, v in _seen.items()}, out)
    """
)


@pytest.fixture(scope="module")
def watched_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run every test of HOOK_TESTS once in a child pytest, watching the hook calls."""
    folder = tmp_path_factory.mktemp("hookwatch")
    (folder / "hookwatch.py").write_text(_WATCH)
    out = folder / "seen.json"
    node_ids = sorted({node for nodes in HOOK_TESTS.values() for node in nodes})
    env = {
        **os.environ,
        "HOOK_WATCH_OUT": str(out),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
    }
    # -n 0: the suite's addopts run pytest-xdist workers, whose hook calls this process's
    # watch would never see; the child runs the tests in its own process.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "0",
            "-p",
            "hookwatch",
            "-p",
            "no:cacheprovider",
            *node_ids,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seen = json.loads(out.read_text()) if out.exists() else {}
    return result, seen


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_implemented_and_called_by_a_passing_test(
    name: str, watched_run: tuple[subprocess.CompletedProcess[str], Any]
) -> None:
    result, seen = watched_run
    tests = HOOK_TESTS.get(name)
    assert tests, f"no test implements {name}: add one to HOOK_TESTS"
    assert result.returncode == 0, f"the hooks' tests fail:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    calling = [test for test in tests if name in seen.get(test, [])]
    assert calling, f"none of {tests} called {name} on a plugin of its own (seen: {seen})"


# -- the hooks no other test file implements -----------------------------------------------------


class _DictRepository(ArtifactRepository):
    """Artifacts kept in a dictionary: a stand-in for a third party's object store."""

    files: dict[str, bytes] = {}

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = pathlib.Path(local_file).name
        key = "/".join(filter(None, [self.artifact_uri, artifact_path, name]))
        self.files[key] = pathlib.Path(local_file).read_bytes()

    def list_artifacts(self, path: str | None = None) -> list[Any]:
        return []

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        raise NotImplementedError

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self.files.clear()


class _DictArtifactsPlugin:
    seen: list[tuple[str, str | None]] = []

    @plugins.hookimpl
    def tracklet_artifact_repository(self, uri: str, tracking_uri: str | None) -> ArtifactRepository | None:
        if not uri.startswith("dictstore://"):
            return None
        self.seen.append((uri, tracking_uri))
        return _DictRepository(uri)


def _registered(plugin: object, name: str) -> Iterator[object]:
    plugins.register(plugin, name=name)
    try:
        yield plugin
    finally:
        plugins.unregister(plugin)


@pytest.fixture
def dict_artifacts() -> Iterator[object]:
    yield from _registered(_DictArtifactsPlugin(), "test-dict-artifacts")


def test_an_artifact_repository_from_a_plugin_stores_a_run_file(
    dict_artifacts: object, tmp_path: pathlib.Path
) -> None:
    import tracklet

    _DictRepository.files.clear()
    uri = str(tmp_path / "mlruns")
    client = tracklet.MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("dict", artifact_location="dictstore://bucket/exp")
    run_id = client.create_run(experiment_id).info.run_id
    local = tmp_path / "model.txt"
    local.write_text("weights")
    client.log_artifact(run_id, str(local), "sub")

    key = f"dictstore://bucket/exp/{run_id}/artifacts/sub/model.txt"
    assert _DictRepository.files == {key: b"weights"}
    assert _DictArtifactsPlugin.seen[-1][0] == f"dictstore://bucket/exp/{run_id}/artifacts"


class _ToyRegistry(RegistryStore):
    """A registry that knows model names only: enough to see the client reach it."""

    models: dict[str, str | None] = {}

    def _create_registered_model(
        self, name: str, tags: Any, description: str | None, deployment_job_id: str | None
    ) -> Any:
        self.models[name] = description
        return {"name": name, "description": description}


_ToyRegistry.__abstractmethods__ = frozenset()


class _ToyRegistryPlugin:
    @plugins.hookimpl
    def tracklet_registry_store(self, uri: str, tracking_uri: str | None) -> RegistryStore | None:
        return _ToyRegistry(uri) if uri.startswith("toyregistry:") else None


@pytest.fixture
def toy_registry() -> Iterator[object]:
    yield from _registered(_ToyRegistryPlugin(), "test-toy-registry")


def test_a_registry_store_from_a_plugin_serves_the_client(
    toy_registry: object, tmp_path: pathlib.Path
) -> None:
    import tracklet

    _ToyRegistry.models.clear()
    uri = f"toyregistry:{tmp_path.name}"
    client = tracklet.MlflowClient(tracking_uri=str(tmp_path / "mlruns"), registry_uri=uri)
    assert client.create_registered_model("churn", description="v1") == {"name": "churn", "description": "v1"}
    assert _ToyRegistry.models == {"churn": "v1"}
