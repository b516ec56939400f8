"""Opaque page tokens: base64 of the JSON ``{"offset": N}``, MLflow's own format.

Sharing the format means a token issued by an MLflow server or store can be
handed to tracklet and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from tracklet.entities import PagedList
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

T = TypeVar("T")


def encode_page_token(offset: int) -> str:
    """The token that resumes a search at ``offset`` (0-based index of the next item)."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"page offset must be a non-negative int, got {offset!r}")
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def _invalid(page_token: object, reason: str) -> TrackletException:
    return TrackletException(
        f"Invalid page token {page_token!r}: {reason}. Pass the token returned with the previous page.",
        INVALID_PARAMETER_VALUE,
    )


def decode_page_token(page_token: str | bytes | None) -> int:
    """The offset a token stands for; 0 for None or ``""`` (the first page).

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for anything that is not a
        token this format produces.
    """
    if not page_token:
        return 0
    if not isinstance(page_token, (str, bytes)):
        raise _invalid(page_token, "expected a string")
    try:
        raw = base64.b64decode(page_token, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(page_token, "not base64") from None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _invalid(page_token, "not JSON once decoded") from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    # MLflow writes an int; accept its string form too, as MLflow does.
    if isinstance(offset, str) and offset.isascii() and offset.isdigit():
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _invalid(page_token, 'expected {"offset": <non-negative integer>}')
    return offset


def paginate(items: Sequence[T], page_token: str | None, max_results: int) -> PagedList[T]:
    """The page of ``items`` that ``page_token`` points at, with the next page's token."""
    start = decode_page_token(page_token)
    end = start + max_results
    token = encode_page_token(end) if end < len(items) else None
    return PagedList(items[start:end], token)
