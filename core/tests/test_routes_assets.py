"""``tracklet.routes.Assets``: the static files a plugin serves through
``tracklet_server_routes``, checked when declared and collected by
:func:`tracklet.plugins.server_assets` (collisions refused naming both plugins).

Throwaway plugins are registered in this process; an installed tracklet-ui may contribute
its own assets too, so lists are filtered by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet import plugins
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.plugins import hookimpl
from tracklet.routes import Assets, Route, RouteRequest

HERE = os.path.dirname(os.path.abspath(__file__))


def _answer(request: RouteRequest) -> dict[str, Any]:
    return {}


class PagePlugin:
    def __init__(self, *items: object) -> None:
        self.items = list(items)

    @hookimpl
    def tracklet_server_routes(self) -> list[object]:
        return self.items


@pytest.fixture
def register() -> Iterator[Any]:
    added: list[object] = []

    def add(plugin: object, name: str) -> None:
        plugins.register(plugin, name=name)
        added.append(plugin)

    yield add
    for plugin in reversed(added):
        plugins.unregister(plugin)


def _ours(names: set[str]) -> dict[str, Assets]:
    return {a.name: a for a in plugins.server_assets() if a.name in names}


def test_assets_keep_what_they_were_given_with_the_documented_defaults() -> None:
    assets = Assets("pages", "/pages", HERE)
    assert (assets.name, assets.prefix, assets.directory) == ("pages", "/pages", HERE)
    assert assets.index == "index.html" and assets.root is False
    assert Assets("deep", "/a/b-c/v1.2", HERE, index="home.htm", root=True).root is True


@pytest.mark.parametrize(
    "prefix", ["", "/", "ui", "/ui/", "//ui", "/ui//x", "/..", "/ui/../x", "/./ui", "/u i", "/ui?x", "/{x}"]
)
def test_a_prefix_must_be_plain_segments(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix must start with '/'") as caught:
        Assets("pages", prefix, HERE)
    assert repr(prefix) in str(caught.value)


@pytest.mark.parametrize("directory", ["static", "./static", "", "~/static"])
def test_the_directory_must_be_absolute(directory: str) -> None:
    with pytest.raises(ValueError, match="directory must be an absolute path"):
        Assets("pages", "/pages", directory)


@pytest.mark.parametrize("index", ["", "a/index.html", "..", ".hidden", "a\\b.html", "x\x00"])
def test_the_index_must_be_a_file_name(index: str) -> None:
    with pytest.raises(ValueError, match="index must be a file name"):
        Assets("pages", "/pages", HERE, index=index)


def test_a_name_is_required() -> None:
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Assets(" ", "/pages", HERE)


def test_overlap_is_by_whole_segments() -> None:
    ui = Assets("a", "/ui", HERE)
    assert ui.overlaps(Assets("b", "/ui", HERE))
    assert ui.overlaps(Assets("b", "/ui/x", HERE))
    assert Assets("b", "/ui/x", HERE).overlaps(ui)
    assert not ui.overlaps(Assets("b", "/uix", HERE))
    assert not ui.overlaps(Assets("b", "/x/ui", HERE))


def test_assets_are_collected_apart_from_routes(register: Any) -> None:
    route = Route("get_page_data", "GET", "/api/2.0/pages/data", _answer)
    register(PagePlugin(Assets("test-pages", "/test-pages", HERE), route), "pages")
    assert _ours({"test-pages"}) == {"test-pages": Assets("test-pages", "/test-pages", HERE)}
    names = [r.name for r in plugins.server_routes()]
    assert "get_page_data" in names
    assert all(isinstance(r, Route) for r in plugins.server_routes())


def test_two_assets_of_one_name_are_refused_naming_both_plugins(register: Any) -> None:
    register(PagePlugin(Assets("twin", "/twin-a", HERE)), "first-pages")
    register(PagePlugin(Assets("twin", "/twin-b", HERE)), "second-pages")
    with pytest.raises(TrackletException) as caught:
        plugins.server_assets()
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    message = caught.value.message
    assert "first-pages" in message and "second-pages" in message and "'twin'" in message


def test_overlapping_prefixes_are_refused_naming_both(register: Any) -> None:
    register(PagePlugin(Assets("outer", "/nest", HERE)), "first-pages")
    register(PagePlugin(Assets("inner", "/nest/inner", HERE)), "second-pages")
    with pytest.raises(TrackletException, match="overlapping asset prefixes") as caught:
        plugins.server_assets()
    message = caught.value.message
    assert "'/nest'" in message and "'/nest/inner'" in message
    assert "first-pages" in message and "second-pages" in message


def test_two_roots_are_refused(register: Any) -> None:
    installed_root = [a for a in plugins.server_assets() if a.root]
    register(PagePlugin(Assets("root-a", "/root-a", HERE, root=True)), "first-pages")
    if not installed_root:
        register(PagePlugin(Assets("root-b", "/root-b", HERE, root=True)), "second-pages")
    with pytest.raises(TrackletException, match=r"answering '/' \(root=True\)") as caught:
        plugins.server_assets()
    assert "first-pages" in caught.value.message


def test_something_that_is_neither_a_route_nor_assets_is_refused(register: Any) -> None:
    register(PagePlugin({"path": "/x"}), "sloppy-pages")
    with pytest.raises(TrackletException, match="sloppy-pages returned dict"):
        plugins.server_routes()
