"""Hook implementations of tracklet-ui: the UI's files and JSON routes for ``tracklet
server``, and the ``tracklet ui`` command."""

from __future__ import annotations

from typing import Any

from tracklet.plugins import hookimpl

#: The name the server reports the UI's assets under (two plugins may not share it).
ASSETS_NAME = "tracklet-ui"


@hookimpl
def tracklet_server_routes() -> list[Any]:
    """The UI's static files at ``/ui/`` (``/`` redirects there) and its own JSON routes
    under ``/api/2.0/tracklet/ui/`` (:mod:`tracklet_ui.series`: a metric's history sampled
    for a chart)."""
    from tracklet.routes import Assets
    from tracklet_ui import STATIC_DIR, URL_PREFIX
    from tracklet_ui.series import routes

    return [Assets(ASSETS_NAME, URL_PREFIX, STATIC_DIR, root=True), *routes()]


@hookimpl
def tracklet_cli_commands() -> list[Any]:
    """``tracklet ui``: a local viewer, ``tracklet server`` on loopback with the UI."""
    from tracklet_ui.cli import ui

    return [ui]
