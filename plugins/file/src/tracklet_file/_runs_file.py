"""A per-experiment file of what the run caches held, so a new process's first search
does not read every run's files.

A search over 2,000 runs reads ~60,000 small files (``meta.yaml``, each param, tag and
metric file) the first time a process makes it. After a search, tracklet writes
``.tracklet-runs.json`` into the experiment folder: for every run whose files had all
settled, the parsed values with the stat keys they were read under, and the checks that
prove them current (:meth:`~tracklet_file._runs.RunState.refresh`). A new process
restores those copies and then checks them as it checks its own: one ``os.stat`` per
recorded folder and file, so a run changed since, by tracklet or by MLflow, is re-read
from its files. The file is only ever a shortcut: a missing, unreadable or foreign one
is ignored, and the run folders stay MLflow's (MLflow lists only folders as runs; the
file's name starts with a dot, which tracklet skips).

Paths inside are relative to the run folder, so the copies stay valid when the
experiment folder moves (deletion to ``.trash`` and back).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from typing import Any

from ._fsio import read_bytes, temp_path

__all__ = ["RUNS_FILE", "load_runs_file", "relative", "save_runs_file"]

RUNS_FILE = ".tracklet-runs.json"
_FORMAT = 1


def load_runs_file(experiment_dir: str) -> dict[str, Any]:
    """Each run folder's name and its saved entry; empty when the file is missing, of
    another format, or unreadable."""
    try:
        raw = read_bytes(os.path.join(experiment_dir, RUNS_FILE))
        saved = json.loads(raw)
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        return {}
    runs = saved.get("runs")
    return runs if isinstance(runs, dict) else {}


def save_runs_file(experiment_dir: str, runs: Iterable[tuple[str, dict[str, Any] | None]]) -> None:
    """Replace the file with ``runs`` (run folder name and entry; None entries are left
    out) in one rename, written one run at a time so that the whole text is never held
    in memory. A folder that cannot be written (read-only, gone) just keeps no file."""
    path = os.path.join(experiment_dir, RUNS_FILE)
    tmp = temp_path(experiment_dir, path)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(f'{{"format":{_FORMAT},"runs":{{')
            sep = ""
            for name, entry in runs:
                if entry is not None:
                    f.write(f"{sep}{dumps(name)}:{dumps(entry)}")
                    sep = ","
            f.write("}}")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):  # unwritable, or a meta.yaml value JSON cannot hold
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def relative(path: str, run_dir: str, cut: int) -> str:
    """``path`` relative to ``run_dir`` (``""`` for the run folder itself); ``cut`` is
    ``len(run_dir) + 1``."""
    if path == run_dir:
        return ""
    if path.startswith(run_dir) and path[cut - 1 : cut] == os.sep:
        return path[cut:]
    return os.path.relpath(path, run_dir)
