import pytest

from tracklet import plugins
from tracklet.exceptions import TrackletException
from tracklet.plugins import Scheme, hookimpl
from tracklet.stores import TrackingStore


class _Dummy(TrackingStore):
    """A store that only records how it was built (the abstract methods are not used here)."""


_Dummy.__abstractmethods__ = frozenset()


class DummyPlugin:
    @hookimpl
    def tracklet_schemes(self):
        return [Scheme("tracking", "dummy", f"{__name__}:_Dummy")]


@pytest.fixture
def dummy_plugin():
    plugin = DummyPlugin()
    plugins.register(plugin, name="dummy-plugin")
    yield plugin
    plugins.unregister(plugin)


def test_unknown_known_scheme_names_the_package(without_the_https_plugin):
    with pytest.raises(TrackletException) as e:
        plugins.get_tracking_store("https://tracking.example.com")
    message = str(e.value)
    assert "'https'" in message and "pip install tracklet-http" in message
    # the packages are not on the index yet: the hint works from a clone too
    assert "from a clone of the tracklet repository: pip install ./plugins/http" in message
    assert "Installed tracking schemes" in message
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unknown_scheme_without_package_hint():
    with pytest.raises(TrackletException) as e:
        plugins.get_artifact_repository("weird://x/y")
    assert "'weird'" in str(e.value) and "pip install" not in str(e.value)


def test_registry_for_an_unserved_scheme_is_feature_disabled_with_the_schemes_served():
    # tracklet-registry serves file, SQL and HTTP registry URIs; any other scheme has no
    # registry plugin: FEATURE_DISABLED, naming the schemes that are served.
    with pytest.raises(TrackletException) as e:
        plugins.get_registry_store("nosuchregistry://x")
    assert e.value.error_code == "FEATURE_DISABLED"
    assert "'nosuchregistry'" in str(e.value) and "'sqlite'" in str(e.value)


def test_declared_scheme_is_built_lazily(dummy_plugin):
    store = plugins.get_tracking_store("dummy://here", "file:///art")
    assert isinstance(store, _Dummy)
    assert store.store_uri == "dummy://here" and store.artifact_uri == "file:///art"
    assert plugins.get_tracking_store("dummy://here", "file:///art") is store  # cached
    assert "dummy" in plugins.installed_schemes("tracking")
    names = {p.name: p for p in plugins.list_plugins()}
    assert [s.scheme for s in names["dummy-plugin"].schemes] == ["dummy"]


def test_conflicting_declarations_are_an_error(dummy_plugin):
    other = DummyPlugin()
    plugins.register(other, name="dummy-2")
    try:
        with pytest.raises(TrackletException) as e:
            plugins.get_tracking_store("dummy://x")
        assert "dummy-plugin" in str(e.value) and "dummy-2" in str(e.value)
        assert "override=True" in str(e.value)
    finally:
        plugins.unregister(other)


def test_override_wins(dummy_plugin):
    class Overrider:
        @hookimpl
        def tracklet_schemes(self):
            return [Scheme("tracking", "dummy", f"{__name__}:_Other", override=True)]

    plugin = Overrider()
    plugins.register(plugin, name="overrider")
    try:
        assert isinstance(plugins.get_tracking_store("dummy://y"), _Other)
    finally:
        plugins.unregister(plugin)


class _Other(_Dummy):
    pass


def test_first_result_hook_takes_over_any_uri():
    built = _Dummy("custom")

    class Wrapper:
        @hookimpl(tryfirst=True)
        def tracklet_tracking_store(self, uri, artifact_uri):
            return built if uri.startswith("wrapped:") else None

    plugin = Wrapper()
    plugins.register(plugin, name="wrapper")
    try:
        assert plugins.get_tracking_store("wrapped:abc") is built
    finally:
        plugins.unregister(plugin)


def test_scheme_declaration_is_checked():
    with pytest.raises(ValueError):
        Scheme("tracking", "x", "no_colon")
    with pytest.raises(ValueError):
        Scheme("nope", "x", "a:b")  # type: ignore[arg-type]


def test_import_tracklet_loads_no_plugin_and_no_pluggy():
    import subprocess
    import sys

    code = (
        "import sys, tracklet; "
        "print(sorted(m for m in sys.modules if m.startswith(('pluggy', 'tracklet_', 'tracklet.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_backend_installed_says_what_to_install(monkeypatch):
    """`pip install tracklet` alone: importing works, the first call names the packages."""
    from tracklet import _config

    for name in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_config, "_tracking_uri", None)
    pm = plugins.get_plugin_manager()
    removed = [
        (name, pm.unregister(name=name))
        for name, _ in list(pm.list_name_plugin())
        if name != "tracklet.builtin"
    ]
    plugins._clear_caches()
    try:
        with pytest.raises(TrackletException) as e:
            _config.get_tracking_uri()
        assert e.value.error_code == "FEATURE_DISABLED"
        assert "pip install tracklet-file" in str(e.value) and "pip install tracklet-sql" in str(e.value)
        assert "pip install ./plugins/file" in str(e.value) and "pip install ./plugins/sql" in str(e.value)
        with pytest.raises(TrackletException) as e:
            plugins.get_tracking_store("/some/folder")
        assert "pip install tracklet-file" in str(e.value)
    finally:
        for name, plugin in removed:
            pm.register(plugin, name=name)
        plugins._clear_caches()


def test_run_context_tags_and_request_headers_merge():
    class Extra:
        @hookimpl
        def tracklet_run_context_tags(self):
            return {"mlflow.source.type": "JOB", "team": "ml"}

        @hookimpl
        def tracklet_request_headers(self, uri):
            return {"X-Team": "ml"} if uri.startswith("http") else None

    plugin = Extra()
    plugins.register(plugin, name="extra")
    try:
        tags = plugins.run_context_tags()
        assert tags["team"] == "ml" and tags["mlflow.source.type"] == "JOB"  # plugin beats the default
        assert "mlflow.user" in tags
        assert plugins.request_headers("http://x") == {"X-Team": "ml"}
        assert plugins.request_headers("file:///x") == {}
    finally:
        plugins.unregister(plugin)


def test_default_tracking_uri_comes_from_plugins(monkeypatch):
    from tracklet import _config

    for name in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_config, "_tracking_uri", None)
    # an installed backend's proposal: tracklet-sql's ./tracklet.db (or an existing ./mlflow.db),
    # else tracklet-file's ./mlruns
    assert _config.get_tracking_uri() == plugins.default_tracking_uri()
    assert _config.get_tracking_uri().endswith(("/mlruns", "/tracklet.db", "/mlflow.db"))

    class Preferred:
        @hookimpl
        def tracklet_default_tracking_uri(self):
            return "dummy:///preferred"

    plugin = Preferred()
    plugins.register(plugin, name="preferred")
    try:
        assert _config.get_tracking_uri() == "dummy:///preferred"  # tracklet-file's is trylast
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "/from/mlflow/env")
        assert _config.get_tracking_uri() == "/from/mlflow/env"
        monkeypatch.setenv("TRACKLET_TRACKING_URI", "/from/tracklet/env")
        assert _config.get_tracking_uri() == "/from/tracklet/env"
        _config.set_tracking_uri("/explicit")
        assert _config.get_tracking_uri() == "/explicit"
    finally:
        _config.set_tracking_uri(None)
        plugins.unregister(plugin)


@pytest.mark.parametrize("flavor", ["sklearn", "pyfunc", "models"])
def test_model_flavors_fail_with_a_clear_message(flavor):
    import importlib

    module = importlib.import_module(f"tracklet.{flavor}")  # imports, as MLflow scripts need
    with pytest.raises(AttributeError) as e:
        module.some_model_function  # noqa: B018
    assert f"mlflow.{flavor}" in str(e.value) and "log_artifact" in str(e.value)
