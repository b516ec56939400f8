"""Where a dataset came from, as MLflow records it (``source_type`` + a JSON ``source``)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

_NOT_ARTIFACT_SCHEMES = ("runs", "models", "mlflow-artifacts")


class DatasetSource:
    """A dataset's source: its type (``local``, ``http``, ``s3``, ``code``…) and a
    JSON-compatible description (``{"uri": …}``, ``{"url": …}`` or ``{"tags": …}``)."""

    def __init__(self, source_type: str, description: dict[str, Any]) -> None:
        self._source_type = source_type
        self._description = description

    def _get_source_type(self) -> str:
        """The ``source_type`` stored with the dataset (MLflow's method name)."""
        return self._source_type

    def to_dict(self) -> dict[str, Any]:
        """The description stored as the dataset's ``source``."""
        return dict(self._description)

    def to_json(self) -> str:
        """``to_dict()`` as JSON."""
        return json.dumps(self.to_dict())


def resolve_source(raw: Any) -> DatasetSource:
    """MLflow's resolution of a ``source`` argument: an object with ``to_json`` and
    ``_get_source_type`` is kept; ``http(s)://`` URLs are ``http`` sources; local paths and
    ``file:`` URIs are ``local``; any other scheme (``s3``, ``gs``…) names its own type."""
    if hasattr(raw, "to_json") and hasattr(raw, "_get_source_type"):
        return raw if isinstance(raw, DatasetSource) else _Foreign(raw)
    text = str(raw)
    scheme = urllib.parse.urlparse(text).scheme
    if scheme in ("http", "https"):
        return DatasetSource("http", {"url": text})
    if len(scheme) <= 1 or scheme == "file":  # a path, a Windows drive letter, or file:
        return DatasetSource("local", {"uri": text})
    if scheme in _NOT_ARTIFACT_SCHEMES:
        raise ValueError(
            f"Could not find a dataset source for {text!r}: '{scheme}:' URIs name MLflow "
            "artifacts, not datasets. Pass the dataset's own path or URI."
        )
    return DatasetSource(scheme, {"uri": text})


def code_source() -> DatasetSource:
    """The source MLflow gives a dataset built without one: the running code, described by
    the run context tags (``mlflow.source.name``, ``mlflow.source.type``, ``mlflow.user``)."""
    from tracklet import plugins

    return DatasetSource("code", {"tags": plugins.run_context_tags()})


class _Foreign(DatasetSource):
    """A source object from elsewhere (e.g. an ``mlflow.data`` source), used as it is."""

    def __init__(self, source: Any) -> None:
        super().__init__(source._get_source_type(), {})
        self._source = source

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self._source.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return self._source.to_json()  # type: ignore[no-any-return]
