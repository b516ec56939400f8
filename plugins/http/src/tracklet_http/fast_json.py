"""JSON for the hot paths, with orjson when it is installed and the standard library's
``json`` otherwise (or when orjson cannot take a value).

* :func:`encode_answer` writes a tracking API answer: orjson is 5-10x faster than
  ``json`` on a 100-run ``runs/search`` page (~70 KB). It is used only for values whose
  doubles went through :func:`tracklet_http.protocol.double_to_json` (non-finite ones
  are then the strings ``"NaN"``/``"Infinity"``), because orjson would write a raw NaN
  as ``null`` where ``json`` writes ``NaN``. What orjson refuses (an integer beyond 64
  bits, a lone surrogate, a non-string key) is written by ``json``, as before.
* :func:`decode_answer` reads a server's answer: orjson first, ``json`` when orjson
  refuses the text (a ``NaN`` literal, a lone surrogate escape), so answers read as they
  did. The one difference: an integer beyond 64 bits reads as a float, where ``json``
  keeps it whole; MLflow's answers hold none (their integers are int64).

Request bodies the server receives are still read with ``json``: orjson turns an
integer beyond 64 bits into a float, and the server's range checks must see the integer.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["HAVE_ORJSON", "decode_answer", "encode_answer"]

_json_encode = json.JSONEncoder(separators=(",", ":")).encode

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is optional
    orjson = None  # type: ignore[assignment]

HAVE_ORJSON = orjson is not None


def _encode_std(value: Any) -> bytes:
    return _json_encode(value).encode()


def _decode_std(data: bytes) -> Any:
    return json.loads(data)


if orjson is not None:
    _dumps = orjson.dumps
    _loads = orjson.loads
    _DecodeError = orjson.JSONDecodeError

    def encode_answer(value: Any) -> bytes:
        """``value`` as compact JSON bytes (its doubles already made JSON-safe)."""
        try:
            return _dumps(value)
        except TypeError:  # beyond orjson: an int over 64 bits, a surrogate, an int key
            return _encode_std(value)

    def decode_answer(data: bytes) -> Any:
        """A server's JSON answer, as ``json.loads`` reads it."""
        try:
            return _loads(data)
        except _DecodeError:
            return _decode_std(data)

else:  # pragma: no cover - exercised where orjson is not installed
    encode_answer = _encode_std
    decode_answer = _decode_std
