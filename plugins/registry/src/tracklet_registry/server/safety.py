"""Where a client may point the server: checks on model version sources before they are stored.

A model version's ``source`` is a location the server later hands out (and, through its
artifact proxy, may read), so a client must not be able to make it name a file of the
server's machine or a place the server does not own. MLflow's server learned this through
a series of local-file-inclusion CVEs (2023-1177, 2023-2356, 2023-2780, 2023-6977,
2024-1483, 2024-2928, 2026-2614): local paths, ``file:`` URIs with a host, ``..`` in any
encoding (percent, double percent, backslashes, after ``#`` or ``?``), NUL bytes, mixed
case schemes. Here one rule answers them all: a source is

* ``runs:/<run_id>/<path>`` naming the request's own ``run_id``, or
* ``models:/<model_id>`` naming the request's own ``model_id``, or
  ``models:/<name>/<version>`` of this registry (a copy), or
* a URI (or a local path) inside one of the artifact roots the server owns
  (``RouteRequest.allowed_source_roots``), compared after decoding every layer of
  percent-encoding and with no ``..`` segment anywhere,

and anything else is refused with ``INVALID_PARAMETER_VALUE`` naming the field. The check
never reads the location: the server neither opens nor fetches what a client names.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
from collections.abc import Iterable

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "check_artifact_path",
    "check_source",
    "decoded",
    "is_within",
    "source_parts",
]

#: How many layers of percent-encoding are undone before giving up (each layer is a
#: bypass attempt; a genuine URI has one at most).
_MAX_DECODE = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[/\\#?;]")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def _refuse(field: str, value: str, why: str) -> TrackletException:
    shown = value if len(value) <= 300 else value[:300] + "..."
    return TrackletException(
        f"Invalid value {shown!r} for parameter '{field}' supplied: {why}",
        INVALID_PARAMETER_VALUE,
    )


def decoded(value: str) -> str:
    """``value`` with every layer of percent-encoding (and ``+``) undone."""
    for _ in range(_MAX_DECODE):
        unquoted = urllib.parse.unquote_plus(value)
        if unquoted == value:
            return value
        value = unquoted
    return value


def _check_text(field: str, value: str) -> str:
    """Refuse control characters and ``..`` in any encoding; returns the decoded text with
    backslashes made slashes."""
    plain = decoded(value)
    if _CONTROL.search(plain) or _CONTROL.search(value):
        raise _refuse(field, value, "control characters (such as NUL) are not allowed in a location.")
    if any(part == ".." for part in _SEPARATORS.split(plain)):
        raise _refuse(
            field,
            value,
            "a location may not contain '..' path segments (in any encoding). "
            "Give the absolute location instead.",
        )
    return plain.replace("\\", "/")


def source_parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    """``(scheme, authority, path segments)`` of a decoded URI or local path, for
    comparing locations: scheme and authority lower-cased, a local path (no scheme, a
    Windows drive, ``file:`` on this host) as scheme ``"file"`` with its absolute
    normalised segments, empty segments dropped."""
    plain = decoded(uri).replace("\\", "/")
    if _WINDOWS_DRIVE.match(plain):
        return "file", "", tuple(p for p in plain.split("/") if p)
    parsed = urllib.parse.urlsplit(plain)
    scheme = parsed.scheme.lower()
    authority = parsed.netloc.lower()
    path = parsed.path
    if scheme in ("", "file"):
        if authority in ("", "localhost"):
            path = posixpath.normpath(os.path.abspath(path)) if path else ""
            authority = ""
        scheme = "file"
    return scheme, authority, tuple(p for p in path.split("/") if p)


def is_within(location: str, root: str) -> bool:
    """Whether ``location`` is ``root`` or inside it (same scheme and authority, the
    root's path segments a prefix of the location's). A root with no path owns nothing
    but itself for local files (``/`` is not a root the server may claim)."""
    l_scheme, l_auth, l_parts = source_parts(location)
    r_scheme, r_auth, r_parts = source_parts(root)
    if (l_scheme, l_auth) != (r_scheme, r_auth):
        return False
    if not r_parts and r_scheme == "file":
        return False
    return l_parts[: len(r_parts)] == r_parts


def check_artifact_path(field: str, value: str) -> str:
    """A relative path inside an artifact root (``artifact_directory_path``, a file's
    path): no ``..``, no absolute path, no control characters, in any encoding."""
    plain = _check_text(field, value)
    if plain.startswith("/") or _WINDOWS_DRIVE.match(plain) or urllib.parse.urlsplit(plain).scheme:
        raise _refuse(field, value, "expected a relative path inside the model's artifacts.")
    return plain


def check_source(
    source: str,
    *,
    allowed_roots: Iterable[str],
    run_id: str | None = None,
    model_id: str | None = None,
    field: str = "source",
) -> None:
    """Refuse a model version source the server does not own (see the module's rules).

    :param allowed_roots: the artifact roots the server owns.
    :param run_id: the request's ``run_id``: a ``runs:/`` source must name it.
    :param model_id: the request's ``model_id``: a ``models:/<model_id>`` source must
        name it.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` naming ``field``.
    """
    if not isinstance(source, str) or not source:
        raise _refuse(field, str(source), "expected a non-empty string.")
    plain = _check_text(field, source)
    parsed = urllib.parse.urlsplit(plain)
    scheme = parsed.scheme.lower()
    if scheme == "runs":
        _check_runs_source(field, source, parsed, run_id)
        return
    if scheme == "models":
        _check_models_source(field, source, parsed, model_id)
        return
    if parsed.query or parsed.fragment:
        raise _refuse(field, source, "a source may not carry a query ('?') or fragment ('#').")
    roots = [root for root in allowed_roots if root]
    if any(is_within(plain, root) for root in roots):
        return
    local = scheme in ("", "file") or _WINDOWS_DRIVE.match(plain) is not None
    what = "a local path or file: URI" if local else "a location"
    raise _refuse(
        field,
        source,
        f"{what} outside the artifact roots this server owns is not accepted as a model "
        "version source. Register the model from runs:/<run_id>/<path> or "
        "models:/<model_id>, or from a location under the server's artifact root.",
    )


def _check_runs_source(field: str, source: str, parsed: urllib.parse.SplitResult, run_id: str | None) -> None:
    if parsed.netloc:
        raise _refuse(field, source, "a runs:/ source may not name a host (use runs:/<run_id>/<path>).")
    parts = [p for p in parsed.path.split("/") if p]
    if not parts or parsed.query or parsed.fragment:
        raise _refuse(field, source, "expected runs:/<run_id>/<path>.")
    if not run_id or parts[0] != run_id:
        raise _refuse(
            field,
            source,
            "the run_id request parameter must identify the run whose artifacts contain the source.",
        )


def _check_models_source(
    field: str, source: str, parsed: urllib.parse.SplitResult, model_id: str | None
) -> None:
    if parsed.netloc:
        raise _refuse(field, source, "a models:/ source must use this registry (no host).")
    if parsed.query or parsed.fragment:
        raise _refuse(field, source, "expected models:/<model_id> or models:/<name>/<version>.")
    parts = [p for p in parsed.path.split("/") if p]
    if not parts:
        raise _refuse(field, source, "expected models:/<model_id> or models:/<name>/<version>.")
    if len(parts) == 1 and "@" not in parts[0]:
        # models:/<model_id>: a logged model, which must be the request's model_id
        if not model_id or parts[0] != model_id:
            raise _refuse(
                field,
                source,
                "the model_id request parameter must identify the logged model that contains the source.",
            )
