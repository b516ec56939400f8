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
* transfers of 64 MiB or more show a progress bar on a terminal.
"""

from __future__ import annotations

import mimetypes
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.stores import ListedObject, ObjectStoreRepository
from tracklet.stores.progress import transfer_progress
from tracklet_s3._client import S3Settings, client_for, transfer_config, translated_errors

__all__ = ["S3ArtifactRepository", "parse_s3_uri"]

_CHUNK = 1024 * 1024
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
        self._client = client_for(self.settings)

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
                self._managed("upload", local_file, key, extra, _Subscriber(size, advance))

    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        where = self._where(key)
        with translated_errors(self.bucket, f"Downloading {where}"):
            if size is None or size < self.settings.multipart_threshold:
                size = self._get_small(key, local_path)
                if size is None:
                    return
            with transfer_progress(size, f"Downloading {key.rpartition('/')[2]}") as advance:
                self._managed(
                    "download", local_path, key, dict(self.settings.owner_args), _Subscriber(size, advance)
                )

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

    def _get_small(self, key: str, local_path: str) -> int | None:
        """One streamed ``GetObject``; None when done, or the object's size when it turned
        out big enough for a ranged parallel download instead."""
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError
        from urllib3.exceptions import ProtocolError

        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            answer = self._client.get_object(Bucket=self.bucket, Key=key, **self.settings.owner_args)
            body = answer["Body"]
            try:
                length = int(answer.get("ContentLength") or 0)
                if length >= self.settings.multipart_threshold:
                    return length
                with open(local_path, "wb") as f:
                    for chunk in body.iter_chunks(_CHUNK):
                        f.write(chunk)
                return None
            except (IncompleteReadError, ReadTimeoutError, ResponseStreamingError, ProtocolError) as exc:
                if attempt == attempts:
                    raise TrackletException(
                        f"Downloading {self._where(key)} broke off {attempts} times: {exc}",
                        "TEMPORARILY_UNAVAILABLE",
                    ) from exc
            finally:
                body.close()
        raise AssertionError("unreachable")

    def _managed(self, direction: str, local: str, key: str, extra: dict[str, Any], subscriber: Any) -> None:
        """One multipart upload or ranged download through boto3's transfer manager."""
        from boto3.s3.transfer import create_transfer_manager

        with create_transfer_manager(self._client, transfer_config(self.settings)) as manager:
            if direction == "upload":
                future = manager.upload(local, self.bucket, key, extra_args=extra, subscribers=[subscriber])
            else:
                future = manager.download(self.bucket, key, local, extra_args=extra, subscribers=[subscriber])
            future.result()


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
