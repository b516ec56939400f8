"""``tracklet server --mlflow-ui``: MLflow's own web UI, from an installed ``mlflow`` package,
served as MLflow's server serves it.

The bundle is the folder ``<mlflow package>/server/js/build``, found with
:func:`importlib.util.find_spec` (mlflow is never imported: that takes seconds and pulls
in half of PyPI). It is served at ``/`` (its ``index.html``) and ``/static-files/<path>``
(everything else, as MLflow's Flask app does, cached for 28 days: the file names carry
content hashes); the API calls the bundle makes (``ajax-api/2.0/mlflow/…``,
``ajax-api/3.0/mlflow/…``, ``get-artifact``, ``server-info``…) are the server's own
routes. tracklet's own UI, when installed, stays at ``/ui/``.

MLflow's bundle runs inline scripts and ``eval`` (webpack's runtime, Monaco), so its pages
carry no ``Content-Security-Policy`` — MLflow's server sends none either; they get the
server's ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: SAMEORIGIN`` as MLflow's
do. tracklet's UI keeps its strict policy (:data:`tracklet_http.server.assets.CONTENT_SECURITY_POLICY`).

The flag travels to worker processes in :data:`ENV` (the bundle's folder).
"""

from __future__ import annotations

import importlib.util
import os

from starlette.routing import BaseRoute, Route

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.routes import Assets
from tracklet_http.server.assets import AssetsFolder, file_endpoint, guarded

__all__ = ["ENV", "STATIC_PREFIX", "find_bundle", "mlflow_ui_routes"]

#: The environment variable carrying the bundle's folder to the server's workers.
ENV = "TRACKLET_SERVER_MLFLOW_UI"
#: Where MLflow's UI loads its scripts, styles and fonts from.
STATIC_PREFIX = "/static-files"
#: MLflow's cache lifetime for ``/static-files`` (28 days).
STATIC_CACHE = "public, max-age=2419200"
#: Where the bundle lives inside the mlflow package.
BUNDLE_PATH = ("server", "js", "build")


def find_bundle() -> str:
    """The installed mlflow package's UI folder, without importing mlflow.

    :raises TrackletException: when mlflow is not installed, or has no built UI.
    """
    try:
        spec = importlib.util.find_spec("mlflow")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise TrackletException(
            "tracklet server --mlflow-ui serves the web UI of an installed mlflow package, and mlflow "
            "is not installed here: pip install mlflow (or start without --mlflow-ui; tracklet's own UI: "
            "pip install tracklet-ui).",
            INVALID_PARAMETER_VALUE,
        )
    package = list(spec.submodule_search_locations)[0]
    bundle = os.path.join(package, *BUNDLE_PATH)
    if not os.path.isfile(os.path.join(bundle, "index.html")):
        raise TrackletException(
            f"tracklet server --mlflow-ui: the mlflow package at {package} has no built web UI "
            f"({bundle}/index.html is missing; a source checkout of mlflow?). Install a release: "
            "pip install --force-reinstall mlflow.",
            INVALID_PARAMETER_VALUE,
        )
    return os.path.abspath(bundle)


def mlflow_ui_routes(bundle: str) -> list[BaseRoute]:
    """``/`` and ``/static-files/<path>`` serving MLflow's UI ``bundle`` (GET and HEAD),
    with the server's auth; no Content-Security-Policy (see the module's text)."""
    folder = AssetsFolder(Assets("mlflow-ui", STATIC_PREFIX, bundle))
    index = file_endpoint(folder)  # "" -> index.html
    static = file_endpoint(folder, cache_control=STATIC_CACHE)
    return [
        Route("/", guarded(index, headers={}), methods=["GET"]),
        Route(STATIC_PREFIX + "/{path:path}", guarded(static, headers={}), methods=["GET"]),
    ]
