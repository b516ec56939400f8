"""Hook implementations of tracklet-http: REST tracking stores, the artifact proxy
client, and the ``tracklet server`` command."""

from __future__ import annotations

from typing import Any

from tracklet.plugins import Scheme, hookimpl
from tracklet.uri import get_scheme


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    store = "tracklet_http.client:RestStore"
    repo = "tracklet_http.artifacts:HttpArtifactRepository"
    return [
        Scheme("tracking", "http", store),
        Scheme("tracking", "https", store),
        Scheme("artifacts", "http", repo),
        Scheme("artifacts", "https", repo),
        Scheme("artifacts", "mlflow-artifacts", repo),
    ]


@hookimpl
def tracklet_cli_commands() -> list[Any]:
    from tracklet_http.server.cli import server

    return [server]


@hookimpl
def tracklet_http_transport(uri: str) -> Any:
    """tracklet-http's transport (retries, auth, TLS, plugin headers, fork safety) for
    the ``http(s)://`` server at ``uri``, one per URI per process."""
    if get_scheme(uri) not in ("http", "https"):
        return None
    from tracklet_http.transport import shared_transport

    return shared_transport(uri)
