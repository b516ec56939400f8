"""Small URI helpers shared by the client, the plugin manager and the stores."""

from __future__ import annotations

import os
import re
import urllib.parse

__all__ = [
    "SECRET_QUERY_PARAMETER",
    "append_to_uri_path",
    "get_scheme",
    "is_local_uri",
    "local_path_from_uri",
    "masked_uri",
    "parse_runs_uri",
    "path_to_file_uri",
    "resolve_local_uri",
]


def get_scheme(uri: str) -> str:
    """The scheme of a URI in lower case, ``""`` for a plain path.

    ``postgresql+psycopg://…`` -> ``postgresql`` (the driver suffix is dropped). The bare
    words ``databricks`` and ``databricks-uc`` are MLflow's Databricks URIs, not folders.
    """
    if uri in ("databricks", "databricks-uc"):
        return uri
    scheme = urllib.parse.urlparse(uri).scheme
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        return ""
    return scheme.split("+", 1)[0].lower()


def is_local_uri(uri: str) -> bool:
    """True for plain paths and ``file:`` URIs."""
    return get_scheme(uri) in ("", "file")


def local_path_from_uri(uri: str) -> str:
    """``file:///a/b`` or ``/a/b`` or ``a/b`` -> an absolute local path."""
    if get_scheme(uri) == "file":
        parsed = urllib.parse.urlparse(uri)
        from urllib.request import url2pathname  # imported on use: urllib.request costs ~20 ms

        path = url2pathname(parsed.path)
        if parsed.netloc and parsed.netloc not in ("", "localhost"):
            path = f"//{parsed.netloc}{path}"
        return os.path.abspath(path)
    return os.path.abspath(uri)


def path_to_file_uri(path: str) -> str:
    """An absolute ``file://`` URI for a local path."""
    from urllib.request import pathname2url  # imported on use: urllib.request costs ~20 ms

    return "file://" + pathname2url(os.path.abspath(path))


def resolve_local_uri(uri: str) -> str:
    """Make a local path or ``file:`` URI absolute, keeping its form (as MLflow does);
    any other URI is returned unchanged."""
    scheme = get_scheme(uri)
    if scheme == "":
        return os.path.abspath(uri)
    if scheme == "file":
        return path_to_file_uri(local_path_from_uri(uri))
    return uri


def append_to_uri_path(uri: str, *paths: str) -> str:
    """Join path parts onto a URI's path, keeping scheme, netloc and query
    (``s3://b/p`` + ``c`` -> ``s3://b/p/c``; ``http://h/api?x=1`` + ``z`` -> ``http://h/api/z?x=1``)."""
    parsed = urllib.parse.urlparse(uri)
    parts = [p.strip("/") for p in paths if p and p.strip("/")]
    if not parts:
        return uri
    joined = "/".join(parts)
    path = f"{parsed.path.rstrip('/')}/{joined}" if parsed.path else joined
    if not parsed.scheme:
        return path
    return urllib.parse.urlunparse(parsed._replace(path=path))


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> (run_id, path)."""
    from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "runs":
        raise TrackletException(f"Not a runs:/ URI: {uri!r}", INVALID_PARAMETER_VALUE)
    full = (parsed.netloc + parsed.path).strip("/") if parsed.netloc else parsed.path.strip("/")
    if not full:
        raise TrackletException(
            f"Invalid runs URI {uri!r}: expected 'runs:/<run_id>/<path>'.", INVALID_PARAMETER_VALUE
        )
    run_id, _, path = full.partition("/")
    return run_id, path


#: Query parameters whose values :func:`masked_uri` hides.
SECRET_QUERY_PARAMETER = re.compile(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)


def masked_uri(uri: str) -> str:
    """``uri`` fit for a banner, a log line or an error message: its password, and the
    value of any query parameter that looks like a secret, shown as ``***``
    (``postgresql://user:***@host/db``)."""
    parts = urllib.parse.urlsplit(uri)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{urllib.parse.quote(k)}={'***' if SECRET_QUERY_PARAMETER.search(k) else urllib.parse.quote(v)}"
            for k, v in pairs
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return uri  # nothing to hide (and urlunsplit would turn sqlite://// into sqlite://)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
