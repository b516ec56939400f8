"""Hook implementations of tracklet-ui: the UI's files and JSON routes for ``tracklet
server``, and the ``tracklet ui`` command."""

from __future__ import annotations

import importlib.util
from typing import Any

from tracklet.plugins import hookimpl

#: The name the server reports the UI's assets under (two plugins may not share it).
ASSETS_NAME = "tracklet-ui"


@hookimpl
def tracklet_server_routes() -> list[Any]:
    """The UI's static files at ``/ui/`` (``/`` redirects there) and its own JSON routes
    under ``/api/2.0/tracklet/ui/``."""
    from tracklet.routes import Assets
    from tracklet_ui import STATIC_DIR, URL_PREFIX

    contributed: list[Any] = [Assets(ASSETS_NAME, URL_PREFIX, STATIC_DIR, root=True)]
    # JSON routes live in their own modules, each exposing ``routes() -> list[Route]``.
    # A module is picked up when it exists, so a route module is added by creating it
    # (tracklet_ui/series.py: the downsampled metric-series endpoint) and listing it here.
    for module_name in ROUTE_MODULES:
        if importlib.util.find_spec(module_name) is not None:
            module = importlib.import_module(module_name)
            contributed.extend(module.routes())
    return contributed


#: Modules of tracklet-ui contributing JSON routes (see tracklet_server_routes).
ROUTE_MODULES = ("tracklet_ui.series",)


@hookimpl
def tracklet_cli_commands() -> list[Any]:
    """``tracklet ui``: a local viewer, ``tracklet server`` on loopback with the UI."""
    from tracklet_ui.cli import ui

    return [ui]
