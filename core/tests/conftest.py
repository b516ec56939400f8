"""Fixtures shared by the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracklet import plugins


@pytest.fixture
def without_the_https_plugin() -> Iterator[None]:
    """The plugin manager without whatever plugin serves ``https`` tracking URIs (tracklet-http
    when installed), as on a machine where it is not installed; put back afterwards."""
    pm = plugins.get_plugin_manager()
    removed = []
    for name, plugin in list(pm.list_name_plugin()):
        if any(s.kind == "tracking" and s.scheme == "https" for s in _declared(plugin)):
            plugins.unregister(plugin)
            removed.append((name, plugin))
    try:
        yield
    finally:
        for name, plugin in removed:
            plugins.register(plugin, name)


def _declared(plugin: object) -> list[plugins.Scheme]:
    hook = getattr(plugin, "tracklet_schemes", None)
    return list(hook() or []) if callable(hook) else []
