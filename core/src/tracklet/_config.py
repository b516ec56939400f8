"""Where tracking and registry calls go: the configured URIs.

Order of precedence: :func:`set_tracking_uri`, then ``TRACKLET_TRACKING_URI``, then
``MLFLOW_TRACKING_URI``, then the default an installed plugin proposes. The registry URI:
:func:`set_registry_uri`, then ``TRACKLET_REGISTRY_URI``, then ``MLFLOW_REGISTRY_URI``,
then the tracking URI (a client's own, for a client).
"""

from __future__ import annotations

from pathlib import Path

from tracklet.exceptions import FEATURE_DISABLED, TrackletException
from tracklet.utils import environment

_tracking_uri: str | None = None
_registry_uri: str | None = None


def set_tracking_uri(uri: str | Path | None) -> None:
    """Send later calls to ``uri``: a path, ``file:``, ``sqlite:``, ``http(s):``, …

    None goes back to the environment or the default. An empty string means the
    ``./mlruns`` folder (the file store), as in MLflow. A :class:`pathlib.Path` is stored
    as its absolute ``file://`` URI, as MLflow stores it.
    """
    global _tracking_uri
    if isinstance(uri, Path):  # as MLflow: a Path becomes an absolute file: URI
        uri = uri.absolute().resolve().as_uri()
    _tracking_uri = uri


def get_tracking_uri() -> str:
    """The tracking URI in force now."""
    if _tracking_uri is not None:
        return _tracking_uri
    uri = environment.get("TRACKING_URI")
    if uri:
        return uri
    from tracklet import plugins

    default = plugins.default_tracking_uri()
    if default is None:
        raise TrackletException(
            "No tracking backend is installed and no tracking URI is set. Install one, e.g. "
            "'pip install tracklet-file' (a local ./mlruns folder) or 'pip install tracklet-sql' "
            "(sqlite, PostgreSQL, MySQL) — from a clone of the tracklet repository: "
            "'pip install ./plugins/file' or 'pip install ./plugins/sql' — or set TRACKLET_TRACKING_URI.",
            FEATURE_DISABLED,
        )
    return default


def is_tracking_uri_set() -> bool:
    """True when the user chose a tracking URI (call or environment)."""
    return _tracking_uri is not None or bool(environment.get("TRACKING_URI"))


def set_registry_uri(uri: str | Path | None) -> None:
    """Send registry calls to ``uri`` (default: the tracking URI)."""
    global _registry_uri
    _registry_uri = str(uri) if uri not in (None, "") else None


def registry_uri_from_context() -> str | None:
    """The registry URI the user chose: :func:`set_registry_uri`, then
    ``TRACKLET_REGISTRY_URI``, then ``MLFLOW_REGISTRY_URI``; None when none is set."""
    return _registry_uri or environment.get("REGISTRY_URI")


def resolve_registry_uri(registry_uri: str | None = None, tracking_uri: str | None = None) -> str:
    """As MLflow resolves a client's registry URI: the one given, else the one chosen
    (:func:`registry_uri_from_context`), else ``tracking_uri``, else the tracking URI in force."""
    return str(registry_uri or registry_uri_from_context() or tracking_uri or get_tracking_uri())


def get_registry_uri() -> str:
    """The registry URI in force now (falls back to the tracking URI)."""
    return resolve_registry_uri()
