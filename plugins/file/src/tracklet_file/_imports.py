"""Copying into a folder (capability ``import``): a run's params, tags and dataset inputs,
and a metric history, replaced by exactly what is given, in MLflow's own layout.

Each writer makes the folder hold what it is given whatever was there before, and writes
only what differs, so an import killed at any moment and run again ends complete:

* params and tags: every file given is written whole (temporary file, then rename), every
  file not given is removed, and folders emptied by the removals go, so a key may become
  a folder of nested keys (``a`` -> ``a/b``) or the reverse;
* dataset inputs: each link (``inputs/<id>/meta.yaml``) appears whole (built aside, then
  renamed in) and one not given is renamed to a hidden name before it is removed, since
  MLflow fails on an input folder without its ``meta.yaml``;
* a metric history: the whole file is written aside and renamed over the old one, so a
  reader sees the old history or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence

from tracklet.entities import DatasetInput, Metric
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

from ._fsio import Appender, list_dir, read_bytes, temp_path, write_atomic
from ._layout import (
    DATASETS,
    INPUTS,
    META,
    METRICS,
    PARAMS,
    TAGS,
    dataset_id,
    dataset_meta,
    dump_yaml,
    input_id,
    input_meta,
    load_yaml,
)
from ._logging import signal_metrics
from ._metrics import format_line, parse_history

__all__ = [
    "check_nesting",
    "read_histories",
    "replace_history",
    "replace_inputs",
    "replace_tree",
]

_KIND = {PARAMS: "param", TAGS: "tag", METRICS: "metric"}


def check_nesting(folder: str, keys: Sequence[str]) -> None:
    """:raises: ``INVALID_PARAMETER_VALUE`` when one key given is a folder of another
    (``a`` and ``a/b``): a folder cannot hold both, though a database can. Checked before
    anything is written, so the import is refused whole."""
    unique = set(keys)
    for key in unique:
        parts = key.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in unique:
                kind = _KIND[folder]
                raise TrackletException(
                    f"Cannot import {kind}s '{prefix}' and '{key}' into a folder store: a {kind} "
                    f"file cannot also be the folder of '{key}'. Rename one in the source, or "
                    "migrate into a database store (sqlite:///…) instead.",
                    INVALID_PARAMETER_VALUE,
                )


def _files(top: str) -> dict[str, str]:
    """Every key file under ``top`` (key with '/' -> path); temporary files left out."""
    out: dict[str, str] = {}
    pending = [(top, "")]
    while pending:
        path, prefix = pending.pop()
        for entry in list_dir(path):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, prefix + entry.name + "/"))
            else:
                out[prefix + entry.name] = entry.path
    return out


def _remove_empty_dirs(top: str) -> None:
    for path, _dirs, _files_here in sorted(os.walk(top), key=lambda w: -len(w[0])):
        if path != top:
            with contextlib.suppress(OSError):  # not empty: a key lives below
                os.rmdir(path)


def replace_tree(run_dir: str, folder: str, values: Mapping[str, str]) -> None:
    """Make ``run_dir/folder`` hold exactly ``values`` (key -> text), one file per key."""
    top = os.path.join(run_dir, folder)
    existing = _files(top)
    stale = [path for key, path in existing.items() if key not in values]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    if stale:
        _remove_empty_dirs(top)
    for key, value in values.items():
        data = value.encode("utf-8")
        current = existing.get(key)
        if current is not None and _content(current) == data:
            continue
        target = os.path.join(top, *key.split("/"))
        if os.path.isdir(target):  # a folder of old nested keys, emptied above
            shutil.rmtree(target)
        write_atomic(target, data, run_dir)


def _content(path: str) -> bytes | None:
    try:
        return read_bytes(path)
    except OSError:
        return None


# -- dataset inputs ----------------------------------------------------------------------------


def replace_inputs(run_dir: str, run_id: str, datasets: Sequence[DatasetInput]) -> None:
    """Make the run's dataset inputs exactly ``datasets`` (links to model inputs stay).
    A dataset already recorded in the experiment keeps its record, as MLflow does."""
    experiment_dir = os.path.dirname(run_dir)
    wanted: dict[str, bytes] = {}
    for item in datasets:
        ds_id = dataset_id(item.dataset.name, item.dataset.digest)
        ds_dir = os.path.join(experiment_dir, DATASETS, ds_id)
        if not os.path.isfile(os.path.join(ds_dir, META)):
            os.makedirs(ds_dir, exist_ok=True)
            write_atomic(os.path.join(ds_dir, META), dump_yaml(dataset_meta(item.dataset)), ds_dir)
        tags = {t.key: "" if t.value is None else str(t.value) for t in item.tags}
        wanted[input_id(ds_id, run_id)] = dump_yaml(input_meta(ds_id, run_id, tags))
    inputs_dir = os.path.join(run_dir, INPUTS)
    for entry in list_dir(inputs_dir):
        if entry.name.startswith(".") or entry.name in wanted or not entry.is_dir():
            continue
        edge = _load(os.path.join(entry.path, META))
        if edge is None or edge.get("source_type") == "DATASET":
            _remove_dir(entry.path, run_dir)
    for link, meta in wanted.items():
        link_dir = os.path.join(inputs_dir, link)
        current = _content(os.path.join(link_dir, META))
        if current == meta:
            continue
        if current is not None:
            write_atomic(os.path.join(link_dir, META), meta, run_dir)
            continue
        if os.path.isdir(link_dir):  # left without meta.yaml by something else
            _remove_dir(link_dir, run_dir)
        _publish(link_dir, meta, run_dir)


def _load(path: str) -> dict[str, object] | None:
    data = _content(path)
    return None if data is None else load_yaml(data)


def _remove_dir(path: str, staging_dir: str) -> None:
    """Rename aside (hidden: no reader lists it), then delete."""
    aside = temp_path(staging_dir, os.path.basename(path))
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _publish(target: str, meta: bytes, staging_dir: str) -> None:
    staging = temp_path(staging_dir, os.path.basename(target))
    os.mkdir(staging)
    try:
        with open(os.path.join(staging, META), "wb") as f:
            f.write(meta)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(staging, target)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)


# -- metric histories --------------------------------------------------------------------------


def replace_history(appender: Appender, run_dir: str, key: str, metrics: Sequence[Metric]) -> None:
    """Make the file of metric ``key`` hold exactly ``metrics`` (none: no file)."""
    path = os.path.join(run_dir, METRICS, *key.split("/"))
    # A descriptor kept open on the old file would append to it after the rename.
    appender.forget(path)
    if metrics:
        data = "".join(map(format_line, metrics)).encode("ascii")
        if _content(path) != data:
            write_atomic(path, data, run_dir)
    else:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(path)
    signal_metrics(run_dir)


def read_histories(run_dir: str, run_id: str) -> dict[str, list[Metric]]:
    """Every metric history of a run by key (sorted), from one walk of ``metrics/``."""
    out: dict[str, list[Metric]] = {}
    for key, path in sorted(_files(os.path.join(run_dir, METRICS)).items()):
        try:
            data = read_bytes(path)
        except OSError:
            continue  # removed since the walk
        points = parse_history(key, data, run_id)
        if points:
            out[key] = points
    return out
