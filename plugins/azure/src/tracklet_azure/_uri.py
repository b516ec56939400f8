"""Parsing ``wasbs://``, ``wasb://`` and ``abfss://`` artifact URIs (no SDK needed).

``wasbs://<container>@<account>.blob.core.windows.net/<path>`` names a container of a
storage account and a path in it; ``abfss://<container>@<account>.dfs.core.windows.net/<path>``
names the same thing on an ADLS Gen2 account's Data Lake endpoint, which we reach through
the account's Blob endpoint (``<account>.blob.core.windows.net``): Gen2 accounts serve
the Blob API on the same data. Other Azure clouds keep the ``<account>.blob.`` /
``<account>.dfs.`` shape with their own suffix (``core.chinacloudapi.cn``,
``core.usgovcloudapi.net``): :data:`CLOUD_SUFFIXES` lists the accepted ones.

With a connection string (the way to point at Azurite or a private endpoint), the
connection string says where the account is, so any host is accepted; the account's
name in messages is then the connection string's.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import NamedTuple

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

#: scheme -> the endpoint label its host carries (``<account>.<label>.core.<suffix>``).
ENDPOINT_LABELS = {"wasbs": "blob", "wasb": "blob", "abfss": "dfs"}

# Azure's rules: 3-63 characters, lowercase letters, digits and single hyphens, starting
# and ending with a letter or digit; ``$root`` and ``$web`` are the special containers.
_CONTAINER = re.compile(r"^(?:[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}|\$root|\$web)$")
#: The storage endpoint suffixes of Azure's clouds (public, China, US Government, and
#: the retired Germany one). A fixed list, not a pattern: a host such as
#: ``acct.blob.core.windows.net.example.com`` must not receive the account's key.
CLOUD_SUFFIXES = ("core.windows.net", "core.chinacloudapi.cn", "core.usgovcloudapi.net", "core.cloudapi.de")
# Account names are 3-24 lowercase letters and digits.
_HOST = re.compile(
    r"^(?P<account>[a-z0-9]{3,24})\.(?P<label>blob|dfs)\.(?P<suffix>"
    + "|".join(re.escape(suffix) for suffix in CLOUD_SUFFIXES)
    + r")$"
)


class AzureLocation(NamedTuple):
    """Where an artifact URI points."""

    scheme: str
    container: str
    account: str
    #: ``https://<account>.blob.<suffix>`` (the Blob endpoint, also for ``abfss``);
    #: None when the host is not an Azure one (allowed with a connection string only).
    account_url: str | None
    #: the path inside the container, no leading or trailing ``/``.
    path: str


def _invalid(uri: str, rule: str) -> TrackletException:
    return TrackletException(f"Invalid Azure artifact URI {uri!r}: {rule}", INVALID_PARAMETER_VALUE)


def parse_azure_uri(uri: str, *, any_host: bool = False) -> AzureLocation:
    """Split an artifact URI into container, account and path; ``any_host`` (a connection
    string is set) accepts hosts that are not ``<account>.blob|dfs.core.<suffix>``."""
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.lower()
    label = ENDPOINT_LABELS.get(scheme)
    if label is None:
        raise _invalid(uri, f"the scheme must be one of {', '.join(s + '://' for s in ENDPOINT_LABELS)}")
    expected = f"{scheme}://<container>@<account>.{label}.core.windows.net/<path>"
    if parsed.query or parsed.fragment or uri.endswith(("?", "#")):
        raise _invalid(uri, f"no query string or fragment is allowed; expected {expected}")
    container, at, host = parsed.netloc.rpartition("@")
    if not at or not container:
        raise _invalid(uri, f"the container is missing; expected {expected}")
    if not _CONTAINER.match(container):
        raise _invalid(
            uri,
            f"{container!r} is not a container name (3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit)",
        )
    host = host.lower()
    match = _HOST.match(host)
    if match and match["label"] != label:
        raise _invalid(uri, f"a {scheme}:// URI names the {label!r} endpoint; expected {expected}")
    if match:
        account_url = f"https://{match['account']}.blob.{match['suffix']}"
        account = match["account"]
    elif any_host and host:
        account_url, account = None, host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    else:
        raise _invalid(
            uri,
            f"the host must be <account>.{label}.core.windows.net (or another Azure cloud's: "
            f"{', '.join(CLOUD_SUFFIXES[1:])}); set AZURE_STORAGE_CONNECTION_STRING to reach "
            f"another endpoint; expected {expected}",
        )
    return AzureLocation(scheme, container, account, account_url, parsed.path.strip("/"))
