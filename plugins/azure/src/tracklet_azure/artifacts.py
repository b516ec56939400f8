"""AzureBlobArtifactRepository: artifacts as block blobs in an Azure Storage container.

The key mapping, path checks, whole-tree listings and safe downloads come from
:class:`tracklet.stores.ObjectStoreRepository`; this module writes its four primitives
on azure-storage-blob:

* uploads are ``upload_blob(overwrite=True)``: files up to one block go in a single PUT,
  bigger ones as blocks of ``TRACKLET_AZURE_BLOCK_SIZE_MB`` (8 MiB) on
  ``TRACKLET_AZURE_MAX_CONCURRENCY`` (4) connections, committed at the end, so a failed
  upload leaves no blob and memory stays at about concurrency x block size per file;
* downloads are ``download_blob().readinto(file)``: ranged GETs of one block each, in
  parallel, written straight to the file;
* listings are ``walk_blobs`` with delimiter ``/`` (one level) or ``list_blobs`` (a tree);
* deletes go in blob batches of 256, or one request per blob (in parallel) where the
  service refuses batches.

Nothing here imports the Azure SDK until a repository is built.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import posixpath
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tracklet.exceptions import PERMISSION_DENIED, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import ListedObject, ObjectStoreRepository
from tracklet.stores.progress import transfer_progress
from tracklet_azure._client import (
    MAX_WORKERS,
    AzureSettings,
    connection_string_variable,
    credential_source,
    describe,
    service_client,
)
from tracklet_azure._uri import parse_azure_uri

__all__ = ["AzureBlobArtifactRepository"]

_logger = logging.getLogger(__name__)

#: Blob batch requests carry at most 256 sub-requests.
BATCH_SIZE = 256


class _Progress:
    """Turns the SDK's ``progress_hook(current, total)`` (bytes so far) into increments of
    a bar that may be attached later (a download learns its size from the first GET)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = 0
        self._reported = 0
        self._advance: Callable[[int], object] | None = None

    def hook(self, current: int, total: int | None) -> None:
        with self._lock:
            self._seen = max(self._seen, current)
            self._flush()

    def attach(self, advance: Callable[[int], object]) -> None:
        with self._lock:
            self._advance = advance
            self._flush()

    def _flush(self) -> None:
        if self._advance is not None and self._seen > self._reported:
            self._advance(self._seen - self._reported)
            self._reported = self._seen


def _content_type(key: str) -> str:
    kind, encoding = mimetypes.guess_type(posixpath.basename(key))
    # ``x.tar.gz`` is a gzip file, not a tar one that the reader should decompress
    return kind if kind and not encoding else "application/octet-stream"


def _is_folder(blob: Any) -> bool:
    """A directory entry of an account with a hierarchical namespace (ADLS Gen2), which
    the Blob API lists as an empty blob with ``hdi_isfolder`` metadata."""
    return str((blob.metadata or {}).get("hdi_isfolder", "")).lower() == "true"


class AzureBlobArtifactRepository(ObjectStoreRepository):
    """Artifacts under ``wasbs://<container>@<account>.blob.core.windows.net/<path>``
    (also ``wasb://``, and ``abfss://<container>@<account>.dfs.core.windows.net/<path>``
    through the account's Blob endpoint)."""

    max_workers = MAX_WORKERS

    def __init__(self, artifact_uri: str) -> None:
        self.location = parse_azure_uri(artifact_uri, any_host=connection_string_variable() is not None)
        super().__init__(artifact_uri, self.location.path)
        self.settings = AzureSettings.from_environment()
        self.credential = credential_source(self.location)
        client = service_client(self.location, self.credential, self.settings)
        if client.account_name:  # a connection string's AccountName, when it names one
            self.location = self.location._replace(account=client.account_name)
        self._container_of: tuple[Any, Any] = (None, None)
        #: False once the service refused a blob batch; deletes then go one by one.
        self.batch_delete = True

    @property
    def _container(self) -> Any:
        # the client is looked up on each use, so that a forked child uses one of its own
        client = service_client(self.location, self.credential, self.settings)
        if self._container_of[0] is not client:
            self._container_of = (client, client.get_container_client(self.location.container))
        return self._container_of[1]

    # -- errors ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _azure_errors(self, key: str | None = None) -> Iterator[None]:
        """Azure's errors as TrackletExceptions that name the container, account and key."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

        account, container = self.location.account, self.location.container
        try:
            yield
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise TrackletException(
                    f"The container {container!r} does not exist in the Azure storage account "
                    f"{account!r} (artifact URI {self.artifact_uri}). Create it (for example "
                    f"`az storage container create --account-name {account} --name {container}`) "
                    "or point the experiment's artifact location at an existing one.",
                    RESOURCE_DOES_NOT_EXIST,
                ) from None
            raise TrackletException(
                f"No blob {key!r} in the container {container!r} of the Azure storage account {account!r}",
                RESOURCE_DOES_NOT_EXIST,
            ) from None
        except ClientAuthenticationError as exc:
            raise self._denied(exc) from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise self._denied(exc) from None
            raise

    def _denied(self, exc: Exception) -> TrackletException:
        reason = getattr(exc, "error_code", None) or str(exc).splitlines()[0]
        return TrackletException(
            f"Azure refused access to the container {self.location.container!r} of the storage "
            f"account {self.location.account!r} with {describe(self.credential)}: {reason}. Check "
            "that the credential belongs to this account and grants reading and writing blobs.",
            PERMISSION_DENIED,
        )

    # -- primitives ----------------------------------------------------------------------------

    def _put_object(self, local_file: str, key: str, size: int) -> None:
        from azure.storage.blob import ContentSettings

        blob = self._container.get_blob_client(key)
        progress = _Progress()
        with (
            self._azure_errors(key),
            open(local_file, "rb") as f,
            transfer_progress(size, f"Uploading {posixpath.basename(key)}") as advance,
        ):
            progress.attach(advance)
            blob.upload_blob(
                f,
                length=size,
                overwrite=True,
                max_concurrency=self.settings.max_concurrency,
                content_settings=ContentSettings(content_type=_content_type(key)),
                progress_hook=progress.hook,
                **self._timeout(),
            )

    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        blob = self._container.get_blob_client(key)
        progress = _Progress()
        with self._azure_errors(key), open(local_path, "wb") as f:
            stream = blob.download_blob(
                max_concurrency=self.settings.max_concurrency, progress_hook=progress.hook, **self._timeout()
            )
            with transfer_progress(stream.size, f"Downloading {posixpath.basename(key)}") as advance:
                progress.attach(advance)
                written = stream.readinto(f)
        if written != stream.size:
            raise OSError(f"Downloaded {written} of the {stream.size} bytes of {key!r}")

    def _list_objects(self, prefix: str, recursive: bool) -> Iterable[ListedObject]:
        from azure.storage.blob import BlobPrefix

        with self._azure_errors():
            if recursive:
                items: Iterable[Any] = self._container.list_blobs(
                    name_starts_with=prefix or None, include=["metadata"]
                )
            else:
                items = self._container.walk_blobs(
                    name_starts_with=prefix or None, delimiter="/", include=["metadata"]
                )
            for item in items:
                if isinstance(item, BlobPrefix):
                    yield ListedObject(item.name, None)
                elif not _is_folder(item):
                    yield ListedObject(item.name, item.size)

    def _delete_objects(self, keys: list[str]) -> None:
        from azure.core.exceptions import HttpResponseError

        with self._azure_errors():
            if self.batch_delete:
                try:
                    for start in range(0, len(keys), BATCH_SIZE):
                        self._delete_batch(keys[start : start + BATCH_SIZE])
                    return
                except HttpResponseError as exc:
                    if exc.status_code in (401, 403, 404):
                        raise
                    _logger.info(
                        "Blob batch refused (%s); deleting one blob at a time",
                        getattr(exc, "error_code", None),
                    )
                    self.batch_delete = False
            self._run_parallel(self._delete_one, keys)

    # -- helpers ---------------------------------------------------------------------------------

    def _timeout(self) -> dict[str, Any]:
        timeout = self.settings.transfer_timeout
        return {} if timeout is None else {"timeout": timeout}

    def _delete_batch(self, keys: list[str]) -> None:
        responses = self._container.delete_blobs(
            *keys, delete_snapshots="include", raise_on_any_failure=False
        )
        failed = [
            f"{key!r}: {response.status_code} {response.reason}"
            for key, response in zip(keys, responses, strict=False)
            if response.status_code not in (200, 202, 404)
        ]
        if failed:
            raise TrackletException(
                f"Azure did not delete {len(failed)} of {len(keys)} blobs in the container "
                f"{self.location.container!r}: {'; '.join(failed[:5])}"
            )

    def _delete_one(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self._container.delete_blob(key, delete_snapshots="include")
