"""The hooks through which one plugin contributes to another's product without importing
it: server routes, SQL migration sets, the HTTP transport and the SQL engine.

Throwaway plugins registered in this process implement each hook; the core helpers of
:mod:`tracklet.plugins` must return what they give, refuse collisions naming both
plugins, and name the package to install when nothing answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from tracklet import plugins
from tracklet.exceptions import FEATURE_DISABLED, INVALID_PARAMETER_VALUE, TrackletException
from tracklet.plugins import SqlMigrations, hookimpl
from tracklet.routes import Field, HttpTransport, Route, RoutePermission, RouteRequest


def _answer(request: RouteRequest) -> dict[str, Any]:
    return {}


def _route(name: str = "get_gadget", path: str = "/api/2.0/gadgets/get") -> Route:
    return Route(name, "GET", path, _answer, fields=(Field("name", required=True),))


class _Transport:
    """A transport of a plugin's own: what a test double of a server client looks like."""

    base_url = "http://hooked.example"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        return {"method": method, "path": path, "json": json, "params": params}


class GadgetPlugin:
    """Implements every contribution hook."""

    def __init__(self, routes: list[Route] | None = None, sets: list[SqlMigrations] | None = None) -> None:
        self.routes = routes or []
        self.sets = sets or []
        self.engine = sa.create_engine("sqlite://")

    @hookimpl
    def tracklet_server_routes(self) -> list[Route]:
        return self.routes

    @hookimpl
    def tracklet_sql_migrations(self) -> list[SqlMigrations]:
        return self.sets

    @hookimpl
    def tracklet_http_transport(self, uri: str) -> HttpTransport | None:
        return _Transport() if uri.startswith("http://hooked.example") else None

    @hookimpl
    def tracklet_sql_engine(self, uri: str) -> Any:
        return self.engine if uri == "gadgetdb://one" else None


def _gadget_set(
    name: str = "tracklet-gadgets", table: str = "tracklet_gadgets_alembic_version"
) -> SqlMigrations:
    return SqlMigrations(name, "/nowhere", table, "g001", "gadgets.schema:metadata")


@pytest.fixture
def register() -> Iterator[Any]:
    added: list[object] = []

    def add(plugin: object, name: str) -> object:
        plugins.register(plugin, name=name)
        added.append(plugin)
        return plugin

    yield add
    for plugin in reversed(added):
        plugins.unregister(plugin)


def test_server_routes_are_collected(register: Any) -> None:
    register(GadgetPlugin([_route()]), "gadgets")
    routes = {route.name: route for route in plugins.server_routes()}
    assert routes["get_gadget"].path == "/api/2.0/gadgets/get"
    assert routes["get_gadget"].fields == (Field("name", required=True),)


def test_two_plugins_routes_on_one_path_are_refused_naming_both(register: Any) -> None:
    register(GadgetPlugin([_route("a_route")]), "first-gadgets")
    register(GadgetPlugin([_route("b_route")]), "second-gadgets")
    with pytest.raises(TrackletException) as caught:
        plugins.server_routes()
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    assert "first-gadgets" in caught.value.message and "second-gadgets" in caught.value.message
    assert "GET /api/2.0/gadgets/get" in caught.value.message


def test_two_plugins_routes_of_one_name_are_refused(register: Any) -> None:
    register(GadgetPlugin([_route("same", "/api/2.0/gadgets/a")]), "first-gadgets")
    register(GadgetPlugin([_route("same", "/api/2.0/gadgets/b")]), "second-gadgets")
    with pytest.raises(TrackletException, match="the name 'same'"):
        plugins.server_routes()


def test_route_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        Route("x", "FETCH", "/api/x", _answer)
    with pytest.raises(ValueError, match="path must be absolute"):
        Route("x", "GET", "api/x", _answer)
    with pytest.raises(ValueError, match="field 'n' has type 'Widget'"):
        Route("x", "GET", "/api/x", _answer, fields=[Field("n", "Widget")])
    with pytest.raises(ValueError, match="resource must be one of"):
        RoutePermission("widget", "name", "READ")
    with pytest.raises(ValueError, match="level must be one of"):
        RoutePermission("experiment", "experiment_id", "OWN")
    route = Route("x", "POST", "/api/2.0/x/{x_id}/parts/{part}", _answer, also=("PATCH",))
    assert route.path_param_names == ("x_id", "part")
    assert route.methods == ("POST", "PATCH")


def test_sql_migration_sets_are_collected_and_clashes_refused(register: Any) -> None:
    register(GadgetPlugin(sets=[_gadget_set()]), "gadgets")
    assert _gadget_set() in plugins.sql_migrations()
    register(GadgetPlugin(sets=[_gadget_set("other-gadgets")]), "other-gadgets")
    with pytest.raises(TrackletException) as caught:
        plugins.sql_migrations()
    assert "version table 'tracklet_gadgets_alembic_version'" in caught.value.message
    assert "gadgets" in caught.value.message and "other-gadgets" in caught.value.message


def test_a_migration_set_needs_its_own_version_table() -> None:
    with pytest.raises(ValueError, match="the set.s own table"):
        SqlMigrations("x", "/x", "alembic_version", "1", "m:metadata")
    with pytest.raises(ValueError, match="module:attr"):
        SqlMigrations("x", "/x", "x_version", "1", "metadata")
    assert SqlMigrations("x", "/x", "x_version", "1", "sqlalchemy:MetaData").load_metadata() is sa.MetaData


def test_the_http_transport_comes_from_the_hook(register: Any) -> None:
    register(GadgetPlugin(), "gadgets")
    transport = plugins.http_transport("http://hooked.example")
    assert transport.base_url == "http://hooked.example"
    assert transport.call("POST", "/api/x", json={"a": 1}) == {
        "method": "POST",
        "path": "/api/x",
        "json": {"a": 1},
        "params": None,
    }


def test_the_sql_engine_comes_from_the_hook(register: Any) -> None:
    plugin = register(GadgetPlugin(), "gadgets")
    engine = plugins.sql_engine("gadgetdb://one")
    assert engine is plugin.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def _without(hook: str) -> Iterator[None]:
    """Unregister, for the test, every plugin implementing ``hook`` (the installed ones)."""
    pm = plugins.get_plugin_manager()
    removed = [(impl.plugin, impl.plugin_name) for impl in getattr(pm.hook, hook).get_hookimpls()]
    for plugin, _ in removed:
        plugins.unregister(plugin)
    try:
        yield
    finally:
        for plugin, name in removed:
            plugins.register(plugin, name=name)


def test_without_a_transport_plugin_the_error_names_the_package() -> None:
    for _ in _without("tracklet_http_transport"):
        with pytest.raises(TrackletException) as caught:
            plugins.http_transport("https://tracking.example.com")
    assert caught.value.error_code == FEATURE_DISABLED
    assert "pip install tracklet-http" in caught.value.message
    assert "pip install ./plugins/http" in caught.value.message  # from a clone


def test_without_an_engine_plugin_the_error_names_the_package() -> None:
    for _ in _without("tracklet_sql_engine"):
        with pytest.raises(TrackletException) as caught:
            plugins.sql_engine("postgresql://db.example.com/tracking")
    assert caught.value.error_code == FEATURE_DISABLED
    assert "pip install tracklet-sql" in caught.value.message
    assert "pip install ./plugins/sql" in caught.value.message


def test_a_transport_for_a_non_http_uri_is_refused() -> None:
    with pytest.raises(TrackletException, match="expected a tracking server's http"):
        plugins.http_transport("s3://bucket/path")
