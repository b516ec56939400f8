"""Metric files: one line per point, ``"<timestamp> <value> <step>\\n"``, appended.

MLflow writes the value with Python's ``str(float)``, so NaN and infinities are the words
``nan``, ``inf`` and ``-inf``, which ``float()`` reads back. Older files may have two fields
(no step) and newer ones five (step, then the name and digest of the dataset the metric
was computed on); both are read as MLflow 3.17 reads them: step 0 for both, the five-field
line's third field being ignored by MLflow's reader, so a folder shows the same histories
in both tools.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

from tracklet.entities import Metric
from tracklet.exceptions import INTERNAL_ERROR, TrackletException
from tracklet.utils.gc import gc_paused

__all__ = ["Latest", "format_lines", "parse_history", "update_latest"]


def format_line(metric: Metric) -> str:
    """One metric point as a line of its metric file."""
    return f"{metric.timestamp} {float(metric.value)!r} {metric.step}\n"


def format_lines(metrics: Sequence[Metric]) -> dict[str, bytes]:
    """The lines to append for each key of a batch, in the order given."""
    by_key: dict[str, list[str]] = {}
    for metric in metrics:
        by_key.setdefault(metric.key, []).append(format_line(metric))
    return {key: "".join(lines).encode("ascii") for key, lines in by_key.items()}


def _complete_lines(data: bytes) -> list[str]:
    """The complete lines of ``data``; a final line without newline is a write in
    progress in another process, left for the next read."""
    lines = data.decode("utf-8").split("\n")
    lines.pop()  # '' after the last newline, or the unfinished line
    return lines


def _malformed(key: str, line: str) -> TrackletException:
    return TrackletException(
        f"Metric '{key}' is malformed: the line {line!r} does not have 2, 3 or 5 "
        "space-separated fields '<timestamp> <value> [<step>]'.",
        INTERNAL_ERROR,
    )


def _parse(key: str, line: str, run_id: str | None) -> Metric:
    parts = line.split(" ")
    if len(parts) == 3:
        return Metric(key, float(parts[1]), int(parts[0]), int(parts[2]), run_id=run_id)
    if len(parts) == 2 or len(parts) == 5:  # step 0, as MLflow reads both (module docstring)
        return Metric(key, float(parts[1]), int(parts[0]), 0, run_id=run_id)
    raise _malformed(key, line)


#: Characters of a metric file converted at a time: the columns of a whole 100,000-point
#: file would hold ~300,000 token strings (~20 MB) at once beside the metrics built.
_CHUNK_CHARS = 1 << 18


def parse_history(key: str, data: bytes, run_id: str | None = None) -> list[Metric]:
    """Every point of a metric file, in the order logged."""
    text = data.decode("utf-8")
    end = text.rfind("\n") + 1  # an unfinished last line is not read yet
    out: list[Metric] = []
    start = 0
    with gc_paused():
        while start < end:
            stop = end if start + _CHUNK_CHARS >= end else text.index("\n", start + _CHUNK_CHARS) + 1
            out.extend(_parse_lines(key, text[start:stop], run_id))
            start = stop
    return out


def _parse_lines(key: str, text: str, run_id: str | None) -> list[Metric]:
    """The points of whole lines of a metric file."""
    count = text.count("\n")
    tokens = text.split()
    if len(tokens) == 3 * count and text.count(" ") == 2 * count:
        # Every line is "<timestamp> <value> <step>": convert whole columns at C speed.
        # Lines of five and of two fields can add up to the same counts; their columns
        # then do not convert (a value always has a '.', 'e', 'nan' or 'inf'), and the
        # lines are read one by one.
        with contextlib.suppress(ValueError):
            # (run_id is Metric's eighth parameter: after step come the model and
            # dataset links, which a metric file does not hold)
            return list(
                map(
                    Metric,
                    repeat(key, count),
                    map(float, tokens[1::3]),
                    map(int, tokens[0::3]),
                    map(int, tokens[2::3]),
                    repeat(None, count),
                    repeat(None, count),
                    repeat(None, count),
                    repeat(run_id, count),
                )
            )
    return [_parse(key, line.strip(), run_id) for line in text.split("\n") if line.strip()]


@dataclass
class Latest:
    """What a metric file showed so far: bytes consumed and the latest point among them."""

    consumed: int = 0
    metric: Metric | None = None


def _newer(candidate: Metric, best: Metric) -> bool:
    # Exactly max() over (step, timestamp, value) tuples, as MLflow picks the latest value:
    # the first of equal keys wins, and a NaN value never beats a number at the same
    # step and timestamp.
    a = (candidate.step, candidate.timestamp, candidate.value)
    b = (best.step, best.timestamp, best.value)
    return a > b


def update_latest(key: str, latest: Latest, data: bytes) -> Latest:
    """Fold the bytes appended since ``latest.consumed`` into a new :class:`Latest`."""
    end = data.rfind(b"\n") + 1
    best = latest.metric
    for line in _complete_lines(data[:end]):
        if not line.strip():
            continue
        metric = _parse(key, line.strip(), None)
        if best is None or _newer(metric, best):
            best = metric
    return Latest(latest.consumed + end, best)
