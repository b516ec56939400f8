"""S3ArtifactRepository: artifacts under ``s3://bucket/prefix``.

The contract's mapping onto keys comes from :class:`tracklet.stores.ObjectStoreRepository`;
this module writes its four primitives with boto3:

* a file under the multipart threshold (16 MiB) is one ``PutObject`` and comes back as
  one ``GetObject`` streamed to disk; bigger files go through boto3's transfer manager:
  a multipart upload of parallel parts (aborted on failure, so a failed upload leaves
  no object under its key) and a download of parallel byte ranges, with memory bounded
  by the part size times the concurrency, whatever the file's size;
* a directory moves 16 files at a time over one shared, pooled client;
* throttling (``503 SlowDown``), 5xx and connection errors are retried with jittered
  backoff (botocore's "standard" mode, 10 attempts), and a body that breaks off
  mid-download is fetched again;
* transfers of 64 MiB or more show a progress bar on a terminal;
* a process forked after using a repository makes its own client (its parent's pooled
  connections are its parent's).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import mimetypes
import os
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE, TrackletException
from tracklet.stores import ListedObject, ObjectStoreRepository
from tracklet.stores.progress import transfer_progress
from tracklet_s3._client import S3Settings, client_for, transfer_config, translated_errors

__all__ = ["S3ArtifactRepository", "parse_s3_uri"]

_CHUNK = 1024 * 1024
_T = TypeVar("_T")
#: DeleteObjects takes at most this many keys.
_DELETE_BATCH = 1000


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of ``s3://bucket/prefix``."""
    parsed = urllib.parse.urlsplit(uri)
    rule = "it must look like s3://<bucket>/<optional/prefix>"
    if parsed.scheme.lower() != "s3":
        raise TrackletException(f"Invalid S3 URI {uri!r}: {rule}.", INVALID_PARAMETER_VALUE)
    if not parsed.netloc or "@" in parsed.netloc or ":" in parsed.netloc:
        raise TrackletException(
            f"Invalid S3 URI {uri!r}: {rule} (a bucket name, with no credentials or port; "
            "set TRACKLET_S3_ENDPOINT_URL for another server).",
            INVALID_PARAMETER_VALUE,
        )
    if parsed.query or parsed.fragment:
        raise TrackletException(
            f"Invalid S3 URI {uri!r}: a query or fragment is not allowed.", INVALID_PARAMETER_VALUE
        )
    return parsed.netloc, parsed.path.strip("/")


class S3ArtifactRepository(ObjectStoreRepository):
    """Artifacts in an S3 bucket (or an S3-compatible server) under one key prefix."""

    def __init__(self, artifact_uri: str) -> None:
        bucket, prefix = parse_s3_uri(artifact_uri)
        super().__init__(artifact_uri, prefix)
        self.bucket = bucket
        self.settings = S3Settings.from_environment()
        client_for(self.settings)  # make the client now: a bad setting fails here

    @property
    def _client(self) -> Any:
        # looked up on each use, so that a forked child uses a client of its own
        return client_for(self.settings)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- primitives ------------------------------------------------------------------------

    def _put_object(self, local_file: str, key: str, size: int) -> None:
        extra: dict[str, Any] = {
            "ContentType": mimetypes.guess_type(key)[0] or "application/octet-stream",
            **dict(self.settings.upload_extra_args),
            **self.settings.owner_args,
        }
        with translated_errors(self.bucket, f"Uploading {local_file!r} to {self._where(key)}"):
            if size < self.settings.multipart_threshold:
                with open(local_file, "rb") as body:
                    self._client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
                return
            with transfer_progress(size, f"Uploading {os.path.basename(local_file)}") as advance:
                self._managed(local_file, key, extra, _Subscriber(size, advance))

    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        where = self._where(key)
        with translated_errors(self.bucket, f"Downloading {where}"):
            if size is None or size < self.settings.multipart_threshold:
                big = self._get_small(key, local_path)
                if big is None:
                    return
            else:  # a listing said big: the ETag that pins the ranges to one version
                head = self._client.head_object(Bucket=self.bucket, Key=key, **self.settings.owner_args)
                big = int(head["ContentLength"]), head.get("ETag")
            size, etag = big
            with transfer_progress(size, f"Downloading {key.rpartition('/')[2]}") as advance:
                self._get_ranges(key, local_path, size, etag, advance)

    def _list_objects(self, prefix: str, recursive: bool) -> Iterator[ListedObject]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, **self.settings.owner_args}
        if not recursive:
            args["Delimiter"] = "/"
        with translated_errors(self.bucket, f"Listing {self._where(prefix)}"):
            for page in self._client.get_paginator("list_objects_v2").paginate(**args):
                for common in page.get("CommonPrefixes", ()):
                    yield ListedObject(common["Prefix"], None)
                for obj in page.get("Contents", ()):
                    yield ListedObject(obj["Key"], int(obj["Size"]))

    def _delete_objects(self, keys: list[str]) -> None:
        with translated_errors(self.bucket, f"Deleting under {self._where(self.prefix)}"):
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
                answer = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}, **self.settings.owner_args
                )
                failed = answer.get("Errors") or []
                if failed:
                    first = failed[0]
                    raise TrackletException(
                        f"S3 refused to delete {len(failed)} of {len(batch)} objects, e.g. "
                        f"{self._where(first.get('Key', '?'))}: {first.get('Code')} {first.get('Message', '')}",
                        "PERMISSION_DENIED" if first.get("Code") == "AccessDenied" else "INTERNAL_ERROR",
                    )

    # -- transfers ---------------------------------------------------------------------------

    def _get_small(self, key: str, local_path: str) -> tuple[int, str | None] | None:
        """One streamed ``GetObject``; None when done, or the object's size and ETag when
        it turned out big enough for a ranged parallel download instead."""

        def once() -> tuple[int, str | None] | None:
            answer = self._client.get_object(Bucket=self.bucket, Key=key, **self.settings.owner_args)
            with contextlib.closing(answer["Body"]) as body:
                length = int(answer.get("ContentLength") or 0)
                if length >= self.settings.multipart_threshold:
                    return length, answer.get("ETag")
                os.ftruncate(fd, 0)
                _copy(body, fd, [0], length, bytearray(min(length, _CHUNK)), None)
                return None

        with open(local_path, "wb") as f:
            fd = f.fileno()
            return self._streaming(key, once)

    def _get_ranges(self, key: str, local_path: str, size: int, etag: str | None, advance: Any) -> None:
        """A big object as parallel ranged ``GetObject`` calls, each written in place with
        ``pwrite`` from one reused buffer per range: memory is the buffers' (1 MiB per
        range in flight), whatever the size. ``If-Match`` on the first ETag seen makes an
        object replaced mid-download fail the download rather than mix two versions."""
        span = self.settings.multipart_chunksize
        condition = {"IfMatch": etag} if etag else {}

        def fetch(start: int) -> None:
            position, end, buffer = [start], min(start + span, size), bytearray(_CHUNK)

            def once() -> None:  # a retry asks only for what has not landed yet
                answer = self._client.get_object(
                    Bucket=self.bucket,
                    Key=key,
                    Range=f"bytes={position[0]}-{end - 1}",
                    **condition,
                    **self.settings.owner_args,
                )
                with contextlib.closing(answer["Body"]) as body:
                    _copy(body, fd, position, end, buffer, advance)

            self._streaming(key, once)

        with open(local_path, "wb") as f:
            fd = f.fileno()
            os.ftruncate(fd, size)
            with concurrent.futures.ThreadPoolExecutor(self.settings.max_concurrency) as pool:
                futures = [pool.submit(fetch, start) for start in range(0, size, span)]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                finally:
                    for future in futures:
                        future.cancel()

    def _streaming(self, key: str, once: Callable[[], _T]) -> _T:
        """``once()``, tried again when the body it reads breaks off mid-stream (the
        requests themselves are retried by botocore), up to the attempts setting."""
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError
        from urllib3.exceptions import ProtocolError

        attempts = self.settings.max_attempts
        for number in range(1, attempts + 1):
            try:
                return once()
            except (IncompleteReadError, ReadTimeoutError, ResponseStreamingError, ProtocolError) as exc:
                if number == attempts:
                    raise TrackletException(
                        f"Downloading {self._where(key)} broke off {attempts} times: {exc}",
                        TEMPORARILY_UNAVAILABLE,
                    ) from exc
        raise AssertionError("unreachable")

    def _managed(self, local: str, key: str, extra: dict[str, Any], subscriber: Any) -> None:
        """One multipart upload through boto3's transfer manager."""
        from boto3.s3.transfer import create_transfer_manager

        with create_transfer_manager(self._client, transfer_config(self.settings)) as manager:
            manager.upload(local, self.bucket, key, extra_args=extra, subscribers=[subscriber]).result()


def _copy(body: Any, fd: int, position: list[int], end: int, buffer: bytearray, advance: Any) -> None:
    """Stream ``body`` into ``fd`` from ``position[0]`` up to ``end``, moving
    ``position[0]`` along as bytes land, so that a retry after the stream broke off asks
    only for the rest."""
    from botocore.exceptions import IncompleteReadError

    view = memoryview(buffer)
    while position[0] < end:
        n = body.readinto(view[: min(len(view), end - position[0])])
        if not n:
            raise IncompleteReadError(actual_bytes=position[0], expected_bytes=end)
        os.pwrite(fd, view[:n], position[0])
        position[0] += n
        if advance is not None:
            advance(n)
    # reading the end is what makes botocore check the checksum S3 sent, if it sent one
    if body.read(1):
        raise IncompleteReadError(actual_bytes=position[0] + 1, expected_bytes=end)


class _Subscriber:
    """Tells the transfer manager the size (no ``HeadObject``) and reports progress."""

    def __init__(self, size: int, advance: Any) -> None:
        self.size = size
        self.advance = advance

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.size)

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self.advance(bytes_transferred)

    def on_done(self, future: Any, **kwargs: Any) -> None:
        pass
