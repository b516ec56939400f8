"""Opaque page tokens: base64 of the JSON ``{"offset": N}``, MLflow's own format.

Sharing the format means a token issued by an MLflow server or store can be
handed to tracklet and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from tracklet.entities import PagedList
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.validation import INT64_MAX, short_repr

T = TypeVar("T")

#: The largest offset a token may hold: what an SQL ``OFFSET`` (a BIGINT) takes.
MAX_PAGE_OFFSET = INT64_MAX


def encode_page_token(offset: int) -> str:
    """The token that resumes a search at ``offset`` (0-based index of the next item)."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_PAGE_OFFSET:
        raise ValueError(f"page offset must be an int from 0 to {MAX_PAGE_OFFSET}, got {offset!r}")
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def _invalid(page_token: object, reason: str) -> TrackletException:
    return TrackletException(
        f"Invalid page token {short_repr(page_token, 100)}: {reason}. Pass the token returned with the previous page.",
        INVALID_PARAMETER_VALUE,
    )


def _load(page_token: str | bytes) -> dict[str, Any]:
    if not isinstance(page_token, (str, bytes)):
        raise _invalid(page_token, "expected a string")
    try:
        raw = base64.b64decode(page_token, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(page_token, "not base64") from None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also ints over 4,300 digits
        raise _invalid(page_token, "not JSON once decoded") from None
    if not isinstance(parsed, dict):
        raise _invalid(page_token, 'expected {"offset": <non-negative integer>}')
    return parsed


def _offset(page_token: object, body: dict[str, Any]) -> int:
    offset = body.get("offset")
    # MLflow writes an int; accept its string form too, as MLflow does (a short one: int()
    # of thousands of digits is slow, and refused above 4,300 digits).
    if isinstance(offset, str) and offset.isascii() and offset.isdigit() and len(offset) <= 19:
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_PAGE_OFFSET:
        raise _invalid(page_token, f'expected {{"offset": <an integer from 0 to {MAX_PAGE_OFFSET}>}}')
    return offset


def read_page_token(page_token: str | bytes) -> tuple[int, dict[str, Any]]:
    """A token's offset and its whole JSON object, for stores that put more in their tokens
    (a keyset cursor, say) on top of MLflow's ``offset``.

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for anything that is not
        base64 of a JSON object whose ``offset`` is an integer from 0 to
        :data:`MAX_PAGE_OFFSET` (or its decimal string, as MLflow accepts).
    """
    body = _load(page_token)
    return _offset(page_token, body), body


def decode_page_token(page_token: str | bytes | None) -> int:
    """The offset a token stands for; 0 for None or ``""`` (the first page).

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for anything that is not a
        token this format produces (see :func:`read_page_token`).
    """
    if not page_token:
        return 0
    return read_page_token(page_token)[0]


def paginate(items: Sequence[T], page_token: str | None, max_results: int) -> PagedList[T]:
    """The page of ``items`` that ``page_token`` points at, with the next page's token."""
    start = decode_page_token(page_token)
    end = start + max_results
    token = encode_page_token(end) if end < len(items) else None
    return PagedList(items[start:end], token)
