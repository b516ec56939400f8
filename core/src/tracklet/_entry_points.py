"""The installed entry points of one group, found without importing ``importlib.metadata``.

Building the plugin manager is on every process's first call. ``importlib.metadata``
costs 15-30 ms to import (it pulls in ``email``, ``zipfile``, ``csv``…) and parses every
distribution's ``entry_points.txt`` through ``pathlib``; this module lists the same
distributions in the same order (each ``sys.path`` folder in turn, its ``*.dist-info`` and
``*.egg-info`` folders in listing order, grouped by normalized name) and reads only the
section of the group asked for. Where that reading could differ from
``importlib.metadata`` (a zip archive on ``sys.path``, a meta path finder that lists
distributions of its own), :func:`entry_points` answers from ``importlib.metadata``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import re
import sys
from typing import Any

__all__ = ["EntryPoint", "entry_points"]

_SEPARATORS = re.compile(r"[-_.]+")
_TARGET = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_STANDARD_FINDERS = ("BuiltinImporter", "FrozenImporter", "PathFinder", "DistutilsMetaFinder")


@dataclasses.dataclass(frozen=True)
class EntryPoint:
    """One ``name = value`` line of an ``entry_points.txt`` section.

    :param distribution: the ``*.dist-info`` (or ``*.egg-info``) folder it came from, or
        the ``importlib.metadata.Distribution`` that listed it.
    """

    name: str
    value: str
    distribution: object

    def load(self) -> Any:
        """Import the module the value names and return the attribute it names (if any),
        as ``importlib.metadata.EntryPoint.load`` does."""
        match = _TARGET.match(self.value)
        if match is None:
            raise ValueError(f"Entry point {self.name!r} has an invalid value {self.value!r}")
        module = importlib.import_module(match.group("module"))
        attrs = filter(None, (match.group("attr") or "").split("."))
        return functools.reduce(getattr, attrs, module)

    def distribution_name_version(self) -> tuple[str | None, str | None]:
        """The name and version of the distribution that declares the entry point."""
        dist = self.distribution
        if isinstance(dist, str):
            import importlib.metadata
            import pathlib

            dist = importlib.metadata.PathDistribution(pathlib.Path(dist))
        metadata = getattr(dist, "metadata", None)
        name = metadata["Name"] if metadata is not None else None
        return name, getattr(dist, "version", None)


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every installed distribution, in the order
    ``importlib.metadata.distributions()`` lists the distributions (a name may repeat)."""
    if not _plain_folders_only():
        return _from_importlib_metadata(group)
    found: list[EntryPoint] = []
    for folder in sys.path:
        for info in _distribution_folders(folder or "."):
            found.extend(_read_group(info, group))
    return found


def _plain_folders_only() -> bool:
    """Whether every distribution lives in a ``sys.path`` folder this module can list."""
    for finder in sys.meta_path:
        name = getattr(finder, "__name__", type(finder).__name__)
        if hasattr(finder, "find_distributions") and name not in _STANDARD_FINDERS:
            return False
    return not any(entry and os.path.isfile(entry) for entry in sys.path)


def _distribution_folders(folder: str) -> list[str]:
    try:
        children = os.listdir(folder)
    except OSError:
        return []
    groups: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            name = low.rpartition(".")[0].partition("-")[0]
            normalized = _SEPARATORS.sub("-", name).lower().replace("-", "_")
            groups.setdefault(normalized, []).append(os.path.join(folder, child))
    return [path for paths in groups.values() for path in paths]


def _read_group(info: str, group: str) -> list[EntryPoint]:
    try:
        with open(os.path.join(info, "entry_points.txt"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    if group not in text:
        return []
    out: list[EntryPoint] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, value = line.split("=", 1)
            out.append(EntryPoint(name.strip(), value.strip(), info))
    return out


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    import importlib.metadata

    return [
        EntryPoint(ep.name, ep.value, dist)
        for dist in importlib.metadata.distributions()
        for ep in dist.entry_points
        if ep.group == group
    ]
