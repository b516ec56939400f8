"""The queued calls of async logging, and their one-line form in the spool.

A queued call is a *record*: a tuple whose first item says what it is. In memory the
worker takes the tuples as they are; in the spool (see :mod:`~tracklet.async_logging.spool`)
each record is one line of UTF-8, so that a line cut short by a crash is recognisable (it
has no newline) and everything before it is whole.

=========================================================  ===================================
record                                                      line
=========================================================  ===================================
``("m", run_id, key, value, timestamp, step)``              ``m<TAB>run<TAB>key<TAB>value<TAB>ts<TAB>step``
``("p", run_id, key, value)`` param                          ``j<TAB>["p",run,key,value]`` (JSON)
``("t", run_id, key, value)`` tag                            ``j<TAB>["t",run,key,value]``
``("c", local_id, experiment_id, start_ms, name, tags)``     ``j<TAB>["c",...]``: a run created offline
``("e", run_id, status, end_ms)``                            ``j<TAB>["e",...]``: ``set_terminated``
=========================================================  ===================================

Metrics, the hot path, are tab-separated: run ids, metric keys (validated before they
get here: no tab, no newline) and numbers need no escaping, and formatting them is a
fraction of a microsecond. Everything else is a JSON list, which escapes whatever a
param or tag value holds.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Record", "decode", "encode", "encode_metric"]

Record = tuple[Any, ...]

METRIC = "m"
PARAM = "p"
TAG = "t"
CREATE_RUN = "c"
END_RUN = "e"


def encode_metric(run_id: str, key: str, value: float, timestamp: int, step: int) -> bytes:
    """The spool line of one metric value (``value`` a float; ``repr`` round-trips it)."""
    return f"m\t{run_id}\t{key}\t{value!r}\t{timestamp}\t{step}\n".encode()


def encode(record: Record) -> bytes:
    """The spool line of any record."""
    if record[0] == METRIC:
        return encode_metric(*record[1:])
    return b"j\t" + json.dumps(list(record), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Record:
    """The record of one spool line (without its newline). Raises ``ValueError`` on a line
    that is not one."""
    if line[:2] == b"m\t":
        _, run_id, key, value, timestamp, step = line.decode().split("\t")
        return (METRIC, run_id, key, float(value), int(timestamp), int(step))
    if line[:2] == b"j\t":
        items = json.loads(line[2:])
        if isinstance(items, list) and items and items[0] in (PARAM, TAG, CREATE_RUN, END_RUN):
            return tuple(items)
    raise ValueError(f"not a spool record: {line[:80]!r}")
