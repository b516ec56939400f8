"""The registry phase: handed to :mod:`tracklet.migrate._registry` when both sides have a
model registry, skipped with a note otherwise."""

from __future__ import annotations

from typing import Any

from tracklet.exceptions import TrackletException

__all__ = ["copy", "differences"]


def _stores(src_uri: str, dst_uri: str) -> tuple[Any, Any, Any] | str:
    """(the phase's module, source registry, destination registry), or why there is none."""
    import importlib

    try:
        phase = importlib.import_module("tracklet.migrate._registry")
    except ModuleNotFoundError as exc:
        if exc.name != "tracklet.migrate._registry":
            raise
        return "this tracklet has no registry phase for migrate yet; registered models were not looked at"
    from tracklet.plugins import get_registry_store

    stores = []
    for side, uri in (("source", src_uri), ("destination", dst_uri)):
        try:
            stores.append(get_registry_store(uri, tracking_uri=uri))
        except TrackletException as exc:
            return f"the {side} has no model registry ({exc.message.splitlines()[0]}); registry skipped"
    return phase, stores[0], stores[1]


def copy(src_uri: str, dst_uri: str, *, dry_run: bool, progress: bool) -> tuple[dict[str, int], str | None]:
    """Copy registered models, versions, aliases and tags; (counts, note)."""
    found = _stores(src_uri, dst_uri)
    if isinstance(found, str):
        return {}, found
    phase, src, dst = found
    counts = phase.copy_registry(src, dst, dry_run=dry_run, progress=progress)
    return dict(counts), None


def differences(src_uri: str, dst_uri: str) -> tuple[list[str], str | None]:
    """The registry's differences as lines; (lines, note)."""
    found = _stores(src_uri, dst_uri)
    if isinstance(found, str):
        return [], found
    phase, src, dst = found
    return list(phase.verify_registry(src, dst)), None
