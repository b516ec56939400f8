"""The copy primitives of :class:`~tracklet_registry.rest.RestRegistryStore` (capability
``import``), through ``tracklet server``'s own registry routes (:mod:`.import_wire`).

MLflow's server has no such routes. Its answer (404 or 405, an HTML page or
``ENDPOINT_NOT_FOUND``) becomes ``NOT_IMPLEMENTED`` naming what to do instead: migrate
into that server's backend database. Reading a model's last version number falls back
on the highest visible version there, so such a server can be the source of a copy.
"""

from __future__ import annotations

from typing import Any

from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.exceptions import ENDPOINT_NOT_FOUND, NOT_IMPLEMENTED, RestException, TrackletException
from tracklet.routes import HttpTransport
from tracklet_registry import import_wire as w

__all__ = ["RestRegistryImports"]


def _route_missing(exc: TrackletException) -> bool:
    """Whether ``exc`` says the server has no such route (rather than refusing the call)."""
    if exc.error_code == ENDPOINT_NOT_FOUND:
        return True
    return getattr(exc, "http_status", None) in (404, 405) and not isinstance(exc, RestException)


def _not_a_tracklet_server(url: str) -> TrackletException:
    return TrackletException(
        f"The server at {url} does not accept registry imports (MLflow's server has no such "
        "API): migrate into its backend database URI instead, e.g. `tracklet migrate SRC "
        "postgresql://user@host/db` (or sqlite:///path/to/mlflow.db), while the server is idle.",
        NOT_IMPLEMENTED,
    )


class RestRegistryImports:
    """Mixin: ``_import_*`` and ``_get_last_version_number`` over HTTP."""

    transport: HttpTransport
    store_uri: str | None

    def _import_call(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.transport.call("POST", w.PATHS[name], json=payload, idempotent=True)
        except TrackletException as exc:
            if _route_missing(exc):
                raise _not_a_tracklet_server(str(self.store_uri)) from None
            raise
        return answer

    def _import_registered_model(self, model: RegisteredModel, last_version: int) -> None:
        payload = {"registered_model": w.model_to_wire(model), "last_version": last_version}
        self._import_call("import_registered_model", payload)

    def _import_model_version(self, version: ModelVersion, number: int, storage_location: str) -> None:
        payload = {"model_version": w.version_to_wire(version), "storage_location": storage_location}
        self._import_call("import_model_version", payload)

    def _import_registered_model_aliases(self, name: str, aliases: dict[str, int]) -> None:
        items = [{"alias": alias, "version": str(number)} for alias, number in aliases.items()]
        self._import_call("import_registered_model_aliases", {"name": name, "aliases": items})

    def _get_last_version_number(self, name: str) -> int:
        try:
            answer = self.transport.call("GET", w.PATHS["get_last_version_number"], params=[("name", name)])
        except TrackletException as exc:
            if not _route_missing(exc):
                raise
            fallback: int = super()._get_last_version_number(name)  # type: ignore[misc]
            return fallback
        return int(answer.get("last_version") or 0)
