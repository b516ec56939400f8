"""Settings, credentials and the per-process cache of ``storage.Client`` objects.

Credentials come from one of two places:

1. ``STORAGE_EMULATOR_HOST`` set (``http://127.0.0.1:9023``): the emulator there, with
   anonymous credentials and the project ``TRACKLET_GCS_PROJECT`` /
   ``GOOGLE_CLOUD_PROJECT`` (default ``"test"``);
2. otherwise Google's application default credentials (``google.auth.default``):
   ``GOOGLE_APPLICATION_CREDENTIALS`` (a key or credentials file), ``gcloud auth
   application-default login``, or the metadata server on GCE, GKE, Cloud Run.

A client holds a pool of connections and a token that it refreshes, so there is one per
(emulator, project, credentials file, pool size) per process, built under a lock, and
all are closed at interpreter exit (or by :func:`close_clients`). A process forked
after using one builds its own: its parent's connections stay its parent's.
google-cloud-storage is imported here, inside functions, so that importing the plugin
stays cheap.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from tracklet.exceptions import TrackletException
from tracklet.stores.forking import ProcessCache
from tracklet.utils import environment

__all__ = ["GCSClient", "GCSSettings", "close_clients", "storage_client"]

T = TypeVar("T")
MiB = 1024 * 1024
#: GCS takes resumable uploads (and the library chunked downloads) in multiples of this.
CHUNK_MULTIPLE = 256 * 1024
#: The project the emulator's client uses when none is set.
EMULATOR_PROJECT = "test"
#: What the client asks ``google.auth.default`` for (google-cloud-storage's own scopes).
SCOPES = (
    "https://www.googleapis.com/auth/devstorage.full_control",
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/devstorage.read_write",
)

# -- settings ---------------------------------------------------------------------------------


def _setting(names: tuple[str, ...], default: T, parse: Callable[[str], T], rule: str) -> T:
    """The first of ``names`` that is set, parsed (``parse`` raises ValueError when the
    value breaks ``rule``); ``default`` when none is."""
    return environment.get_parsed(names, default, parse, rule)


def _chunk_size(raw: str) -> int:
    value = int(raw)
    if value <= 0 or value % CHUNK_MULTIPLE:
        raise ValueError(raw)
    return value


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if not value > 0:  # type: ignore[operator]
            raise ValueError(raw)
        return value

    return parse


def _timeout(raw: str) -> float | None:
    value = float(raw)
    if value == -1:  # MLflow's spelling of "no timeout"
        return None
    if not value > 0:
        raise ValueError(raw)
    return value


_CHUNK_RULE = (
    "it must be a whole number of bytes, a positive multiple of 262144 (256 KiB), e.g. 16777216 for 16 MiB"
)


class GCSSettings(NamedTuple):
    """Transfer settings, read from the environment when a repository is built."""

    #: resumable uploads send the file in chunks of this many bytes (``blob.chunk_size``);
    #: memory per file upload is about one chunk.
    upload_chunk_size: int = 16 * MiB
    #: None: a download is one streamed GET; else ranged GETs of this many bytes each.
    download_chunk_size: int | None = None
    #: seconds each request may wait for the server (None: no limit).
    timeout: float | None = 60.0
    #: seconds a failing request keeps being retried (google-cloud-storage's DEFAULT_RETRY).
    retry_timeout: float = 120.0
    #: files one directory transfer (or a delete) moves at once.
    max_workers: int = 8
    #: ``STORAGE_EMULATOR_HOST``: talk to an emulator there, anonymously.
    emulator_host: str | None = None
    #: the project of the client: billing of requester-pays buckets, and what it reports.
    project: str | None = None

    @classmethod
    def from_environment(cls) -> GCSSettings:
        default = cls._field_defaults
        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").strip() or None
        project = _setting(("TRACKLET_GCS_PROJECT", "GOOGLE_CLOUD_PROJECT"), None, str, "")
        return cls(
            upload_chunk_size=_setting(
                ("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", "MLFLOW_GCS_UPLOAD_CHUNK_SIZE"),
                default["upload_chunk_size"],
                _chunk_size,
                _CHUNK_RULE,
            ),
            download_chunk_size=_setting(
                ("TRACKLET_GCS_DOWNLOAD_CHUNK_SIZE", "MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE"),
                None,
                _chunk_size,
                _CHUNK_RULE,
            ),
            timeout=_setting(
                (
                    "TRACKLET_GCS_TIMEOUT",
                    "TRACKLET_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
                    "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
                    "MLFLOW_GCS_DEFAULT_TIMEOUT",
                ),
                default["timeout"],
                _timeout,
                "it must be a number of seconds above 0, or -1 for no timeout",
            ),
            retry_timeout=_setting(
                ("TRACKLET_GCS_RETRY_TIMEOUT",),
                default["retry_timeout"],
                _positive(float),
                "it must be a number of seconds above 0",
            ),
            max_workers=_setting(
                ("TRACKLET_GCS_MAX_WORKERS",),
                default["max_workers"],
                _positive(int),
                "it must be a whole number of at least 1",
            ),
            emulator_host=emulator,
            project=project or (EMULATOR_PROJECT if emulator else None),
        )

    def retry(self) -> Any:
        """google-cloud-storage's DEFAULT_RETRY (connection errors, 408, 429, 5xx, with
        jittered exponential backoff) for ``retry_timeout`` seconds. Passed explicitly to
        every call: the library would not retry an upload without ``if_generation_match``,
        but an artifact upload replaces the key with the same bytes, so a repeat is safe."""
        from google.cloud.storage.retry import DEFAULT_RETRY

        if not hasattr(DEFAULT_RETRY, "with_timeout"):  # google-api-core before 2.16
            return DEFAULT_RETRY.with_deadline(self.retry_timeout)
        return DEFAULT_RETRY.with_timeout(self.retry_timeout)


# -- clients ------------------------------------------------------------------------------------


class GCSClient(NamedTuple):
    """A cached ``storage.Client`` and, for messages, what it signs requests with."""

    client: Any
    credentials: str


#: Per process: a forked child builds its own (the parent's session holds pooled
#: keep-alive connections the parent goes on using).
_clients: ProcessCache[tuple[Any, ...], GCSClient] = ProcessCache()


def storage_client(settings: GCSSettings, bucket: str) -> GCSClient:
    """The process's client for these settings (built on first use; ``bucket`` is only
    for the message when there are no credentials)."""
    key = (
        settings.emulator_host,
        settings.project,
        os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"),
        settings.max_workers,
    )
    return _clients.get(key, lambda: _build(settings, bucket))


def _credentials(settings: GCSSettings, bucket: str) -> tuple[Any, str | None, str]:
    """(credentials, project, description) for a new client."""
    if settings.emulator_host:
        from google.auth.credentials import AnonymousCredentials

        where = f"STORAGE_EMULATOR_HOST={settings.emulator_host}"
        return AnonymousCredentials(), settings.project, f"anonymous credentials ({where})"  # type: ignore[no-untyped-call]
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, found_project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise TrackletException(
            f"No Google Cloud credentials for the bucket {bucket!r}: run `gcloud auth "
            "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a service "
            "account key file, or run where the metadata server provides them (GCE, GKE, "
            f"Cloud Run); set STORAGE_EMULATOR_HOST to use an emulator. ({exc})",
            "UNAUTHENTICATED",
        ) from None
    return credentials, settings.project or found_project, _describe(credentials)


#: What ``google.auth.default`` may find, by the module of its class, for messages.
_KINDS = {
    "google.oauth2.service_account": "the service account key",
    "google.oauth2.credentials": "the user credentials",
    "google.auth.compute_engine.credentials": "the metadata server's service account",
    "google.auth.impersonated_credentials": "the impersonated service account",
    "google.auth.identity_pool": "the workload identity federation credentials",
}


def _describe(credentials: Any) -> str:
    """``the service account key ci@p.iam.gserviceaccount.com from GOOGLE_APPLICATION_CREDENTIALS=/k.json``."""
    kind = _KINDS.get(type(credentials).__module__, f"the {type(credentials).__name__} credentials")
    account = getattr(credentials, "service_account_email", None) or getattr(credentials, "account", None)
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    source = f"from GOOGLE_APPLICATION_CREDENTIALS={path}" if path else "(application default credentials)"
    return " ".join(part for part in (kind, account if isinstance(account, str) else None, source) if part)


def _read_error_bodies(response: Any, *args: Any, **kwargs: Any) -> Any:
    """Read an error answer's (small) body at once, which hands its connection back to
    the pool: google-cloud-storage raises on a streamed download's error status (a 503
    it then retries) without reading or closing the response, and the connection would
    stay out of the pool, unclosed, until the garbage collector finds it."""
    if response.status_code >= 400:
        response.content  # noqa: B018
    return response


def _build(settings: GCSSettings, bucket: str) -> GCSClient:
    import requests.adapters
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud import storage

    credentials, project, description = _credentials(settings, bucket)
    # requests keeps 10 connections per host; a directory transfer opens max_workers at once
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, settings.max_workers))
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    session.configure_mtls_channel()  # type: ignore[no-untyped-call]  # GOOGLE_API_USE_CLIENT_CERTIFICATE, as the library does
    session.hooks["response"].append(_read_error_bodies)
    client = storage.Client(project=project, credentials=credentials, _http=session)
    return GCSClient(client, description)


def close_clients() -> None:
    """Close every cached client; the next repository builds new ones."""
    for entry in _clients.pop_all():
        entry.client.close()


atexit.register(close_clients)
