"""MLflow's on-disk layout of the model registry and of logged models, and its ``meta.yaml``
formats (MLflow 3.17's file stores write exactly these keys)::

    <root>/models/<name>/meta.yaml                  registered model
    <root>/models/<name>/tags/<key>                 registered-model tag (value, no newline)
    <root>/models/<name>/aliases/<alias>            alias: the version number it points at
    <root>/models/<name>/version-<n>/meta.yaml      model version
    <root>/models/<name>/version-<n>/tags/<key>     model-version tag
    <root>/<exp>/models/<model_id>/meta.yaml        logged model (status as a number)
    <root>/<exp>/models/<model_id>/params/<key>     logged-model parameter
    <root>/<exp>/models/<model_id>/tags/<key>       logged-model tag
    <root>/<exp>/models/<model_id>/metrics/<key>    lines "<ts> <value> <step> <run_id> [<dataset> <digest>]"
    <root>/<exp>/<run>/outputs/<model_id>/meta.yaml a logged model the run produced
    <root>/<exp>/<run>/inputs/<md5>/meta.yaml       a logged model the run used (source_type MODEL)
    <root>/.trash/<exp>/models/...                  logged models of a deleted experiment

A deleted model version stays in place with ``current_stage: Deleted_Internal`` (so its
number is never given again); a deleted logged model stays with ``lifecycle_stage:
deleted``.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "ALIASES",
    "INPUTS",
    "LOCK_FILE",
    "META",
    "METRICS",
    "MODELS",
    "OUTPUTS",
    "PARAMS",
    "TAGS",
    "TRASH",
    "VERSION_PREFIX",
    "WORKSPACE",
    "dump_yaml",
    "key_files",
    "load_yaml",
    "model_version_meta",
    "registered_model_meta",
    "safe_join",
    "version_dir_name",
]

META = "meta.yaml"
MODELS = "models"
TAGS = "tags"
ALIASES = "aliases"
PARAMS = "params"
METRICS = "metrics"
OUTPUTS = "outputs"
INPUTS = "inputs"
TRASH = ".trash"
VERSION_PREFIX = "version-"
#: Lock file in a registered model's folder (MLflow ignores files there).
LOCK_FILE = ".tracklet.lock"
#: The workspace MLflow 3.17 writes into registry meta files when it has no workspaces.
WORKSPACE = "default"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(text: str | None) -> dict[str, Any] | None:
    """Parse a ``meta.yaml``; None when it is missing, empty or not a mapping."""
    if not text:
        return None
    loaded = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    return loaded if isinstance(loaded, dict) else None


def dump_yaml(data: dict[str, Any]) -> str:
    """Serialise as MLflow does: block style, sorted keys, unicode kept."""
    return str(yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True))


def version_dir_name(version: int) -> str:
    """``version-3``."""
    return f"{VERSION_PREFIX}{version}"


def safe_join(folder: str, key: str) -> str:
    """``folder/key`` for a tag or param key (``/`` in a key nests folders, as MLflow),
    refusing keys that would leave ``folder``."""
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts) or os.path.isabs(key):
        raise TrackletException(
            f"Invalid key {key!r}: a key stored in the file registry cannot be empty, absolute, "
            "or have empty, '.' or '..' path segments.",
            INVALID_PARAMETER_VALUE,
        )
    return os.path.join(folder, *parts)


def key_files(folder: str) -> dict[str, str]:
    """The files under ``folder`` as ``{key: content}``, nested folders joined with ``/``
    (MLflow's tag, alias and param files). Hidden temporaries are left out."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".tmp-")]
        for name in filenames:
            if name.startswith(".tmp-"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    value = handle.read()
            except FileNotFoundError:  # deleted while we walked
                continue
            key = os.path.relpath(path, folder).replace(os.sep, "/")
            found[key] = value
    return found


def registered_model_meta(
    name: str,
    creation_timestamp: int | None,
    last_updated_timestamp: int | None,
    description: str | None,
    aliases: dict[str, str],
    deployment_job_id: str | None = None,
) -> dict[str, Any]:
    """A registered model's ``meta.yaml`` (tags live in files of their own; MLflow also
    keeps a copy of the aliases here, which readers ignore for the ``aliases/`` files)."""
    return {
        "aliases": dict(aliases),
        "creation_timestamp": creation_timestamp,
        "deployment_job_id": deployment_job_id,
        "deployment_job_state": None,
        "description": description,
        "last_updated_timestamp": last_updated_timestamp,
        "name": name,
        "workspace": WORKSPACE,
    }


def model_version_meta(
    *,
    name: str,
    version: int,
    creation_timestamp: int,
    last_updated_timestamp: int,
    description: str | None,
    current_stage: str,
    source: str,
    storage_location: str,
    run_id: str | None,
    run_link: str | None,
    model_id: str | None,
    user_id: str | None = None,
    status: str = "READY",
    status_message: str | None = None,
) -> dict[str, Any]:
    """A model version's ``meta.yaml`` (tags in files of their own, aliases with the model)."""
    return {
        "creation_timestamp": creation_timestamp,
        "current_stage": current_stage,
        "deployment_job_state": None,
        "description": description,
        "last_updated_timestamp": last_updated_timestamp,
        "model_id": model_id,
        "name": name,
        "run_id": run_id,
        "run_link": run_link,
        "source": source,
        "status": status,
        "status_message": status_message,
        "storage_location": storage_location,
        "user_id": user_id,
        "version": version,
        "workspace": WORKSPACE,
    }
