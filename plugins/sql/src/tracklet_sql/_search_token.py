"""Page tokens for SQL searches: MLflow's offset token, extended with a keyset cursor.

A token is base64 (standard alphabet, padded) of a JSON object::

    {"offset": 200,                     # items returned so far: MLflow's own field
     "after": [0, 0.93, 0, 1712...],    # sort values of the last row returned
     "id": "5f1c...",                   # that row's run_uuid (int experiment_id for experiments)
     "query": "3fa2c0d91b6e4a57"}       # short hash of the filter and order-by it belongs to

The next page holds the rows that sort strictly after ``after + [id]``, so runs
created while a client pages (which sort first by default) neither shift nor repeat
what it has not yet seen. A plain MLflow token ``{"offset": N}`` is still accepted
and resumes with ``OFFSET N``; stores that only know offsets read our tokens as such.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search import read_page_token
from tracklet.validation import INT64_MAX, INT64_MIN, short_repr, validate_text

__all__ = ["Cursor", "decode_cursor", "encode_cursor", "query_hash"]

_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,)}


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: an offset, and (keyset tokens) the sort values to resume after."""

    offset: int = 0
    after: tuple[Any, ...] | None = None  # the last row's sort values, its id included


def query_hash(*parts: object) -> str:
    """A short, stable fingerprint of a parsed filter and order-by."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def encode_cursor(offset: int, after: Sequence[Any], query: str) -> str:
    """The token resuming after a row whose sort values (id last) are ``after``."""
    body = {"offset": offset, "after": list(after[:-1]), "id": after[-1], "query": query}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8")).decode("ascii")


def _invalid(token: object, reason: str) -> TrackletException:
    return TrackletException(
        f"Invalid page token {short_repr(token, 100)}: {reason}. Pass the token returned with the previous page, "
        "with the same filter and order_by, or no token to start from the first page.",
        INVALID_PARAMETER_VALUE,
    )


def _matches(value: Any, kind: str) -> bool:
    """Whether a sort value from a token is one this kind of column can hold: int64 for
    integers, a finite number for metric values, storable text for strings."""
    if isinstance(value, bool) or not isinstance(value, _TYPES[kind]):
        return False
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    try:
        validate_text("sort value", value)
    except TrackletException:
        return False
    return True


def decode_cursor(token: str | bytes | None, query: str, kinds: Sequence[str]) -> Cursor:
    """Check ``token`` against the search it is used with; ``kinds`` types the sort values.

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for a malformed token or one
        issued for another filter or order-by.
    """
    if not token:
        return Cursor()
    offset, body = read_page_token(token)
    if "after" not in body and "id" not in body:
        return Cursor(offset)
    if body.get("query") != query:
        raise _invalid(token, "it was issued for a different filter or order_by")
    after, row_id = body.get("after"), body.get("id")
    if not isinstance(after, list) or len(after) != len(kinds) - 1:
        raise _invalid(token, "its sort values do not match this search")
    values = (*after, row_id)
    if not all(_matches(value, kind) for value, kind in zip(values, kinds, strict=True)):
        raise _invalid(token, "its sort values do not match this search")
    return Cursor(offset, values)
