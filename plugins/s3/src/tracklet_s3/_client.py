"""The boto3 side: settings from the environment, one cached client per setting, and
botocore's errors turned into tracklet's.

boto3 is imported here, inside functions, so that importing the plugin stays cheap; the
first repository built pays for it. A boto3 client costs tens of milliseconds to make
and is thread-safe, so every repository with the same settings shares one, per process:
a child forked after using it makes its own.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    TrackletException,
)
from tracklet.stores.forking import ProcessCache
from tracklet.utils import environment

__all__ = ["S3Settings", "client_for", "translated_errors"]

MiB = 1024 * 1024


#: MLflow's variable where it is not ``MLFLOW_<name>``.
_MLFLOW_NAMES = {"S3_ADDRESSING_STYLE": "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE"}


def _env(name: str) -> str | None:
    """``TRACKLET_<name>``, else MLflow's spelling, else None."""
    return environment.get(name, mlflow=_MLFLOW_NAMES.get(name))


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < minimum:
            raise ValueError(raw)
        return value

    rule = f"it must be a whole number of at least {minimum}"
    return environment.get_parsed(environment.variables(name), default, parse, rule)


def _flag(name: str) -> bool:
    return environment.get_flag(name)


@dataclass(frozen=True)
class S3Settings:
    """Everything that shapes a client or a transfer, read from the environment once per
    repository (see the plugin's README for each variable)."""

    endpoint_url: str | None
    verify: bool
    addressing_style: str | None
    region: str | None
    signature_version: str
    max_attempts: int
    connect_timeout: int
    read_timeout: int
    max_pool_connections: int
    multipart_threshold: int
    multipart_chunksize: int
    max_concurrency: int
    upload_extra_args: tuple[tuple[str, Any], ...] = field(default=())
    expected_bucket_owner: str | None = None

    @classmethod
    def from_environment(cls) -> S3Settings:
        return cls(
            endpoint_url=_env("S3_ENDPOINT_URL"),
            verify=not _flag("S3_IGNORE_TLS"),
            addressing_style=_env("S3_ADDRESSING_STYLE"),
            region=environment.get("S3_REGION", also=("AWS_REGION", "AWS_DEFAULT_REGION")),
            signature_version=environment.get(
                "S3_SIGNATURE_VERSION", "s3v4", also=("MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION",)
            ),
            max_attempts=_int_env("S3_MAX_ATTEMPTS", 10),
            connect_timeout=_int_env("S3_CONNECT_TIMEOUT", 10),
            read_timeout=_int_env("S3_READ_TIMEOUT", 120),
            max_pool_connections=_int_env("S3_MAX_POOL_CONNECTIONS", 32),
            multipart_threshold=_int_env("S3_MULTIPART_THRESHOLD", 16 * MiB, minimum=5 * MiB),
            multipart_chunksize=_int_env("S3_MULTIPART_CHUNKSIZE", 16 * MiB, minimum=5 * MiB),
            max_concurrency=_int_env("S3_MAX_CONCURRENCY", 10),
            upload_extra_args=_extra_args(),
            expected_bucket_owner=_env("S3_EXPECTED_BUCKET_OWNER"),
        )

    @property
    def owner_args(self) -> dict[str, str]:
        """``ExpectedBucketOwner`` for every request, when it is set."""
        return {"ExpectedBucketOwner": self.expected_bucket_owner} if self.expected_bucket_owner else {}


def _extra_args() -> tuple[tuple[str, Any], ...]:
    raw = _env("S3_UPLOAD_EXTRA_ARGS")
    if raw is None:
        return ()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        value = exc
    if not isinstance(value, dict):
        raise TrackletException(
            f"TRACKLET_S3_UPLOAD_EXTRA_ARGS / MLFLOW_S3_UPLOAD_EXTRA_ARGS must be a JSON object such as "
            f'\'{{"ServerSideEncryption": "aws:kms"}}\', not {raw!r}.',
            INVALID_PARAMETER_VALUE,
        )
    return tuple(sorted(value.items(), key=lambda kv: kv[0]))


#: boto3 clients by settings, per process: a forked child builds its own (the parent's
#: holds pooled keep-alive connections the parent goes on using). Built under the
#: cache's lock, since boto3's session setup is not thread-safe.
_clients: ProcessCache[S3Settings, Any] = ProcessCache()


def client_for(settings: S3Settings) -> Any:
    """This process's shared boto3 S3 client for these settings (made on first use)."""
    return _clients.get(settings, lambda: _make_client(settings))


def _make_client(settings: S3Settings) -> Any:
    import boto3.session
    from botocore.config import Config

    signature: Any = settings.signature_version
    if signature.lower() == "unsigned":  # public buckets
        from botocore import UNSIGNED

        signature = UNSIGNED
    config = Config(
        signature_version=signature,
        s3={"addressing_style": settings.addressing_style} if settings.addressing_style else {},
        # "standard" retries throttling (503 SlowDown, 429) and 5xx with jittered
        # exponential backoff, and connection errors, for every call
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_pool_connections,
        tcp_keepalive=True,
    )
    session = boto3.session.Session()
    # botocore parses every timestamp (each listed object's LastModified, each answer's
    # headers) with dateutil's general parser, a third of a listing's CPU time; S3 sends
    # only two formats, which the standard library reads far faster
    session._session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_parse_timestamp
    )
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        verify=None if settings.verify else False,
        config=config,
    )


def _parse_timestamp(value: Any) -> Any:
    """S3's ISO 8601 (listings) and RFC 1123 (headers) timestamps as aware datetimes;
    anything else through botocore's own parser."""
    if isinstance(value, str):
        try:
            if value[:4].isdigit():
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


@functools.lru_cache(maxsize=32)
def transfer_config(settings: S3Settings) -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=settings.multipart_threshold,
        multipart_chunksize=settings.multipart_chunksize,
        max_concurrency=settings.max_concurrency,
        use_threads=True,
    )


@contextlib.contextmanager
def translated_errors(bucket: str, what: str) -> Iterator[None]:
    """botocore's errors as ``TrackletException`` with MLflow's codes, naming the bucket
    and what to do next."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except ClientError as exc:
        raise _from_client_error(exc, bucket, what) from exc
    except S3UploadFailedError as exc:
        cause = exc.__context__
        if isinstance(cause, ClientError):
            raise _from_client_error(cause, bucket, what) from exc
        raise TrackletException(f"{what} failed: {exc}", INTERNAL_ERROR) from exc
    except NoCredentialsError as exc:
        raise TrackletException(
            f"{what} needs AWS credentials and found none: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance role is available.",
            PERMISSION_DENIED,
        ) from exc
    except BotoCoreError as exc:
        raise TrackletException(f"{what} failed: {exc}", TEMPORARILY_UNAVAILABLE) from exc


def _from_client_error(exc: Any, bucket: str, what: str) -> TrackletException:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return TrackletException(
            f"{what} failed: the S3 bucket '{bucket}' does not exist. Create it, or fix the "
            "experiment's artifact location (and TRACKLET_S3_ENDPOINT_URL for an S3-compatible store).",
            RESOURCE_DOES_NOT_EXIST,
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return TrackletException(
            f"{what} failed: no such object in bucket '{bucket}'.", RESOURCE_DOES_NOT_EXIST
        )
    if code in ("AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return TrackletException(
            f"{what} was refused by S3 ({code}) for bucket '{bucket}': check the credentials and "
            "that they may read and write this bucket.",
            PERMISSION_DENIED,
        )
    if code == "PreconditionFailed":
        return TrackletException(
            f"{what} failed: the object was replaced while it was being downloaded; download it again.",
            "RESOURCE_CONFLICT",
        )
    message = error.get("Message") or str(exc)
    return TrackletException(f"{what} failed ({code or status}): {message}", INTERNAL_ERROR)
