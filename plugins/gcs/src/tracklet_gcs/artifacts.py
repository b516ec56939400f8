"""GCSArtifactRepository: artifacts as objects in a Google Cloud Storage bucket.

The key mapping, path checks, whole-tree listings and safe downloads come from
:class:`tracklet.stores.ObjectStoreRepository`; this module writes its four primitives
on google-cloud-storage:

* uploads are ``upload_from_file``: files up to 8 MiB (the library's multipart limit) go
  in one request; bigger ones in a resumable upload of ``TRACKLET_GCS_UPLOAD_CHUNK_SIZE``
  (16 MiB) chunks, one after the other, so memory stays at about one chunk per file and
  the object appears only when the last chunk is in (a failed upload leaves none);
* downloads are ``download_to_file``: one streamed GET written straight to the file,
  resumed from where it broke off when a retry is needed, checked against the object's
  CRC32C; or ranged GETs of ``TRACKLET_GCS_DOWNLOAD_CHUNK_SIZE`` when that is set;
* listings are ``list_blobs`` with delimiter ``/`` (one level) or without (a tree);
* deletes are one request per object, ``max_workers`` at a time;
* every request is retried with the library's ``DEFAULT_RETRY`` (uploads too: an
  artifact upload replaces its key, so a repeat is harmless);
* a process forked after using a repository builds its own client.

Nothing here imports google-cloud-storage until a repository is built.
"""

from __future__ import annotations

import contextlib
import mimetypes
import posixpath
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    TrackletException,
)
from tracklet.stores import ListedObject, ObjectStoreRepository, progress
from tracklet.stores.progress import transfer_progress
from tracklet_gcs._client import GCSSettings, storage_client

__all__ = ["GCSArtifactRepository", "parse_gcs_uri"]

# GCS's rules: lowercase letters, digits, '-', '_' and '.', starting and ending with a
# letter or digit; 3-63 characters, or up to 222 with dots, each dotted part at most 63.
_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")
_BUCKET_RULE = (
    "is not a bucket name (3-63 lowercase letters, digits, '-', '_' and '.', up to 222 with "
    "dots, starting and ending with a letter or digit)"
)


def _invalid(uri: str, rule: str) -> TrackletException:
    return TrackletException(f"Invalid GCS artifact URI {uri!r}: {rule}", INVALID_PARAMETER_VALUE)


def _is_bucket_name(name: str) -> bool:
    parts = name.split(".")
    longest = 222 if len(parts) > 1 else 63
    return bool(_BUCKET.match(name)) and 3 <= len(name) <= longest and all(0 < len(p) <= 63 for p in parts)


def parse_gcs_uri(uri: str) -> tuple[str, str]:
    """(bucket, path inside it, no leading or trailing ``/``) of ``gs://<bucket>/<path>``."""
    parsed = urllib.parse.urlsplit(uri)
    expected = "expected gs://<bucket>/<optional/path>"
    if parsed.scheme.lower() != "gs":
        raise _invalid(uri, f"the scheme must be gs://; {expected}")
    if parsed.query or parsed.fragment or uri.endswith(("?", "#")):
        raise _invalid(uri, f"no query string or fragment is allowed; {expected}")
    bucket = parsed.netloc
    if not bucket:
        raise _invalid(uri, f"the bucket is missing; {expected}")
    if not _is_bucket_name(bucket):
        raise _invalid(uri, f"{bucket!r} {_BUCKET_RULE}; {expected}")
    return bucket, parsed.path.strip("/")


def _content_type(key: str) -> str:
    kind, encoding = mimetypes.guess_type(posixpath.basename(key))
    # ``x.tar.gz`` is a gzip file, not a tar one that the reader should decompress
    return kind if kind and not encoding else "application/octet-stream"


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """What a call raises when GCS stayed unreachable or overloaded through the retries."""
    import requests
    from google.api_core import exceptions as api
    from google.auth.exceptions import TransportError

    return (
        api.RetryError,
        api.TooManyRequests,
        api.ServerError,
        requests.ConnectionError,
        requests.Timeout,
        TransportError,
    )


def _data_corruption() -> type[BaseException]:
    try:
        from google.cloud.storage.exceptions import DataCorruption
    except ImportError:  # google-cloud-storage 2.x: google-resumable-media's
        from google.resumable_media import DataCorruption
    return DataCorruption  # type: ignore[no-any-return]


class _Tracked:
    """A file whose reads or writes advance a progress bar. Counted by position, so what
    a retry reads (or writes) again after seeking back is not counted twice."""

    def __init__(self, file: IO[bytes], advance: Callable[[int], object]) -> None:
        self._file = file
        self._advance = advance
        self._position = file.tell()
        self._reported = self._position

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._moved_to(self._position + len(data))
        return data

    def write(self, data: bytes) -> int:
        written = self._file.write(data)
        self._moved_to(self._position + written)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._file.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._file.tell()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def _moved_to(self, position: int) -> None:
        self._position = position
        if position > self._reported:
            self._advance(position - self._reported)
            self._reported = position


class GCSArtifactRepository(ObjectStoreRepository):
    """Artifacts under ``gs://<bucket>/<path>``."""

    def __init__(self, artifact_uri: str) -> None:
        self.bucket_name, path = parse_gcs_uri(artifact_uri)
        super().__init__(artifact_uri, path)
        self.settings = GCSSettings.from_environment()
        self.max_workers = self.settings.max_workers  # type: ignore[misc]  # per repository, from the environment
        #: what the client signs requests with, for messages
        self.credentials = storage_client(self.settings, self.bucket_name).credentials
        self._bucket_of: tuple[Any, Any] = (None, None)
        self._retry = self.settings.retry()

    @property
    def _client(self) -> Any:
        # looked up on each use, so that a forked child uses a client of its own
        return storage_client(self.settings, self.bucket_name).client

    @property
    def _bucket(self) -> Any:
        client = self._client
        if self._bucket_of[0] is not client:
            self._bucket_of = (client, client.bucket(self.bucket_name))
        return self._bucket_of[1]

    def _where(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{key}"

    def _call_options(self) -> dict[str, Any]:
        return {"timeout": self.settings.timeout, "retry": self._retry}

    # -- errors ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _gcs_errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """google-cloud-storage's errors as TrackletExceptions naming the bucket, the
        credentials and what to do; ``key`` is the object the call is about, if one."""
        from google.api_core import exceptions as api
        from google.auth.exceptions import RefreshError

        try:
            yield
        except api.NotFound:
            raise self._not_found(key) from None
        except (api.Forbidden, api.Unauthorized) as exc:
            raise self._denied(exc) from None
        except RefreshError as exc:
            raise TrackletException(
                f"{action} failed: {self.credentials} could not be refreshed ({exc}). Sign in "
                "again (`gcloud auth application-default login`) or fix GOOGLE_APPLICATION_CREDENTIALS.",
                "UNAUTHENTICATED",
            ) from None
        except _unavailable_errors() as exc:
            raise TrackletException(
                f"{action} failed, retried for up to {self.settings.retry_timeout:g}s "
                f"(TRACKLET_GCS_RETRY_TIMEOUT): {exc}",
                TEMPORARILY_UNAVAILABLE,
            ) from exc
        except _data_corruption() as exc:
            raise TrackletException(f"{action} failed its checksum: {exc}", INTERNAL_ERROR) from exc
        except api.GoogleAPICallError as exc:
            raise TrackletException(f"{action} failed: {exc}", INTERNAL_ERROR) from exc

    def _not_found(self, key: str | None) -> TrackletException:
        if key is None or not self._bucket_exists():
            name = self.bucket_name
            return TrackletException(
                f"The GCS bucket {name!r} does not exist (artifact URI {self.artifact_uri}). "
                f"Create it (for example `gcloud storage buckets create gs://{name}`) or point "
                "the experiment's artifact location at an existing bucket.",
                RESOURCE_DOES_NOT_EXIST,
            )
        return TrackletException(f"No object {self._where(key)}", RESOURCE_DOES_NOT_EXIST)

    def _bucket_exists(self) -> bool:
        """Whether the bucket exists, for telling a missing bucket from a missing object;
        True when we may not ask (object-only permissions)."""
        from google.api_core.exceptions import GoogleAPICallError

        try:
            return bool(self._bucket.exists(**self._call_options()))
        except GoogleAPICallError:
            return True

    def _denied(self, exc: Any) -> TrackletException:
        reason = getattr(exc, "message", None) or str(exc)
        return TrackletException(
            f"GCS refused access to the bucket {self.bucket_name!r} ({exc.code} {reason}) with "
            f"{self.credentials}. Check that these are the intended credentials and that they "
            "may read and write objects in this bucket (for example roles/storage.objectAdmin).",
            PERMISSION_DENIED,
        )

    # -- primitives ----------------------------------------------------------------------------

    def _put_object(self, local_file: str, key: str, size: int) -> None:
        blob = self._bucket.blob(key, chunk_size=self.settings.upload_chunk_size)
        with (
            self._gcs_errors(f"Uploading {local_file!r} to {self._where(key)}", key),
            open(local_file, "rb") as f,
            transfer_progress(size, f"Uploading {posixpath.basename(key)}") as advance,
        ):
            blob.upload_from_file(
                _Tracked(f, advance), size=size, content_type=_content_type(key), **self._call_options()
            )

    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        chunk_size = self.settings.download_chunk_size
        blob = self._bucket.blob(key, chunk_size=chunk_size)
        with self._gcs_errors(f"Downloading {self._where(key)}", key):
            if size is None and progress.progress_enabled(progress.PROGRESS_MIN_BYTES):
                # a bar may be due (a terminal), and it needs the size before the first byte
                found = self._bucket.get_blob(key, chunk_size=chunk_size, **self._call_options())
                if found is None:
                    raise self._not_found(key)
                blob, size = found, found.size
            with (
                open(local_path, "wb") as f,
                transfer_progress(size or 0, f"Downloading {posixpath.basename(key)}") as advance,
            ):
                blob.download_to_file(_Tracked(f, advance), **self._call_options())

    def _list_objects(self, prefix: str, recursive: bool) -> Iterable[ListedObject]:
        with self._gcs_errors(f"Listing {self._where(prefix)}"):
            blobs = self._client.list_blobs(
                self._bucket,
                prefix=prefix or None,
                delimiter=None if recursive else "/",
                fields="items(name,size),prefixes,nextPageToken",
                **self._call_options(),
            )
            for page in blobs.pages:
                for sub in page.prefixes:
                    yield ListedObject(sub, None)
                for blob in page:
                    yield ListedObject(blob.name, blob.size)

    def _delete_objects(self, keys: list[str]) -> None:
        with self._gcs_errors(f"Deleting under {self._where(self.prefix)}"):
            self._run_parallel(self._delete_one, keys)

    def _delete_one(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self._bucket.delete_blob(key, **self._call_options())
