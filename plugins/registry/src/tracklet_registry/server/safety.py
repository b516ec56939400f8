"""Where a client may point the server: checks on model version sources before they are stored.

A model version's ``source`` is a string the server stores and hands back; it never opens
or fetches it (reading a model's files happens only through the routes that read inside
the server's own artifact roots). The rules are MLflow 3.17.2's server's
(``mlflow/server/handlers.py``: ``_create_model_version``, ``_validate_source_run``,
``_validate_source_model``, ``_validate_non_local_source_contains_relative_paths``), which
answer the local-file-inclusion CVEs of MLflow's server (2023-1177, 2023-2356, 2023-2780,
2023-6977, 2024-1483, 2024-2928, 2026-2614), in this order:

1. With ``TRACKLET_``/``MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX`` set, a source
   the regex does not find (``re.search``) is refused: ``Invalid model version source: '<s>'.``
2. A scheme that makes a server connect to the host it names (``http``, ``https``,
   ``ftp``, ``sftp``, ``hdfs``, ``viewfs``, ``r2``, ``b2``, ``abfss``,
   ``mlflow-artifacts://<host>``) is refused unless it names the host of one of the
   server's artifact roots or ``TRACKLET_``/``MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES``
   lists the scheme.
3. A local source (a path, a Windows drive path, ``file:`` on this host): accepted only
   with a ``run_id`` (or ``model_id``) whose artifact directory is local and contains it,
   ``..`` resolved as MLflow resolves it. tracklet checks the containment for every layer
   of percent-decoding, with backslashes as separators, lexically and with symlinks
   resolved, so no spelling of the path can leave the directory. A ``file://<host>/...``
   naming another host is answered as MLflow answers it (500, ``... is not a valid remote
   uri``).
4. Any other URI: no ``..`` segment and no control character after undoing every layer of
   percent-encoding (and ``\\``, ``#``, ``?``, ``;`` count as separators), an absolute
   normalised path; then ``runs:/<run_id>/...`` must name the request's ``run_id``,
   ``models:/<model_id>`` the request's ``model_id`` (``models:/<name>/<version>`` is a
   copy of a version of this registry), and an ``mlflow-artifacts:`` source (or an
   ``http(s)`` URI of the artifact proxy) must lie in the artifact root of the request's run
   (or logged model). Other URIs (``s3://``, ``gs://``, ``dbfs:/`` ...) are accepted as
   MLflow accepts them: the server only stores them.

Refusals are ``INVALID_PARAMETER_VALUE`` with MLflow's words (``Invalid model version
source: ...``).
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
from collections.abc import Callable, Iterable

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.utils import environment

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

#: Schemes whose repositories connect to the host in the URI (MLflow's host policy).
_HOST_ADDRESSED = frozenset(
    {"ftp", "sftp", "hdfs", "viewfs", "http", "https", "mlflow-artifacts", "r2", "b2", "abfss"}
)
_FAMILIES = {"viewfs": "hdfs", "https": "http", "mlflow-artifacts": "http"}
_DEFAULT_PORTS: dict[str, tuple[int | None, ...]] = {
    "ftp": (21,),
    "sftp": (22,),
    "http": (80,),
    "https": (443,),
    "mlflow-artifacts": (80, 443),
    "r2": (443,),
    "b2": (443,),
    "abfss": (443,),
}
_PROXY_ROUTE = ("api", "2.0", "mlflow-artifacts", "artifacts")

#: Looks up the artifact location of a run (or logged model) by id; raises
#: ``RESOURCE_DOES_NOT_EXIST`` for an unknown one.
LocationLookup = Callable[[str], str]


def _refuse(field: str, value: str, why: str) -> TrackletException:
    shown = value if len(value) <= 300 else value[:300] + "..."
    return TrackletException(
        f"Invalid value {shown!r} for parameter '{field}' supplied: {why}",
        INVALID_PARAMETER_VALUE,
    )


def _invalid(source: str, why: str = "") -> TrackletException:
    shown = source if len(source) <= 300 else source[:300] + "..."
    return TrackletException(
        f"Invalid model version source: '{shown}'." + (f" {why}" if why else ""), INVALID_PARAMETER_VALUE
    )


def _not_identified(source: str, id_name: str) -> TrackletException:
    return _invalid(
        source, f"The {id_name} request parameter must identify the resource that contains the source."
    )


def _relative(source: str) -> TrackletException:
    return _invalid(
        source,
        "If supplying a source as an http, https, local file path, ftp, objectstore, or "
        "mlflow-artifacts uri, an absolute path must be provided without relative path "
        "references present. Please provide an absolute path.",
    )


def _local_refused(source: str, id_name: str) -> TrackletException:
    what = "run specified by the run_id" if id_name == "run_id" else "run specified by the model_id"
    return _invalid(
        source,
        f"To use a local path as a model version source, the {id_name} request parameter has to "
        f"be specified and the local path has to be contained within the artifact directory of the {what}.",
    )


def decoded(value: str) -> str:
    """``value`` with every layer of percent-encoding (and ``+``) undone."""
    for _ in range(_MAX_DECODE):
        unquoted = urllib.parse.unquote_plus(value)
        if unquoted == value:
            return value
        value = unquoted
    return value


def _layers(value: str) -> list[str]:
    """``value`` and each layer of percent-decoding of it (``%`` only, as a path is read)."""
    out = [value]
    for _ in range(_MAX_DECODE):
        unquoted = urllib.parse.unquote(out[-1])
        if unquoted == out[-1]:
            break
        out.append(unquoted)
    return out


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


def _is_local_host(hostname: str | None) -> bool:
    return not hostname or hostname == "." or hostname.startswith(("localhost", "127.0.0.1"))


def _local_path(source: str) -> str | None:
    """The path a local source names (as MLflow reads it), or None for a non-local URI.
    Raises MLflow's 500 for a ``file:`` URI naming another host."""
    if _WINDOWS_DRIVE.match(source) or source.startswith("\\\\"):
        return source  # a Windows path: local (never resolved on this machine's disk)
    try:
        parsed = urllib.parse.urlparse(source)
        hostname = parsed.hostname
    except ValueError:
        return None
    scheme = parsed.scheme.lower()
    if scheme == "":
        return source
    if scheme == "file":
        if not _is_local_host(hostname):
            raise TrackletException(
                f"{source} is not a valid remote uri. For remote access on windows, please consider "
                "using a different scheme such as SMB (e.g. smb://<hostname>/<path>).",
                INTERNAL_ERROR,
            )
        return parsed.path
    if len(scheme) == 1:
        return source  # a drive letter (c:\\...): local as on Windows, never a URI scheme
    return None


def _normalised(path: str) -> str:
    path = path.replace("\\", "/")
    return posixpath.normpath(os.path.join(os.getcwd(), path)) if path else os.getcwd()


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _local_contained(path: str, artifact_location: str) -> bool:
    """Whether every reading of ``path`` (each layer of percent-decoding; lexically and
    with symlinks resolved) lies in the local ``artifact_location``."""
    root_path = _local_path(artifact_location)
    if root_path is None or not root_path:
        return False
    root_path = urllib.parse.unquote(root_path)
    root = _normalised(root_path)
    real_root = os.path.realpath(root)
    if root == "/":
        return False
    for layer in _layers(path):
        if _CONTROL.search(layer):
            return False
        lexical = _normalised(layer)
        if not (_inside(lexical, root) or _inside(lexical, real_root)):
            return False
        if not _inside(os.path.realpath(lexical), real_root):
            return False
    return True


def _host_targets(uri: str) -> frozenset[tuple[str, str, int | None]] | None:
    try:
        parsed = urllib.parse.urlparse(uri)
    except ValueError:
        return frozenset({("malformed", uri, None)})
    scheme = parsed.scheme.lower()
    if scheme not in _HOST_ADDRESSED or (scheme == "mlflow-artifacts" and not parsed.netloc):
        return None
    if "\\" in parsed.netloc or any(c.isspace() for c in parsed.netloc):
        return frozenset({("malformed", parsed.netloc, None)})
    try:
        port = parsed.port
    except ValueError:
        return frozenset({("malformed", parsed.netloc, None)})
    family = _FAMILIES.get(scheme, scheme)
    ports = (port,) if port is not None else _DEFAULT_PORTS.get(scheme, (None,))
    return frozenset((family, (parsed.hostname or "").lower(), p) for p in ports)


def _check_host(source: str, roots: Iterable[str], field: str) -> None:
    """MLflow's host policy: a scheme that connects to the host it names only for the
    hosts of the server's own roots, or a scheme the operator allows."""
    targets = _host_targets(source)
    if targets is None:
        return
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    allowed = environment.get("ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES") or ""
    if scheme in {s.strip().lower() for s in allowed.split(",") if s.strip()}:
        return
    trusted: set[tuple[str, str, int | None]] = set()
    for root in roots:
        trusted |= _host_targets(root) or set()
    if targets & trusted:
        return
    raise TrackletException(
        f"'{field}' cannot use the '{scheme}' scheme: the '{scheme}' scheme addresses a host other "
        "than the tracking server's configured artifact storage, so the server would connect to the "
        "host named in the URI. Set the MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES (or "
        "TRACKLET_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES) environment variable on the server to allow it.",
        INVALID_PARAMETER_VALUE,
    )


def _uri_parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parsed = urllib.parse.urlsplit(uri)
    parts = tuple(decoded(p) for p in parsed.path.split("/") if p)
    return parsed.scheme.lower(), parsed.netloc.lower(), parts


def _uri_within(source: str, root: str) -> bool:
    s_scheme, s_auth, s_parts = _uri_parts(source)
    r_scheme, r_auth, r_parts = _uri_parts(root)
    return (s_scheme, s_auth) == (r_scheme, r_auth) and bool(r_parts) and s_parts[: len(r_parts)] == r_parts


def _is_proxy_source(source: str) -> bool:
    scheme, _, parts = _uri_parts(source)
    if scheme == "mlflow-artifacts":
        return True
    n = len(_PROXY_ROUTE)
    return scheme in ("http", "https") and any(
        parts[i : i + n] == _PROXY_ROUTE for i in range(len(parts) - n + 1)
    )


def _check_non_local(source: str) -> str:
    """MLflow's refusal of relative references in a non-local URI, after every layer of
    percent-encoding; also backslashes, ``#``, ``?`` and ``;`` as separators and control
    characters. Returns the decoded source."""
    plain = decoded(source)
    if _CONTROL.search(plain) or any(part == ".." for part in _SEPARATORS.split(plain)):
        raise _relative(source)
    try:
        path = urllib.parse.urlparse(plain).path
    except ValueError:
        raise _relative(source) from None
    path = re.sub(r"/+", "/", path.rstrip("/"))
    if not path.startswith("/") or posixpath.normpath(path) != path:
        raise _relative(source)
    return plain


def _location(lookup: LocationLookup | None, ident: str, source: str, id_name: str) -> str:
    if lookup is None:
        raise _not_identified(source, id_name)
    try:
        return lookup(ident) or ""
    except TrackletException as e:
        if e.error_code == RESOURCE_DOES_NOT_EXIST:
            raise _not_identified(source, id_name) from None
        raise


def _models_source_id(source: str, parsed: urllib.parse.ParseResult) -> str | None:
    """The logged model id a ``models:/`` source names, or None for ``models:/<name>/...``."""
    parts = parsed.path.lstrip("/").split("/")
    if not parsed.path.startswith("/") or len(parsed.path) <= 1 or len(parts) > 2 or not parts[0].strip():
        raise _not_identified(source, "model_id")
    if len(parts) == 1 and "@" not in parts[0]:
        return parts[0]
    return None


def check_source(
    source: str,
    *,
    allowed_roots: Iterable[str] = (),
    run_id: str | None = None,
    model_id: str | None = None,
    run_location: LocationLookup | None = None,
    model_location: LocationLookup | None = None,
    field: str = "source",
) -> None:
    """Refuse a model version source as MLflow 3.17.2's server does (see the module's rules).

    :param allowed_roots: the artifact roots the server owns (their hosts are the ones a
        host-addressed scheme may name).
    :param run_id: the request's ``run_id``.
    :param model_id: the request's ``model_id``; when given the source is checked against
        the logged model instead of the run, as MLflow does.
    :param run_location: ``run_id -> artifact URI`` (raises ``RESOURCE_DOES_NOT_EXIST``).
    :param model_location: ``model_id -> artifact location``.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` (a ``file://<other host>`` source:
        ``INTERNAL_ERROR`` as MLflow).
    """
    if not isinstance(source, str) or not source:
        raise _refuse(field, str(source), "expected a non-empty string.")
    regex = environment.get("CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX")
    if regex and not re.search(regex, source):
        raise _invalid(source)
    _check_host(source, allowed_roots, field)
    by_model = bool(model_id)
    id_name = "model_id" if by_model else "run_id"
    ident = model_id if by_model else run_id
    lookup = model_location if by_model else run_location

    local = _local_path(source)
    if local is not None:
        if ident:
            location = _location(lookup, ident, source, id_name)
            if _local_path(location) is not None and _local_contained(local, location):
                return
        raise _local_refused(source, id_name)

    plain = _check_non_local(source)
    parsed = urllib.parse.urlparse(plain)
    scheme = parsed.scheme.lower()
    if scheme == "runs":
        if by_model or parsed.netloc:
            raise _not_identified(source, id_name)
        parts = parsed.path.lstrip("/").split("/")
        if not parsed.path.startswith("/") or not parts[0] or parts[0] != run_id:
            raise _not_identified(source, "run_id")
        return
    if scheme == "models":
        if parsed.netloc:
            raise _not_identified(source, "model_id")
        named = _models_source_id(source, parsed)
        if named is not None and (not by_model or named != model_id):
            raise _not_identified(source, "model_id")
        return
    if _is_proxy_source(plain):
        if ident and _uri_within(source, _location(lookup, ident, source, id_name)):
            return
        raise _not_identified(source, id_name)
