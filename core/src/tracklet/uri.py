"""Small URI helpers shared by the client, the plugin manager and the stores."""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import NamedTuple

__all__ = [
    "MODELS_URI_SUFFIX_LATEST",
    "SECRET_QUERY_PARAMETER",
    "ParsedModelUri",
    "append_to_uri_path",
    "get_scheme",
    "improper_models_uri_message",
    "is_local_uri",
    "is_models_uri",
    "local_path_from_uri",
    "masked_uri",
    "parse_models_uri",
    "parse_runs_uri",
    "path_to_file_uri",
    "resolve_local_uri",
    "split_models_uri",
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


# -- models:/ URIs ---------------------------------------------------------------------------------

#: The suffix of ``models:/<name>/latest`` (any case): the newest version of any stage.
MODELS_URI_SUFFIX_LATEST = "latest"


class ParsedModelUri(NamedTuple):
    """What a ``models:/`` URI names; exactly one form is set, as MLflow's tuple of the same name:

    - ``model_id``: ``models:/<model_id>`` (an MLflow 3 logged model);
    - ``name`` + ``version``: ``models:/<name>/<version>``;
    - ``name`` + ``stage``: ``models:/<name>/<stage>`` (the newest version in that stage);
    - ``name`` alone: ``models:/<name>/latest`` (the newest version of any stage);
    - ``name`` + ``alias``: ``models:/<name>@<alias>``.
    """

    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None


def is_models_uri(uri: str) -> bool:
    """Whether ``uri`` is a ``models:`` URI."""
    return urllib.parse.urlparse(str(uri)).scheme == "models"


def improper_models_uri_message(uri: str) -> str:
    """MLflow's words for a ``models:`` URI it cannot read."""
    return (
        f"Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/name/suffix' "
        "or 'models:/name@alias' where suffix is a version, stage, or the string "
        f"{MODELS_URI_SUFFIX_LATEST!r} and where alias is a registered model alias. "
        "Only one of suffix or alias can be defined at a time."
    )


def parse_models_uri(uri: str) -> ParsedModelUri:
    """Read a ``models:/`` URI without a sub-path (see :func:`split_models_uri`) as MLflow does.

    A suffix of digits is a version, ``latest`` (any case) the newest version, any other
    suffix a stage; ``name@alias`` an alias; a single word a logged model id. Anything else
    raises ``INVALID_PARAMETER_VALUE`` with MLflow's message.
    """
    from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

    def improper() -> TrackletException:
        return TrackletException(improper_models_uri_message(uri), INVALID_PARAMETER_VALUE)

    parsed = urllib.parse.urlparse(str(uri), allow_fragments=False)
    if parsed.scheme != "models":
        raise improper()
    path = parsed.path
    if not path.startswith("/") or len(path) <= 1:
        raise improper()
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or parts[0].strip() == "":
        raise improper()
    if len(parts) == 2:
        name, suffix = parts
        if suffix.strip() == "":
            raise improper()
        if suffix.isdigit():
            return ParsedModelUri(name=name, version=suffix)
        if suffix.lower() == MODELS_URI_SUFFIX_LATEST:
            return ParsedModelUri(name=name)
        return ParsedModelUri(name=name, stage=suffix)
    if "@" in path:
        name, _, alias = parts[0].rpartition("@")
        if not alias.strip():
            raise improper()
        return ParsedModelUri(name=name, alias=alias)
    return ParsedModelUri(model_id=parts[0])


def split_models_uri(uri: str) -> tuple[str, str]:
    """``models:/<name>/<version>/path/to/file`` -> (``models:/<name>/<version>``, ``path/to/file``);
    ``models:/<name>@<alias>/path`` -> (``models:/<name>@<alias>``, ``path``). As MLflow's
    ``ModelsArtifactRepository.split_models_uri``: a URI without a sub-path comes back whole."""
    uri = uri.rstrip("/")
    parsed = urllib.parse.urlparse(uri)
    path = parsed.path
    if path.count("/") >= 2 and not path.endswith("/"):
        splits = path.split("/", 3)
        cut = 2 if "@" in splits[1] else 3
        base = f"models://{parsed.netloc}" if parsed.netloc else "models:"
        return base + "/".join(splits[:cut]), "/".join(splits[cut:])
    return uri, ""
