"""The registry phase of ``tracklet migrate``: registered models, their versions, tags and
aliases, copied and compared through the :class:`~tracklet.stores.registry.RegistryStore`
contract only, so any registry store takes part.

The copy writes with the destination's ``import`` primitives (capability ``import``), which
upsert what they are given: a copy killed at any moment and started again ends with
nothing missing and nothing twice. Versions keep their numbers, gaps left by deleted
versions included (the source's :meth:`~RegistryStore.get_last_version_number` goes with
the model, so the destination numbers its next version as the source would), and every
field: source, download location, run id and link, stage, status, description, user,
times, tags and logged model id (a destination in MLflow's SQL schema has no column for
the last one). A model is written before its versions and its aliases after them; the
model's update time is the source's at the end.

Not copied: prompts (MLflow keeps them as registered models, but the contract's searches
leave them out), and the deleted versions themselves (only their numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.exceptions import NOT_IMPLEMENTED, TrackletException
from tracklet.stores.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryStore,
)

__all__ = ["copy_registry", "verify_registry"]

_VERSION_FIELDS = (
    "creation_timestamp",
    "last_updated_timestamp",
    "description",
    "user_id",
    "current_stage",
    "source",
    "run_id",
    "run_link",
    "status",
    "status_message",
    "model_id",
)
_MODEL_FIELDS = ("creation_timestamp", "last_updated_timestamp", "description", "deployment_job_id")


def _models(store: RegistryStore) -> list[RegisteredModel]:
    """Every registered model, by name."""
    out: list[RegisteredModel] = []
    token: str | None = None
    while True:
        page = store.search_registered_models(
            max_results=SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD, order_by=["name ASC"], page_token=token
        )
        out.extend(page)
        token = page.token
        if not token:
            return out


def _versions(store: RegistryStore, name: str) -> list[ModelVersion]:
    """Every visible version of the model, by number."""
    out: list[ModelVersion] = []
    token: str | None = None
    query = f"name = '{name}'"  # model names cannot hold a quote
    while True:
        page = store.search_model_versions(
            query, max_results=SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD, page_token=token
        )
        out.extend(page)
        token = page.token
        if not token:
            return sorted(out, key=lambda v: int(v.version))


def _check_destination(dst: RegistryStore) -> None:
    if "import" not in dst.capabilities:
        raise TrackletException(
            f"The destination registry ({type(dst).__name__} at {dst.store_uri}) cannot import "
            "registered models: it does not declare capability 'import'. Migrate into a "
            "tracklet store instead (a database URI such as sqlite:///tracklet.db, a folder, or "
            "MLflow's own database URI).",
            NOT_IMPLEMENTED,
        )


@contextlib.contextmanager
def _bar(progress: Any, total: int) -> Iterator[Any]:
    """``progress``: False (quiet), True (a bar of this phase's own), or a bar to update."""
    if progress is True:
        from tracklet.migrate._progress import phase

        with phase("registry", total, True) as bar:
            yield bar
    elif progress and hasattr(progress, "update"):
        yield progress
    else:
        yield None


def _copy_model(
    src: RegistryStore, dst: RegistryStore, model: RegisteredModel, versions: list[ModelVersion]
) -> None:
    dst.import_registered_model(model, src.get_last_version_number(model.name))
    for version in versions:
        location = src.get_model_version_download_uri(model.name, str(version.version))
        dst.import_model_version(version, storage_location=location)
    dst.import_registered_model_aliases(model.name, dict(model.aliases))


def copy_registry(
    src_registry: RegistryStore, dst_registry: RegistryStore, *, dry_run: bool, progress: Any = False
) -> dict[str, int]:
    """Copy every registered model with its versions, tags and aliases from ``src_registry``
    into ``dst_registry`` (see the module docstring); with ``dry_run`` only count them.

    :returns: counts: ``registered_models``, ``model_versions``, ``aliases``.
    :raises TrackletException: ``NOT_IMPLEMENTED`` when the destination cannot import.
    """
    if not dry_run:
        _check_destination(dst_registry)
    counts = {"registered_models": 0, "model_versions": 0, "aliases": 0}
    models = _models(src_registry)
    with _bar(progress, len(models)) as bar:
        for model in models:
            versions = _versions(src_registry, model.name)
            if not dry_run:
                _copy_model(src_registry, dst_registry, model, versions)
            counts["registered_models"] += 1
            counts["model_versions"] += len(versions)
            counts["aliases"] += len(model.aliases)
            if bar is not None:
                bar.update(1)
    return counts


def _compare(label: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [
        f"{label}: {key} is {a.get(key)!r} in the source, {b.get(key)!r} in the destination"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _model_view(store: RegistryStore, model: RegisteredModel) -> dict[str, Any]:
    view = {field: getattr(model, field) for field in _MODEL_FIELDS}
    view["description"] = view["description"] or None
    view["tags"] = dict(model.tags)
    view["aliases"] = {alias: str(v) for alias, v in model.aliases.items()}
    view["last_version_number"] = store.get_last_version_number(model.name)
    return view


#: Text fields MLflow's REST messages cannot leave unset: an absent user or run link reads
#: back as "" through any server, so "" and None compare equal.
_TEXT_FIELDS = ("description", "user_id", "run_id", "run_link", "status_message", "model_id")


def _version_view(store: RegistryStore, version: ModelVersion) -> dict[str, Any]:
    view = {field: getattr(version, field) for field in _VERSION_FIELDS}
    view.update({field: view[field] or None for field in _TEXT_FIELDS})
    view["tags"] = dict(version.tags)
    view["download_uri"] = store.get_model_version_download_uri(version.name, str(version.version))
    return view


def verify_registry(src_registry: RegistryStore, dst_registry: RegistryStore) -> list[str]:
    """Every difference between the two registries, one readable line each (none: equal):
    models missing or extra, model fields, tags, aliases and numbering, versions missing or
    extra, and every field, tag and download location of each version."""
    out: list[str] = []
    src = {m.name: m for m in _models(src_registry)}
    dst = {m.name: m for m in _models(dst_registry)}
    for name in sorted(set(src) - set(dst)):
        out.append(f"registered model {name!r}: missing in the destination")
    for name in sorted(set(dst) - set(src)):
        out.append(f"registered model {name!r}: in the destination only")
    for name in sorted(set(src) & set(dst)):
        label = f"registered model {name!r}"
        out += _compare(label, _model_view(src_registry, src[name]), _model_view(dst_registry, dst[name]))
        src_versions = {str(v.version): v for v in _versions(src_registry, name)}
        dst_versions = {str(v.version): v for v in _versions(dst_registry, name)}
        for number in sorted(set(src_versions) | set(dst_versions), key=int):
            where = f"version {number} of {name!r}"
            if number not in dst_versions:
                out.append(f"{where}: missing in the destination")
            elif number not in src_versions:
                out.append(f"{where}: in the destination only")
            else:
                out += _compare(
                    where,
                    _version_view(src_registry, src_versions[number]),
                    _version_view(dst_registry, dst_versions[number]),
                )
    return out
