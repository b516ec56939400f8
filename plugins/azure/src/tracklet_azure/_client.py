"""Settings, credentials and the per-process cache of ``BlobServiceClient`` objects.

Credentials are looked for in MLflow's order:

1. ``AZURE_STORAGE_CONNECTION_STRING`` — the whole connection: its ``BlobEndpoint`` (or
   account name and endpoint suffix) says where the account is, whatever the URI's host;
2. ``AZURE_STORAGE_ACCESS_KEY`` — a shared key for the account named in the URI;
3. ``DefaultAzureCredential`` from azure-identity (``pip install tracklet-azure[identity]``):
   managed identity, workload identity, environment service principal, ``az login``.

Each has a ``TRACKLET_`` twin looked at first (``TRACKLET_AZURE_STORAGE_CONNECTION_STRING``),
for pointing tracklet elsewhere than the other Azure tools of the same shell.

A client holds a pool of connections and, with azure-identity, a token cache, so there
is one per (endpoint, credential, settings) per process, built under a lock, and all are
closed at interpreter exit (or by :func:`close_clients`). A process forked after using
one builds its own: its parent's connections stay its parent's.
"""

from __future__ import annotations

import atexit
import hashlib
from typing import Any, NamedTuple

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.stores.forking import ProcessCache
from tracklet.utils import environment
from tracklet_azure._uri import AzureLocation

__all__ = [
    "AzureSettings",
    "CredentialSource",
    "close_clients",
    "connection_string_variable",
    "credential_source",
    "describe",
    "service_client",
]

MiB = 1024 * 1024


#: Files one directory transfer moves at once (the repository's ``max_workers``).
MAX_WORKERS = 8


def _number(names: tuple[str, ...], default: float, minimum: float, kind: type = float) -> Any:
    def parse(raw: str) -> Any:
        value = kind(raw)
        if value < minimum:
            raise ValueError(raw)
        return value

    return environment.get_parsed(
        names, default, parse, f"it must be a {kind.__name__} of at least {minimum}"
    )


class AzureSettings(NamedTuple):
    """Transfer settings, read from the environment when a repository is built."""

    #: connections one file's transfer uses at once (``upload_blob``/``download_blob``'s
    #: ``max_concurrency``).
    max_concurrency: int = 4
    #: block size for uploads and chunk size for downloads; files up to this size go in
    #: one request. Memory per file transfer is about ``max_concurrency`` blocks.
    block_size: int = 8 * MiB
    #: retries of a request that failed on a connection error, 408, 429 or 5xx.
    max_retries: int = 5
    #: seconds before the first retry; later ones back off exponentially.
    retry_backoff: float = 2.0
    connection_timeout: float = 20.0
    #: seconds a socket read may wait (the SDK's ``read_timeout``).
    read_timeout: float = 60.0
    #: MLflow's ``MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT``: also passed to each transfer
    #: as the SDK's ``timeout`` (the service's own limit per request). None: not sent.
    transfer_timeout: float | None = None

    @classmethod
    def from_environment(cls) -> AzureSettings:
        default = cls._field_defaults
        transfer = _number(
            ("TRACKLET_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"),
            0,
            1,
            int,
        )
        return cls(
            max_concurrency=_number(("TRACKLET_AZURE_MAX_CONCURRENCY",), default["max_concurrency"], 1, int),
            block_size=_number(("TRACKLET_AZURE_BLOCK_SIZE_MB",), default["block_size"] // MiB, 1, int) * MiB,
            max_retries=_number(("TRACKLET_AZURE_MAX_RETRIES",), default["max_retries"], 0, int),
            retry_backoff=_number(("TRACKLET_AZURE_RETRY_BACKOFF",), default["retry_backoff"], 0),
            connection_timeout=_number(
                ("TRACKLET_AZURE_CONNECTION_TIMEOUT",), default["connection_timeout"], 0.001
            ),
            read_timeout=float(transfer) if transfer else default["read_timeout"],
            transfer_timeout=transfer or None,
        )


class CredentialSource(NamedTuple):
    """Which credential a client uses: ``kind`` is ``"connection string"``, ``"access key"``
    or ``"DefaultAzureCredential"``; ``variable`` the environment variable it came from."""

    kind: str
    variable: str | None
    secret: str | None


def _env_with_name(name: str) -> tuple[str, str] | None:
    return environment.lookup(name, mlflow="", also=(name,))


def connection_string_variable() -> str | None:
    """The variable holding the connection string in use, if any."""
    found = _env_with_name("AZURE_STORAGE_CONNECTION_STRING")
    return found[0] if found else None


def credential_source(location: AzureLocation) -> CredentialSource:
    """The credential for ``location``, in MLflow's order, or a TrackletException saying
    what to set."""
    found = _env_with_name("AZURE_STORAGE_CONNECTION_STRING")
    if found:
        return CredentialSource("connection string", found[0], found[1])
    found = _env_with_name("AZURE_STORAGE_ACCESS_KEY")
    if found:
        return CredentialSource("access key", found[0], found[1])
    try:
        import azure.identity  # noqa: F401
    except ImportError:
        raise TrackletException(
            f"No Azure credentials for the storage account {location.account!r}: set "
            "AZURE_STORAGE_CONNECTION_STRING (the account's connection string), or "
            "AZURE_STORAGE_ACCESS_KEY (its access key), or install azure-identity "
            "(pip install 'tracklet-azure[identity]') to use DefaultAzureCredential "
            "(managed identity, az login, ...)",
            "UNAUTHENTICATED",
        ) from None
    return CredentialSource("DefaultAzureCredential", None, None)


def describe(source: CredentialSource) -> str:
    """``the access key from AZURE_STORAGE_ACCESS_KEY``, for messages."""
    return f"the {source.kind} from {source.variable}" if source.variable else source.kind


#: (client, credential) per process: a forked child builds its own (the parent's holds
#: pooled keep-alive connections the parent goes on using).
_clients: ProcessCache[tuple[Any, ...], tuple[Any, Any]] = ProcessCache()


def service_client(location: AzureLocation, source: CredentialSource, settings: AzureSettings) -> Any:
    """The process's ``BlobServiceClient`` for this endpoint, credential and settings."""
    secret = hashlib.sha256(source.secret.encode()).hexdigest() if source.secret else None
    endpoint = None if source.kind == "connection string" else location.account_url
    if source.kind != "connection string" and endpoint is None:
        raise TrackletException(
            f"The host of {location.scheme}://{location.container}@... is not an Azure Blob "
            f"endpoint; only a connection string (AZURE_STORAGE_CONNECTION_STRING) can reach it",
            INVALID_PARAMETER_VALUE,
        )
    key = (source.kind, secret, endpoint, location.account if source.kind == "access key" else None, settings)
    return _clients.get(key, lambda: _build(location, source, settings))[0]


def _transport(settings: AzureSettings) -> Any:
    """A requests transport whose pool fits the connections the base's thread pool and
    each file's ``max_concurrency`` open at once (requests keeps 10 by default)."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    try:  # the SDK's adapter, reading sockets in bigger blocks; a plain one if it moves
        from azure.core.pipeline.transport._requests_basic import (  # type: ignore[attr-defined]
            BiggerBlockSizeHTTPAdapter as Adapter,
        )
    except ImportError:  # pragma: no cover - depends on azure-core's internals
        from requests.adapters import HTTPAdapter as Adapter  # type: ignore[assignment]

    session = requests.Session()
    pool = MAX_WORKERS * settings.max_concurrency
    adapter = Adapter(
        max_retries=Retry(total=False, redirect=False, raise_on_status=False), pool_maxsize=pool
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=settings.connection_timeout,
        read_timeout=settings.read_timeout,
    )


def _build(location: AzureLocation, source: CredentialSource, settings: AzureSettings) -> tuple[Any, Any]:
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    options: dict[str, Any] = {
        "retry_policy": ExponentialRetry(
            initial_backoff=settings.retry_backoff,  # type: ignore[arg-type]  # typed int, takes seconds as float
            increment_base=2,
            retry_total=settings.max_retries,
            random_jitter_range=1,
        ),
        "transport": _transport(settings),
        "connection_timeout": settings.connection_timeout,
        "read_timeout": settings.read_timeout,
        "max_single_put_size": settings.block_size,
        "max_block_size": settings.block_size,
        "max_single_get_size": settings.block_size,
        "max_chunk_get_size": settings.block_size,
    }
    credential: Any = None
    if source.kind == "connection string":
        try:
            client = BlobServiceClient.from_connection_string(source.secret or "", **options)
        except ValueError as exc:
            raise TrackletException(
                f"{source.variable} is not a usable Azure Storage connection string: {exc}",
                INVALID_PARAMETER_VALUE,
            ) from None
        return client, None
    if location.account_url is None:  # a host that is not *.blob.<cloud>: only a connection string says how
        raise TrackletException(
            f"The artifact location names the host {location.account!r}, not an Azure Blob endpoint: set "
            "AZURE_STORAGE_CONNECTION_STRING (e.g. Azurite's) to reach it.",
            INVALID_PARAMETER_VALUE,
        )
    if source.kind == "access key":
        credential = {"account_name": location.account, "account_key": source.secret}
        return BlobServiceClient(location.account_url, credential=credential, **options), None
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    return BlobServiceClient(location.account_url, credential=credential, **options), credential


def close_clients() -> None:
    """Close every cached client (and credential); the next repository builds new ones."""
    for client, credential in _clients.pop_all():
        client.close()
        if credential is not None:
            credential.close()


atexit.register(close_clients)
