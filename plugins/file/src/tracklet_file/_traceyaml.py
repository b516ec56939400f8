"""A fast writer and reader for ``trace_info.yaml``, with PyYAML as the fallback.

``trace_info.yaml`` is ``TraceInfo.to_dict()`` without tags and metadata: scalars and
the two-level ``trace_location`` mapping. PyYAML's pure-Python representer and
constructor cost most of writing a trace and of a cold ``search_traces``; these
functions handle exactly the simple forms and hand anything else to PyYAML, never
guessing: what they write, PyYAML (MLflow) reads back as the same mapping, and what they
read means the same as in YAML.

Strings are written plain when :mod:`tracklet_file._flatyaml` reads them back as
themselves, single-quoted when every character is printable in YAML and no line break,
and double-quoted (JSON escapes, which YAML shares) when only control characters are in
the way; anything else, and any value that is not a string, int or None, goes to PyYAML.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._flatyaml import _scalar
from ._layout import dump_yaml, load_yaml

__all__ = ["dump_trace_info", "load_trace_info"]

# Characters YAML accepts raw in a quoted scalar without a line break: printable ASCII,
# and from U+00A0 on all but the line and paragraph separators, surrogates, U+FEFF and
# the non-characters U+FFFE/U+FFFF (PyYAML's reader refuses the C1 controls and DEL).
_PRINTABLE = re.compile(
    "[\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
# Control characters JSON escapes (\n, \t, \u0001...), and YAML reads the same way.
_PRINTABLE_OR_C0 = re.compile(
    "[\x00-\x1f\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
_KEY = re.compile(r"[a-z_][a-z0-9_]*")


def _string(text: str) -> str | None:
    ok, value = _scalar(text)
    if ok and value == text and isinstance(value, str):
        return text
    if _PRINTABLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    if _PRINTABLE_OR_C0.fullmatch(text):
        return json.dumps(text, ensure_ascii=False)
    return None


def _value(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    return None


def _lines(data: dict[str, Any], indent: str, out: list[str]) -> bool:
    for key in sorted(data):
        value = data[key]
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            return False
        if isinstance(value, dict):
            if not value or len(indent) >= 4:
                return False
            out.append(f"{indent}{key}:")
            if not _lines(value, indent + "  ", out):
                return False
            continue
        text = _value(value)
        if text is None:
            return False
        out.append(f"{indent}{key}: {text}")
    return True


def dump_trace_info(data: dict[str, Any]) -> bytes:
    """``data`` as YAML, as :func:`tracklet_file._layout.dump_yaml` would mean it."""
    out: list[str] = []
    if not _lines(data, "", out):
        return dump_yaml(data)
    return ("\n".join(out) + "\n").encode("utf-8")


_LINE = re.compile(r"( *)([a-z_][a-z0-9_]*):(?: (.*))?")


def _read_value(text: str) -> tuple[bool, Any]:
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2 or "\\/" in text:
            return False, None
        try:
            value = json.loads(text)
        except ValueError:
            return False, None
        # Raw characters YAML would read differently (line breaks, ...) send it to PyYAML.
        return (True, value) if _PRINTABLE_OR_C0.fullmatch(value) and "\n" not in text else (False, None)
    if text.startswith("'"):
        inner = text[1:-1]
        if len(text) < 2 or not text.endswith("'") or not _PRINTABLE.fullmatch(inner):
            return False, None
        if "'" in inner.replace("''", ""):
            return False, None
        return True, inner.replace("''", "'")
    return _scalar(text)


def _parse(text: str) -> dict[str, Any] | None:
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    pending: tuple[int, dict[str, Any]] | None = None  # a "key:" line opening a mapping
    for line in text.split("\n"):
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            return None
        depth, key, raw = len(match.group(1)), match.group(2), match.group(3)
        if pending is not None:
            if depth <= pending[0] - 2:
                return None  # an empty mapping: left to PyYAML
            stack.append(pending)
            pending = None
        while stack and stack[-1][0] > depth:
            stack.pop()
        if not stack or stack[-1][0] != depth:
            return None
        target = stack[-1][1]
        if key in target:
            return None
        if raw is None:
            if depth >= 4:
                return None
            child: dict[str, Any] = {}
            target[key] = child
            pending = (depth + 2, child)
            continue
        ok, value = _read_value(raw)
        if not ok or raw == "":
            return None
        target[key] = value
    if pending is not None:
        return None
    return root or None


def load_trace_info(data: bytes) -> dict[str, Any] | None:
    """Parse a ``trace_info.yaml``; None when it is empty or not a mapping."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return load_yaml(data)
    if "\r" not in text and "#" not in text and not text.startswith("%") and "\t" not in text:
        parsed = _parse(text)
        if parsed is not None:
            return parsed
    return load_yaml(data)
