"""The resume journal: one line per run copied whole (info, histories, artifacts), and
one per trace copied whole (info and spans).

A copy killed at any moment is started again with the same journal: runs it lists are
skipped, every other run is copied again from the start. That is safe because the import
primitives make the destination hold exactly what they are given. A line is written only
after everything of its run is, and flushed at once (a killed process loses nothing the
kernel has; a torn last line is ignored).
"""

from __future__ import annotations

import json
import os
from typing import IO

__all__ = ["Journal"]

_FORMAT = "tracklet-migrate-journal/1"


class Journal:
    """The runs already copied from ``src`` to ``dst`` under one artifact mode."""

    def __init__(self, path: str, src: str, dst: str, mode: str) -> None:
        self.path = path
        self._header = {"format": _FORMAT, "src": src, "dst": dst, "artifacts": mode}
        self.done: set[str] = set()
        #: Traces already copied whole.
        self.traces_done: set[str] = set()
        #: Why an existing journal was not used (None when it was, or there was none).
        self.discarded: str | None = None
        self._file: IO[str] | None = None
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return
        header = _parse(lines[0]) if lines else None
        if header != self._header:
            self.discarded = (
                f"the journal {self.path} was written for another copy or artifact mode "
                f"({header}); starting over"
            )
            return
        for line in lines[1:]:
            entry = _parse(line)
            if entry is None:
                continue
            if isinstance(entry.get("run"), str):
                self.done.add(entry["run"])
            elif isinstance(entry.get("trace"), str):
                self.traces_done.add(entry["trace"])

    def open(self) -> None:
        """Start appending (writing the header when the journal is new or was discarded)."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fresh = not self.done and not self.traces_done
        self._file = open(self.path, "w" if fresh else "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if fresh:
            self._write(self._header)

    def record(self, run_id: str) -> None:
        """Note that run ``run_id`` is copied whole."""
        self._write({"run": run_id})
        self.done.add(run_id)

    def record_trace(self, trace_id: str) -> None:
        """Note that trace ``trace_id`` is copied whole (info and spans)."""
        self._write({"trace": trace_id})
        self.traces_done.add(trace_id)

    def _write(self, entry: dict[str, str]) -> None:
        assert self._file is not None, "Journal.open() first"
        self._file.write(json.dumps(entry, sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Forget the copy: it finished, so a later one starts from the beginning (and sees
        what changed in the source since)."""
        self.close()
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def _parse(line: str) -> dict[str, str] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
