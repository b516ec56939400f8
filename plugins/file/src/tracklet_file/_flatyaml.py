"""A fast reader for the flat ``meta.yaml`` files MLflow and tracklet write.

A run's ``meta.yaml`` is one ``key: scalar`` per line. Parsing it with PyYAML costs
most of a cold ``search_runs``; this reader handles exactly the simple forms and
answers None for anything else (quotes with escapes, nesting, floats, booleans,
spaces in plain values…), which the caller then hands to PyYAML. It never guesses:
each accepted form means the same here as in YAML.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_flat"]

_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (.*)")
_INT = re.compile(r"0|-?[1-9][0-9]*")
# Plain scalars that YAML reads as strings: no leading digit, dot, sign or indicator,
# and none of the words YAML turns into booleans or null (checked below).
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)*")
# Run ids (uuid4 hex) may start with a digit; with a letter and no dot YAML keeps them strings.
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_NOT_STRINGS = frozenset(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "null Null NULL".split()
)


def _scalar(text: str) -> tuple[bool, Any]:
    if text in ("null", "~"):
        return True, None
    if text == "''":
        return True, ""
    if text == "[]":
        return True, []
    if text == "{}":
        return True, {}
    if _INT.fullmatch(text):
        return True, int(text)
    quoted = _QUOTED.fullmatch(text)
    if quoted:
        return True, quoted.group(1).replace("''", "'")
    if _PLAIN.fullmatch(text) and text not in _NOT_STRINGS:
        return True, text
    if _HEX_ID.fullmatch(text) and not text.isdigit():
        return True, text
    return False, None


def parse_flat(text: str) -> dict[str, Any] | None:
    """The mapping of a flat ``key: scalar`` document, or None if it is anything more."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        match = _LINE.fullmatch(line)
        if match is None or match.group(1) in _NOT_STRINGS:
            return None
        ok, value = _scalar(match.group(2))
        if not ok or match.group(1) in out:
            return None
        out[match.group(1)] = value
    return out or None
