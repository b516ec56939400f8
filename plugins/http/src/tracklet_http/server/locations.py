"""Which artifact locations the server itself may read.

A run's artifact URI comes from its experiment's ``artifact_location``, which any client
may choose when it creates the experiment. The server must never dereference such a
location on a client's behalf: doing so would make it fetch ``http(s)://`` URLs of the
client's choosing with the server's own credentials (an SSRF, and a port scanner through
its error messages), list folders anywhere on its disk, or resolve ``runs:/`` URIs
through its own tracking store.

So ``artifacts/list`` reads only where the operator pointed the server: the artifact
proxy's destination (``--artifacts-destination``, for proxied ``mlflow-artifacts:``
URIs) and the default artifact root (``--default-artifact-root``) and what lies under
it. A location elsewhere is refused with a message that says how to list it (from the
client, with the client's own credentials, as MLflow's client does anyway).
"""

from __future__ import annotations

import os
import posixpath
import urllib.parse

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.uri import get_scheme, is_local_uri, local_path_from_uri

__all__ = ["check_readable_location", "is_within"]

#: Schemes that name no place of their own: they are resolved through a tracking or
#: registry store, which the server must not do for a client-chosen location.
_INDIRECT = frozenset({"runs", "models", "mlflow-artifacts"})


def _local_within(location: str, root: str) -> bool:
    real_root = os.path.realpath(local_path_from_uri(root))
    real = os.path.realpath(local_path_from_uri(location))
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _clean_segments(path: str) -> bool:
    """Whether a remote path, and its percent-decoding, has no ``.``/``..`` segment and
    no backslash (no way to climb out of a prefix, however the far side decodes it)."""
    for form in (path, urllib.parse.unquote(path)):
        if "\\" in form or any(segment in (".", "..") for segment in form.split("/")):
            return False
    return True


def is_within(location: str, root: str) -> bool:
    """Whether artifact URI ``location`` is ``root`` or lies under it.

    Local paths and ``file:`` URIs are compared by their real paths (symbolic links
    resolved); other URIs need the same scheme and host, no query or fragment, a path
    without ``.``/``..`` segments in any encoding, and the root's path as a prefix ending at
    a ``/``.
    """
    if not location or not root:
        return False
    if is_local_uri(root) or is_local_uri(location):
        return is_local_uri(root) and is_local_uri(location) and _local_within(location, root)
    scheme = get_scheme(location)
    if scheme in _INDIRECT or scheme != get_scheme(root):
        return False
    loc, base = urllib.parse.urlsplit(location), urllib.parse.urlsplit(root)
    if loc.netloc.lower() != base.netloc.lower() or loc.query or loc.fragment:
        return False
    if not _clean_segments(loc.path) or not _clean_segments(base.path):
        return False
    prefix = posixpath.normpath("/" + base.path.lstrip("/")).rstrip("/")
    path = "/" + loc.path.lstrip("/")
    return path.rstrip("/") == prefix or path.startswith(prefix + "/")


def check_readable_location(location: str, roots: tuple[str, ...]) -> None:
    """Refuse (INVALID_PARAMETER_VALUE) an artifact location outside every root the
    operator configured."""
    if any(get_scheme(root) not in _INDIRECT and is_within(location, root) for root in roots if root):
        return
    raise TrackletException(
        f"The server does not read artifact location '{location}': it lies outside the "
        "artifact roots this server was started with, and the server never reads a location "
        "a client chose. List these artifacts from the client (MlflowClient.list_artifacts or "
        "tracklet.artifacts.list_artifacts read them with the client's own credentials), or "
        "start the server with --default-artifact-root (or --artifacts-destination with "
        "--serve-artifacts) covering it.",
        INVALID_PARAMETER_VALUE,
    )
