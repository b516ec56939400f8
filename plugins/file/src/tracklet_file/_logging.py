"""Writing into a run folder: params, tags, metric points, dataset inputs, ``meta.yaml``.

The store validates a whole call first (:func:`validate_batch`, :func:`tracklet.validation.validate_dataset_inputs`,
:func:`check_params_unchanged`) and only then calls the writers here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

from tracklet.entities import DatasetInput, Metric, PagedList, Param, RunTag
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search import decode_page_token, paginate

from ._fsio import Appender, create_exclusive, list_dir, read_bytes, temp_path, write_atomic
from ._layout import (
    ARTIFACTS,
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
)
from ._metrics import format_lines, parse_history

__all__ = [
    "append_metrics",
    "check_params_unchanged",
    "metric_lines",
    "create_run_dir",
    "page",
    "read_history",
    "check_key_paths",
    "write_inputs",
    "write_params",
    "write_run_meta",
    "write_tag",
]


def _text(value: Any) -> str:
    """A param or tag value as MLflow stores it: None is the empty string."""
    return "" if value is None else str(value)


def _key_path(run_dir: str, folder: str, key: str) -> str:
    # Keys are validated clean relative paths; '/' nests, as in MLflow.
    return os.path.join(run_dir, folder, *key.split("/"))


# -- validation ------------------------------------------------------------------------------


def check_key_paths(run_dir: str, folder: str, keys: Iterable[str]) -> None:
    """:raises: ``INVALID_PARAMETER_VALUE`` if a key cannot be a file of ``folder``: it names
    the folder of nested keys (``a`` when ``a/b`` exists) or nests under a key (``a/b``
    when ``a`` exists). Checked before writing so the whole call is refused."""
    top = os.path.join(run_dir, folder)
    unique = set(keys)
    # A few keys cost a stat or two each; many (a big batch) one listing per folder.
    clash = _clash_by_stat(top, unique) if len(unique) <= 4 else _clash_by_listing(top, unique)
    if clash is not None:
        raise _path_clash(folder, *clash)


def _clash_by_stat(top: str, keys: Iterable[str]) -> tuple[str, str] | None:
    for key in keys:
        path = os.path.join(top, *key.split("/"))
        parent = os.path.dirname(path)
        while parent != top and not os.path.isdir(parent):
            if os.path.exists(parent):
                return key, os.path.relpath(parent, top).replace(os.sep, "/")
            parent = os.path.dirname(parent)
        if os.path.isdir(path):
            return key, key
    return None


def _clash_by_listing(top: str, keys: Iterable[str]) -> tuple[str, str] | None:
    listings: dict[str, dict[str, bool]] = {}
    for key in keys:
        parts = key.split("/")
        for depth, name in enumerate(parts):
            folder = "/".join(parts[:depth])
            if folder not in listings:
                listings[folder] = {e.name: e.is_dir() for e in list_dir(os.path.join(top, folder))}
            is_dir = listings[folder].get(name)
            if is_dir is None:
                break  # nothing there: the rest of the path is free
            if is_dir == (depth == len(parts) - 1):  # a folder where the file goes, or the reverse
                return key, "/".join(parts[: depth + 1])
    return None


def _path_clash(folder: str, key: str, other: str) -> TrackletException:
    kind = {METRICS: "metric", PARAMS: "param", TAGS: "tag"}[folder]
    return TrackletException(
        f"Invalid {kind} name '{key}': it clashes with the {kind} '{other}' "
        "already logged (a name cannot be both a key and a prefix of keys with '/').",
        INVALID_PARAMETER_VALUE,
    )


def check_params_unchanged(run_dir: str, run_id: str, params: Sequence[Param]) -> None:
    """:raises: ``INVALID_PARAMETER_VALUE`` if a param was logged before with another value."""
    for param in params:
        path = _key_path(run_dir, PARAMS, param.key)
        try:
            current = read_bytes(path).decode("utf-8")
        except (FileNotFoundError, NotADirectoryError):
            continue
        except IsADirectoryError:
            current = None
        _check_same(param.key, run_id, current, _text(param.value))


def _check_same(key: str, run_id: str, current: str | None, new: str) -> None:
    if current != new:
        raise TrackletException(
            f"Changing param values is not allowed. Param with key='{key}' was already logged "
            f"with value='{current}' for run ID='{run_id}'. Attempted logging new value '{new}'.",
            INVALID_PARAMETER_VALUE,
        )


# -- writers ---------------------------------------------------------------------------------


def create_run_dir(run_dir: str, meta: dict[str, Any], tags: Sequence[RunTag]) -> None:
    """Make a run's folders and tags, then its ``meta.yaml``: until that last rename the
    run is invisible, so a crash midway leaves a folder every reader skips."""
    os.mkdir(run_dir)
    for folder in (METRICS, PARAMS, ARTIFACTS, TAGS):
        os.mkdir(os.path.join(run_dir, folder))
    for tag in tags:
        write_tag(run_dir, tag.key, tag.value)
    write_run_meta(run_dir, meta)


def write_run_meta(run_dir: str, data: dict[str, Any]) -> None:
    """Replace a run's ``meta.yaml`` atomically."""
    write_atomic(os.path.join(run_dir, META), dump_yaml(data), run_dir)


def write_tag(run_dir: str, key: str, value: Any) -> None:
    """Set (replace) one run tag."""
    write_atomic(_key_path(run_dir, TAGS, key), _text(value).encode("utf-8"), run_dir)


def write_params(run_dir: str, run_id: str, params: Sequence[Param]) -> None:
    """Create each param file once; a racing writer with another value loses."""
    for param in params:
        path = _key_path(run_dir, PARAMS, param.key)
        value = _text(param.value)
        if not create_exclusive(path, value.encode("utf-8"), run_dir):
            _check_same(param.key, run_id, read_bytes(path).decode("utf-8"), value)


def metric_lines(appender: Appender, run_dir: str, metrics: Sequence[Metric]) -> list[tuple[str, bytes]]:
    """The (file, lines) to append for a batch, after checking that every file can be
    appended to (a descriptor the appender holds open is a file already)."""
    base = os.path.join(run_dir, METRICS)
    lines = [(os.path.join(base, *key.split("/")), data) for key, data in format_lines(metrics).items()]
    unknown = [
        os.path.relpath(path, base).replace(os.sep, "/") for path, _ in lines if not appender.knows(path)
    ]
    if unknown:
        check_key_paths(run_dir, METRICS, unknown)
    return lines


def append_metrics(appender: Appender, run_dir: str, lines: Sequence[tuple[str, bytes]]) -> None:
    """Append what :func:`metric_lines` prepared: one write per metric key, then
    :func:`signal_metrics`."""
    appender.append_many(lines)
    signal_metrics(run_dir)


def signal_metrics(run_dir: str) -> None:
    """Bump the mtime of the run's ``metrics/`` folder after an append, so readers' caches
    (:class:`~tracklet_file._cache.MetricTree`) see the change with one stat of the folder.
    Best effort: without it, readers still notice within their periodic file checks."""
    with contextlib.suppress(OSError):
        os.utime(os.path.join(run_dir, METRICS))


def write_inputs(run_dir: str, run_id: str, datasets: Sequence[DatasetInput]) -> None:
    """Record each dataset once per experiment and link it to the run once."""
    experiment_dir = os.path.dirname(run_dir)
    for item in datasets:
        ds_id = dataset_id(item.dataset.name, item.dataset.digest)
        ds_dir = os.path.join(experiment_dir, DATASETS, ds_id)
        if not os.path.isfile(os.path.join(ds_dir, META)):
            os.makedirs(ds_dir, exist_ok=True)
            write_atomic(os.path.join(ds_dir, META), dump_yaml(dataset_meta(item.dataset)), ds_dir)
        link_dir = os.path.join(run_dir, INPUTS, input_id(ds_id, run_id))
        if not os.path.isdir(link_dir):
            tags = {t.key: _text(t.value) for t in item.tags}
            _publish_dir(link_dir, {META: dump_yaml(input_meta(ds_id, run_id, tags))}, run_dir)


def _publish_dir(target: str, files: dict[str, bytes], staging_dir: str) -> None:
    """Build a directory aside, then rename it into place: MLflow fails on an input folder
    without its ``meta.yaml``, so none may ever be visible."""
    staging = temp_path(staging_dir, os.path.basename(target))
    os.mkdir(staging)
    try:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with contextlib.suppress(FileExistsError, OSError):
            os.rename(staging, target)  # fails if another process published it first
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)


# -- reading history ---------------------------------------------------------------------------


def read_history(run_dir: str, run_id: str, key: str) -> list[Metric]:
    """Every point of one metric, ``[]`` if it was never logged."""
    try:
        data = read_bytes(_key_path(run_dir, METRICS, key))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return parse_history(key, data, run_id)


def page(points: list[Metric], max_results: int | None, token: str | None) -> PagedList[Metric]:
    """One page of a metric history (everything from the token on when unbounded)."""
    if max_results is None:
        return PagedList(points[decode_page_token(token) :], None)
    return paginate(points, token, max_results)
