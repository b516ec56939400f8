"""tracklet-ui: tracklet's web UI, served by ``tracklet server`` at ``/ui/`` (and ``/``).

The browser side is plain ES modules in ``static/`` (no build step); the Python side is
only the plugin hooks that hand those files and a few JSON routes to the server, and the
``tracklet ui`` command.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "URL_PREFIX"]

#: The folder of files the server serves as they are.
STATIC_DIR = str(Path(__file__).resolve().parent / "static")
#: Where the UI lives on the server; ``/`` redirects there.
URL_PREFIX = "/ui"
