"""The artifact proxy: MLflow's ``/api/2.0/mlflow-artifacts`` routes over
``--artifacts-destination``, streamed both ways.

* ``GET    …/artifacts/<path>`` downloads a file (always as an attachment; HTML-like
  types are sent as ``text/plain`` so a browser never renders them on our origin);
  one ``Range: bytes=a-b`` is honoured;
* ``PUT    …/artifacts/<path>`` uploads the raw request body;
* ``DELETE …/artifacts/<path>`` deletes a file or a tree;
* ``GET    …/artifacts?path=<dir>`` lists one level: ``{"files": [{"path": <name>,
  "is_dir", "file_size"}]}`` with bare names, as MLflow answers (``{}`` when empty);
* ``POST …/mpu/{create,complete,abort}/<path>`` answer 501 with MLflow's own message, so
  an MLflow client told to upload in parts (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD``)
  falls back to one PUT. These three are left out of ``/openapi.json``: they accept
  nothing. (``…/presigned/<path>`` is not served: its 404 makes MLflow's client fall
  back to a plain GET.)

Every route is also served under ``/ajax-api/2.0/mlflow-artifacts`` (MLflow's UI prefix).

**Destinations.** A local folder (a plain path or ``file:`` URI) is read and written
directly: an upload streams into a staging file in the destination folder
(``.artifact.uploading.<random>``, MLflow's prefix: never listed, never served) and is
renamed onto its name only once the whole body has arrived, so an aborted or failed
upload leaves nothing at the final name; a download streams the file in 1 MiB chunks.
Any other destination URI goes through the artifact repository the installed plugins
give for it (:func:`tracklet.plugins.get_artifact_repository`), by way of a temporary
file on the server's disk: the repository contract moves whole files, not streams.

**Paths.** The path is refused (400 ``INVALID_PARAMETER_VALUE``) when it, or any of its
percent-decoded forms (``%2e%2e``, ``%252e%252e``, … up to five levels), is absolute,
climbs with ``..``, has a backslash, a drive letter or a NUL, when it has another control
character itself, or when it names a staging file. Otherwise a ``%`` is an ordinary
character, as in MLflow: ``loss%10ep.txt``, which MLflow's client puts in the URL
unencoded, is stored under that name (an escape of a control character other than NUL,
tab, newline and carriage return is read as written; see :func:`request_artifact_path`). On a local destination the real path (symbolic links resolved)
must then lie inside the destination's real path, for every operation, before anything
is opened, created, listed or removed.

**Auth.** With ``--auth`` each call is authenticated from its headers before any of its
body is read (a stranger's upload is refused, 401 — or 429 over the failed-login limit —
with ``Connection: close``, never received), then authorized on its path
(``<experiment id>/…``): reading needs READ, uploading a new file EDIT, deleting MANAGE,
and uploading over a file that exists MANAGE too, since it destroys the old content as
deleting does (checked before the body is read, and again atomically when the file is
put in place on a local destination; on other destinations the check before the upload
is all there is).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import json
import logging
import mimetypes
import os
import posixpath
import re
import shutil
import stat
import tempfile
import unicodedata
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.uri import is_local_uri, local_path_from_uri
from tracklet.validation import validate_artifact_path
from tracklet_http.server.errors import error_body, status_for
from tracklet_http.server.settings import ServerSettings

__all__ = ["OPENAPI_PATHS", "OPENAPI_SCHEMAS", "STAGING_PREFIX", "artifact_routes", "clean_artifact_path"]

logger = logging.getLogger("tracklet_http.server.artifacts")

#: Where MLflow serves the proxy (and its web UI's alias).
PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
#: Bytes per disk read / write and per response message.
CHUNK = 1024 * 1024
#: Files being uploaded; never listed or served. MLflow's prefix, so both hide them.
STAGING_PREFIX = ".artifact.uploading."
#: Percent-decoding rounds inspected for an escape before a path is given up on.
DECODE_ROUNDS = 5

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: Types a browser would run or render as a page: served as text/plain instead.
_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/css",
        "application/pdf",
        "text/x-python",
    }
)
#: Extensions MLflow serves as text/plain.
_TEXT_EXTENSIONS = frozenset(
    {
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "MLproject",
    }
)
#: OS errors that mean "this path cannot be used", the caller's doing, not a server fault.
_PATH_ERRNOS = frozenset(
    {
        errno.ENAMETOOLONG,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EINVAL,
        errno.EILSEQ,
        errno.ELOOP,
    }
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows
_MPU_MESSAGE = "Multipart upload is not supported for the current artifact repository"

Endpoint = Callable[[Request], Awaitable[Response]]
_JSON = "application/json"


# -- paths ---------------------------------------------------------------------------------------


class AnyPathConvertor(Convertor[str]):
    """Starlette's ``path`` convertor, newlines included (``.`` stops at them), so a path
    with a control character reaches the route and gets its 400, not a 404."""

    regex = "[\\s\\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("artifact_path", AnyPathConvertor())


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def clean_artifact_path(raw: str) -> str:
    """``raw`` (already percent-decoded once by the HTTP server) as a clean relative path,
    or INVALID_PARAMETER_VALUE. Every further decoding of it is checked too, so no layer
    that decodes again (a proxy, a storage SDK) can turn it into an escape."""
    form = raw
    for round_ in range(DECODE_ROUNDS + 1):
        # The name itself may hold no control character; a further decoding may (a '%'
        # is an ordinary character: MLflow stores 'loss%10ep.txt'), except a NUL, which
        # would cut the name short in any layer written in C.
        if _CONTROL.search(form) if round_ == 0 else "\x00" in form:
            raise _bad(f"Invalid artifact path {raw!r}: control characters (NUL, newline …) are not allowed.")
        try:
            validate_artifact_path(form)
        except TrackletException:
            if round_ == 0:
                raise
            raise _bad(
                f"Invalid artifact path: '{raw}'. Percent-decoded {round_} time(s) it would leave the "
                "artifact root ('..', an absolute path, a drive letter or a backslash)."
            ) from None
        decoded = urllib.parse.unquote(form)
        if decoded == form:
            break
        form = decoded
    else:
        raise _bad(f"Invalid artifact path: '{raw}': too many levels of percent-encoding.")
    rel = validate_artifact_path(raw)
    if any(part.startswith(STAGING_PREFIX) for part in rel.split("/")):
        raise _bad(f"Invalid artifact path: '{raw}': names starting with '{STAGING_PREFIX}' are reserved.")
    return rel


#: Escapes MLflow's client leaves in a file name it puts in a URL unencoded ('loss%10ep.txt'):
#: those of control characters, but for NUL, tab, newline and carriage return, which keep
#: their meaning (and are refused).
_LITERAL_ESCAPE = re.compile(r"%(?:0[1-8BbCcEeFf]|1[0-9A-Fa-f]|7[Ff])")


def request_artifact_path(request: Request) -> str:
    """The artifact path of a proxy URL (``…/artifacts/<path>``), percent-decoded once as
    MLflow's server does, except that an escape naming a control character (``%10``) is
    kept as it was written: MLflow's client sends ``loss%10ep.txt`` unencoded, and that
    is the file's name. (``%2510`` also names it.)"""
    raw_path = request.scope.get("raw_path")
    marker = "/artifacts/"
    text = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else ""
    at = text.find(marker)
    if at < 0:
        return str(request.path_params["artifact_path"])
    encoded = text[at + len(marker) :]
    parts, last = [], 0
    for match in _LITERAL_ESCAPE.finditer(encoded):
        parts += [urllib.parse.unquote(encoded[last : match.start()]), match.group()]
        last = match.end()
    parts.append(urllib.parse.unquote(encoded[last:]))
    return "".join(parts)


def _upload_path(raw: str) -> str:
    """A path to upload to: it must name a file (not empty, not ending with '/')."""
    rel = clean_artifact_path(raw)
    if not rel or raw.endswith("/"):
        raise _bad(f"Invalid artifact path: '{raw}': it must name a file (and may not end with '/').")
    return rel


def _inside(root: str, real: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


# -- the destinations ---------------------------------------------------------------------------------


class LocalDestination:
    """A destination folder on this machine, read and written directly."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def exists(self, rel: str) -> bool:
        """Whether something (a file, folder or link) is at ``rel``."""
        return os.path.lexists(os.path.join(os.path.realpath(self.root), *rel.split("/")))

    def resolve(self, rel: str) -> str:
        """The real local path of ``rel``; refused when it resolves outside the root."""
        root = os.path.realpath(self.root)
        real = os.path.realpath(os.path.join(root, *rel.split("/")) if rel else root)
        if not _inside(root, real):
            raise _bad(
                f"Invalid artifact path '{rel}': it resolves outside the artifact root (through a "
                "symbolic link)."
            )
        return real

    def list(self, rel: str) -> list[dict[str, Any]]:
        target = self.resolve(rel)
        if not os.path.isdir(target):
            return []
        root = os.path.realpath(self.root)
        files = []
        with os.scandir(target) as entries:
            for entry in entries:
                if entry.name.startswith(STAGING_PREFIX):
                    continue
                try:
                    if entry.is_symlink() and not _inside(root, os.path.realpath(entry.path)):
                        continue  # leads out of the root: neither listed nor served
                    if entry.is_dir():
                        files.append({"path": entry.name, "is_dir": True})
                    else:
                        files.append({"path": entry.name, "is_dir": False, "file_size": entry.stat().st_size})
                except OSError:  # vanished or dangling while listing
                    continue
        return sorted(files, key=lambda f: f["path"])

    def open_file(self, rel: str) -> tuple[Any, os.stat_result]:
        real = self.resolve(rel)
        try:  # O_NONBLOCK: a FIFO planted in the root must not hang the worker
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _BINARY)
        except FileNotFoundError:
            raise _missing(rel) from None
        except IsADirectoryError:
            raise _is_directory(rel) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise (
                _is_directory(rel)
                if stat.S_ISDIR(st.st_mode)
                else _bad(f"Artifact '{rel}' is not a regular file.")
            )
        return os.fdopen(fd, "rb"), st

    def staging_file(self, rel: str) -> tuple[int, str, str]:
        """(open file descriptor, its path, the final path): a new staging file beside ``rel``."""
        head, tail = posixpath.split(rel)
        directory = self.resolve(head)
        final = self.resolve(rel)
        try:
            os.makedirs(directory, exist_ok=True)
        except FileExistsError:
            raise _bad(f"Cannot upload '{rel}': '{head}' is a file, not a folder.") from None
        directory = self.resolve(head)  # again: a folder created meanwhile may be a link
        if os.path.isdir(final) and not os.path.islink(final):
            raise _bad(f"Cannot upload '{rel}': a folder of that name exists.")
        staging = os.path.join(directory, STAGING_PREFIX + os.urandom(8).hex())
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o644)
        return fd, staging, os.path.join(directory, tail)

    def delete(self, rel: str) -> None:
        """Remove ``rel`` itself: a link is unlinked (never its target), a folder removed
        with everything in it (rmtree does not follow links inside the tree)."""
        root = os.path.realpath(self.root)
        if self.resolve(rel) == root:
            raise _bad(f"Refusing to delete '{rel}': it is the artifact root itself.")
        path = os.path.join(root, *rel.split("/"))
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)


class RepositoryDestination:
    """Any other destination URI, through the artifact repository plugins give for it.
    Files pass through a temporary folder on the server's disk."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def repo(self) -> Any:
        from tracklet.plugins import get_artifact_repository

        return get_artifact_repository(self.uri)

    def list(self, rel: str) -> list[dict[str, Any]]:
        files = []
        for info in self.repo().list_artifacts(rel or None):
            name = posixpath.basename(info.path)
            if name.startswith(STAGING_PREFIX):
                continue
            entry: dict[str, Any] = {"path": name, "is_dir": bool(info.is_dir)}
            if not info.is_dir and info.file_size is not None:
                entry["file_size"] = int(info.file_size)
            files.append(entry)
        return sorted(files, key=lambda f: f["path"])

    def exists(self, rel: str) -> bool:
        """Whether the repository lists something at ``rel``."""
        parent = posixpath.dirname(rel)
        return any(f.path == rel for f in self.repo().list_artifacts(parent or None))

    def fetch(self, rel: str, folder: str) -> str:
        """Download ``rel`` into ``folder``; the local file's path."""
        repo = self.repo()
        parent = posixpath.dirname(rel)
        found = [f for f in repo.list_artifacts(parent or None) if f.path == rel]
        if not found:
            raise _missing(rel)
        if found[0].is_dir:
            raise _is_directory(rel)
        local = os.path.join(folder, posixpath.basename(rel))
        repo._download_file(rel, local)
        return local

    def store(self, local: str, rel: str) -> None:
        head = posixpath.dirname(rel)
        self.repo().log_artifact(local, head or None)

    def delete(self, rel: str) -> None:
        self.repo().delete_artifacts(rel)


Destination = LocalDestination | RepositoryDestination


def destination_for(uri: str) -> Destination:
    """The fast local destination for a path or ``file:`` URI, else a repository."""
    if is_local_uri(uri):
        return LocalDestination(local_path_from_uri(uri))
    return RepositoryDestination(uri)


def _missing(rel: str) -> TrackletException:
    return TrackletException(f"No such artifact: '{rel}'", RESOURCE_DOES_NOT_EXIST)


def _is_directory(rel: str) -> TrackletException:
    return _bad(f"Artifact path refers to a directory, not a file: '{rel}'")


# -- answers -------------------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), status, media_type=_JSON)


def _error(exc: BaseException, scope: Any = None) -> Response:
    if isinstance(exc, TrackletException):
        status = status_for(exc.error_code)
        headers = None
        if status in (401, 429):  # refused before the body was read
            from tracklet_http.server.auth.authorizer import refusal_headers

            headers = refusal_headers(exc, scope or {})
        return Response(error_body(exc.error_code, exc.message), status, headers, media_type=_JSON)
    if isinstance(exc, OSError) and exc.errno in _PATH_ERRNOS:
        message = f"The artifact path cannot be used: {os.strerror(exc.errno or 0)}."
        return Response(error_body(INVALID_PARAMETER_VALUE, message), 400, media_type=_JSON)
    logger.error("Artifact proxy failure", exc_info=exc)
    message = "Internal server error: the server's log has the details."
    return Response(error_body(INTERNAL_ERROR, message), 500, media_type=_JSON)


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Every failure of ``endpoint`` as an MLflow error answer."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - each becomes its JSON error
            return _error(exc, request.scope)

    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


async def _authorize(request: Request, rel: str, write: bool = False, delete: bool = False) -> str | None:
    """The caller (None without ``--auth``), authenticated from the headers before any of
    the body is read, and allowed to read, write or delete ``rel``."""
    authorizer = getattr(request.app.state, "authorizer", None)
    if authorizer is None:
        return None
    user = await authorizer.authenticate_scope(request.scope)
    await run_in_threadpool(authorizer.authorize_artifact, user, rel, write, delete)
    return str(user)


async def _may_replace(request: Request, user: str | None, rel: str) -> bool:
    """Whether this upload may overwrite a file at ``rel``: overwriting destroys the old
    content as deleting does, so with ``--auth`` it needs what deleting needs (MANAGE)."""
    authorizer = getattr(request.app.state, "authorizer", None)
    if authorizer is None or user is None:
        return True
    return bool(await run_in_threadpool(authorizer.may_replace_artifact, user, rel))


def _no_overwrite(rel: str) -> TrackletException:
    return TrackletException(
        f"Permission denied: artifact '{rel}' exists, and replacing it needs MANAGE permission on its "
        "experiment, as deleting it does. Upload under a new path, or ask for MANAGE.",
        PERMISSION_DENIED,
    )


def guess_content_type(name: str) -> str:
    """The Content-Type a download is served with: MLflow's text types as text/plain,
    anything a browser would render or run as text/plain too, else the guessed type."""
    extension = os.path.splitext(name)[1].lstrip(".") or name
    if extension in _TEXT_EXTENSIONS:
        return "text/plain"
    guessed, _ = mimetypes.guess_type(name)
    if not guessed:
        return "application/octet-stream"
    if guessed in _ACTIVE_TYPES or guessed.endswith("+xml"):
        return "text/plain"
    return guessed


#: An HTTP token (RFC 9110 §5.6.2): a file name of these characters needs no quotes.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def content_disposition(name: str) -> str:
    """``attachment`` with the file's name (RFC 6266; RFC 5987 for non-ASCII names): bare
    when the name is an HTTP token (``filename=traces.json``, as MLflow's server, through
    Werkzeug, writes it), else quoted."""
    if _TOKEN.fullmatch(name):
        return f"attachment; filename={name}"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'["\\]', "_", ascii_name) or "download"
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    quoted = urllib.parse.quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


class FileStream(Response):
    """A file sent in :data:`CHUNK` reads from a worker thread, stopping when the client
    goes away; ``cleanup`` runs afterwards (a temporary copy is removed)."""

    def __init__(
        self,
        file: Any,
        name: str,
        size: int,
        mtime: float,
        range_header: str | None,
        head_only: bool,
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self.file = file
        self.cleanup = cleanup
        self.head_only = head_only
        self.start, self.length, status = _range(range_header, size)
        headers = {
            "content-disposition": content_disposition(name),
            "accept-ranges": "bytes",
            "last-modified": email.utils.formatdate(mtime, usegmt=True),
            "cache-control": "no-cache",
            "content-length": str(self.length),
        }
        if status == 206:
            headers["content-range"] = f"bytes {self.start}-{self.start + self.length - 1}/{size}"
        if status == 416:
            headers["content-range"] = f"bytes */{size}"
        super().__init__(None, status, headers, media_type=guess_content_type(name))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            if self.head_only or self.length == 0:
                await send({"type": "http.response.body", "body": b""})
                return
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._send_body(send)
                group.cancel_scope.cancel()
        finally:
            self.file.close()
            if self.cleanup is not None:
                self.cleanup()

    async def _send_body(self, send: Any) -> None:
        if self.start:
            self.file.seek(self.start)
        remaining = self.length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(self.file.read, min(CHUNK, remaining))
            if not chunk:  # the file shrank underneath us: end the answer short
                raise OSError(f"artifact file ended {remaining} bytes early")
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})


def _range(header: str | None, size: int) -> tuple[int, int, int]:
    """(start, length, status) for a ``Range`` header: one byte range or the whole file."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return 0, size, 200
    first, last = match.groups()
    if not first and not last:
        return 0, size, 200
    if not first:  # the last N bytes
        n = min(int(last), size)
        return size - n, n, 206 if n else 416
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return 0, 0, 416
    return start, end - start + 1, 206


# -- receiving a body ----------------------------------------------------------------------------------


async def _receive_into(request: Request, fd: int) -> int:
    """Write the request body to ``fd``; the bytes received. About :data:`CHUNK` bytes
    gather before each write, and one write runs in a worker thread while the next
    chunk arrives (memory per upload: two chunks). A client that goes away, or sends
    fewer bytes than its Content-Length says, is an error: the caller throws away what
    was written."""
    declared = request.headers.get("content-length")
    expected = int(declared) if declared and declared.isdigit() else None
    loop = asyncio.get_running_loop()
    writing: asyncio.Future[None] | None = None
    parts: list[bytes] = []
    gathered = total = 0
    receive = request.receive
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _bad("The client went away before the whole artifact arrived; nothing was stored.")
            body = message.get("body", b"")
            if body:
                parts.append(body)
                gathered += len(body)
                total += len(body)
            more = message.get("more_body", False)
            if gathered >= CHUNK or (not more and parts):
                if writing is not None:
                    await writing
                writing = loop.run_in_executor(None, _write_all, fd, parts)
                parts, gathered = [], 0
            if not more:
                break
    finally:
        if writing is not None:
            await asyncio.shield(writing)  # never leave a write running on a closed fd
    if expected is not None and total != expected:
        raise _bad(f"Incomplete upload: {total} of {expected} bytes arrived; nothing was stored.")
    return total


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Write every byte of ``parts`` (one ``writev`` call where the OS has it)."""
    views = [memoryview(p) for p in parts]
    while views:
        written = os.writev(fd, views) if hasattr(os, "writev") else os.write(fd, views[0])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


# -- the routes -------------------------------------------------------------------------------------------


async def stream_fetched(
    fetch: Callable[[str, str], str], rel: str, range_header: str | None = None, head_only: bool = False
) -> FileStream:
    """The file ``fetch(rel, folder)`` copies into a new temporary folder (on a worker
    thread), streamed; the folder is removed once it is sent, or at once on a failure."""
    folder = tempfile.mkdtemp(prefix="tracklet-proxy-")
    try:
        local = await run_in_threadpool(fetch, rel, folder)
        if os.path.isdir(local):
            raise _is_directory(rel)
        f = open(local, "rb")  # noqa: SIM115 - closed by the response
        st = os.fstat(f.fileno())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    cleanup = lambda: shutil.rmtree(folder, ignore_errors=True)  # noqa: E731
    return FileStream(f, posixpath.basename(rel), st.st_size, st.st_mtime, range_header, head_only, cleanup)


def artifact_routes(settings: ServerSettings) -> list[BaseRoute]:
    """The proxy's routes over ``settings.artifacts_destination``, at both prefixes."""
    dest = destination_for(settings.artifacts_destination)

    async def download(request: Request) -> Response:
        rel = clean_artifact_path(request_artifact_path(request))
        if not rel:
            raise _is_directory(rel)
        await _authorize(request, rel)
        head_only = request.method == "HEAD"
        rng = request.headers.get("range")
        if isinstance(dest, LocalDestination):
            f, st = await run_in_threadpool(dest.open_file, rel)
            return FileStream(f, posixpath.basename(rel), st.st_size, st.st_mtime, rng, head_only)
        return await stream_fetched(dest.fetch, rel, rng, head_only)

    async def upload(request: Request) -> Response:
        rel = _upload_path(request_artifact_path(request))
        user = await _authorize(request, rel, write=True)
        replace = await _may_replace(request, user, rel)
        if not replace and await run_in_threadpool(dest.exists, rel):
            raise _no_overwrite(rel)  # before the body is read; _publish checks again
        if isinstance(dest, LocalDestination):
            fd, staging, final = await run_in_threadpool(dest.staging_file, rel)
            try:
                try:
                    await _receive_into(request, fd)
                finally:
                    os.close(fd)
                await run_in_threadpool(_publish, dest, rel, staging, final, replace)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(staging)
                raise
            return _json({})
        folder = tempfile.mkdtemp(prefix="tracklet-proxy-")
        try:
            local = os.path.join(folder, posixpath.basename(rel))
            fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
            try:
                await _receive_into(request, fd)
            finally:
                os.close(fd)
            await run_in_threadpool(dest.store, local, rel)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return _json({})

    async def delete(request: Request) -> Response:
        rel = clean_artifact_path(request_artifact_path(request))
        if not rel:
            raise _bad("Refusing to delete the whole artifact root: name a folder or a file.")
        await _authorize(request, rel, write=True, delete=True)
        await run_in_threadpool(dest.delete, rel)
        return _json({})

    async def listing(request: Request) -> Response:
        raw = request.query_params.get("path")
        rel = clean_artifact_path(raw) if raw else ""
        await _authorize(request, rel)
        files = await run_in_threadpool(dest.list, rel)
        return _json({"files": files} if files else {})

    async def multipart(request: Request) -> Response:
        await _authorize(request, clean_artifact_path(request_artifact_path(request)), write=True)
        return Response(error_body(NOT_IMPLEMENTED, _MPU_MESSAGE), 501, media_type=_JSON)

    by_method = {"GET": download, "HEAD": download, "PUT": upload, "DELETE": delete}

    async def artifact(request: Request) -> Response:
        return await by_method[request.method](request)

    routes: list[BaseRoute] = []
    for prefix in PREFIXES:
        item = prefix + "/artifacts/{artifact_path:artifact_path}"
        routes += [
            Route(prefix + "/artifacts", _guarded(listing), methods=["GET"]),
            Route(item, _guarded(artifact), methods=list(by_method)),
            *[
                Route(
                    f"{prefix}/mpu/{step}/{{artifact_path:artifact_path}}",
                    _guarded(multipart),
                    methods=["POST"],
                )
                for step in ("create", "complete", "abort")
            ],
        ]
    return routes


def _publish(dest: LocalDestination, rel: str, staging: str, final: str, replace: bool = True) -> None:
    """Rename the finished staging file onto its name (checked once more). Without
    ``replace`` the file must not exist: a hard link fails atomically if it does (where
    the file system has none, a check right before the rename)."""
    dest.resolve(rel)
    if os.path.isdir(final) and not os.path.islink(final):
        raise _bad(f"Cannot upload '{rel}': a folder of that name exists.")
    if replace:
        os.replace(staging, final)
        return
    try:
        os.link(staging, final)
    except FileExistsError:
        raise _no_overwrite(rel) from None
    except OSError:
        if os.path.lexists(final):
            raise _no_overwrite(rel) from None
        os.replace(staging, final)
    else:
        os.unlink(staging)


# -- OpenAPI ------------------------------------------------------------------------------------------------

_ERROR = {"$ref": "#/components/schemas/Error"}
_BINARY_SCHEMA = {"type": "string", "format": "binary"}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Invalid path or request",
        401: "Not authenticated",
        403: "Permission denied",
        404: "No such artifact",
        429: "Too many failed logins (REQUEST_LIMIT_EXCEEDED); retry after Retry-After seconds",
        416: "Range not satisfiable",
        500: "Server error",
        501: "Not supported by this server",
    }
    return {str(s): {"description": text[s], "content": {_JSON: {"schema": _ERROR}}} for s in statuses}


_PATH_SCHEMA = {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f\\\\]*$"}
_PATH_PARAM = {
    "name": "artifact_path",
    "in": "path",
    "required": True,
    "description": (
        "Path relative to the proxy's root, `<experiment id>/<run id>/artifacts/...`. Refused (400): "
        "'..' segments, absolute paths, backslashes, drive letters, control characters, and any of "
        "these once percent-decoded again."
    ),
    "schema": _PATH_SCHEMA,
}
_EMPTY_OK = {"description": "Done", "content": {"application/json": {"schema": {"type": "object"}}}}
_FILE_INFO = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "The entry's name (no folder part)."},
        "is_dir": {"type": "boolean"},
        "file_size": {"type": "integer", "description": "Bytes (files only)."},
    },
    "required": ["path", "is_dir"],
}

#: The proxy's schemas are inlined in its paths; the Error schema is the tracking API's.
OPENAPI_SCHEMAS: dict[str, Any] = {}

OPENAPI_PATHS: dict[str, Any] = {
    PREFIXES[0] + "/artifacts": {
        "get": {
            "operationId": "list_proxied_artifacts",
            "summary": "List one level of the artifact proxy's folder `path` (the root when absent).",
            "tags": ["mlflow-artifacts"],
            "parameters": [{"name": "path", "in": "query", "required": False, "schema": _PATH_SCHEMA}],
            "responses": {
                "200": {
                    "description": "The entries; `{}` when there are none.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"files": {"type": "array", "items": _FILE_INFO}},
                            }
                        }
                    },
                },
                **_errors(400, 401, 403, 429, 500),
            },
        },
    },
    PREFIXES[0] + "/artifacts/{artifact_path}": {
        "parameters": [_PATH_PARAM],
        "get": {
            "operationId": "download_proxied_artifact",
            "summary": "Download one file (as an attachment; a `Range: bytes=a-b` header is honoured).",
            "tags": ["mlflow-artifacts"],
            "responses": {
                "200": {"description": "The file", "content": {"*/*": {"schema": _BINARY_SCHEMA}}},
                "206": {"description": "Part of the file", "content": {"*/*": {"schema": _BINARY_SCHEMA}}},
                **_errors(400, 401, 403, 429, 404, 416, 500),
            },
        },
        "put": {
            "operationId": "upload_proxied_artifact",
            "summary": "Upload the request body as the file `artifact_path` (replacing it atomically).",
            "tags": ["mlflow-artifacts"],
            "requestBody": {
                "required": False,
                "content": {"application/octet-stream": {"schema": _BINARY_SCHEMA}},
            },
            "responses": {"200": _EMPTY_OK, **_errors(400, 401, 403, 429, 500)},
        },
        "delete": {
            "operationId": "delete_proxied_artifact",
            "summary": "Delete a file or a folder tree (nothing there is not an error).",
            "tags": ["mlflow-artifacts"],
            "responses": {"200": _EMPTY_OK, **_errors(400, 401, 403, 429, 500)},
        },
    },
}
