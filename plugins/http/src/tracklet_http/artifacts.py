"""HttpArtifactRepository: artifacts through a tracking server's artifact proxy.

Serves three URI forms, all meaning "a folder under a server's
``/api/2.0/mlflow-artifacts/artifacts``":

* ``mlflow-artifacts:/1/abc/artifacts`` — on the server of the current tracking URI
  (:func:`tracklet.tracking.get_tracking_uri`, which must then be ``http(s)://``; a path
  prefix in it, ``http://host/prefix``, is kept);
* ``mlflow-artifacts://host:5000/1/abc/artifacts`` — on that host, over the tracking
  URI's scheme (``http`` when the tracking URI is not a server);
* ``http(s)://host:5000[/prefix]/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts``.

Files stream both ways in 1 MiB chunks (an upload is one ``PUT`` with a
``Content-Length``; a download is written to disk as it arrives), so memory stays flat
whatever the size. Directory uploads and downloads run on the core's bounded thread
pool. A transfer of :data:`PROGRESS_MIN_BYTES` or more shows a progress bar on a
terminal (``TRACKLET_DISABLE_PROGRESS=1`` turns it off; see :mod:`tracklet.stores.progress`).
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import posixpath
import tempfile
import urllib.parse
from collections.abc import Iterator
from typing import Any

from tracklet.entities import FileInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import ArtifactRepository
from tracklet.stores.progress import PROGRESS_MIN_BYTES, transfer_progress
from tracklet.uri import get_scheme
from tracklet.validation import validate_artifact_path
from tracklet_http.transport import HttpTransport, finish, redacted

__all__ = ["API_PATH", "HttpArtifactRepository", "PROGRESS_MIN_BYTES", "resolve_artifact_uri"]

#: Where a server's artifact proxy lives, relative to the server's base URL.
API_PATH = "/api/2.0/mlflow-artifacts/artifacts"
#: Bytes per read from disk or network.
CHUNK = 1024 * 1024


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def resolve_artifact_uri(artifact_uri: str, tracking_uri: str | None = None) -> tuple[str, str]:
    """(the server's proxy URL, ending in :data:`API_PATH`; the root path under it).

    ``tracking_uri`` defaults to the current one; it is needed only for
    ``mlflow-artifacts:`` URIs.
    """
    scheme = get_scheme(artifact_uri)
    parsed = urllib.parse.urlsplit(artifact_uri)
    if scheme in ("http", "https"):
        at = parsed.path.find(API_PATH)
        if at < 0 or parsed.path[at + len(API_PATH) : at + len(API_PATH) + 1] not in ("", "/"):
            raise _bad(
                f"Invalid artifact URI {artifact_uri!r}: an http(s) artifact URI must point into a "
                f"tracking server's artifact proxy, e.g. http://host:5000{API_PATH}/<path>."
            )
        server = urllib.parse.urlunsplit((scheme, parsed.netloc, parsed.path[:at], "", ""))
        root = parsed.path[at + len(API_PATH) :]
    elif scheme == "mlflow-artifacts":
        if tracking_uri is None:
            from tracklet.tracking import get_tracking_uri

            tracking_uri = get_tracking_uri()
        tracking = urllib.parse.urlsplit(tracking_uri or "")
        tracking_scheme = get_scheme(tracking_uri or "")
        if parsed.netloc:
            if parsed.hostname is None or (parsed.hostname.isdigit() and parsed.port is None):
                raise _bad(f"Invalid artifact URI {artifact_uri!r}: it names a port but no host.")
            http_scheme = tracking_scheme if tracking_scheme in ("http", "https") else "http"
            same_server = tracking.netloc == parsed.netloc
            prefix = tracking.path.rstrip("/") if same_server else ""
            server = f"{http_scheme}://{parsed.netloc}{prefix}"
        else:
            if tracking_scheme not in ("http", "https"):
                raise _bad(
                    f"The artifact URI {artifact_uri!r} lives on a tracking server, but the tracking URI "
                    f"is {redacted(tracking_uri or '')!r}. Set it to the server, e.g. "
                    "tracklet.set_tracking_uri('http://localhost:5000') or TRACKLET_TRACKING_URI."
                )
            server = f"{tracking_scheme}://{tracking.netloc}{tracking.path.rstrip('/')}"
        root = parsed.path
    else:
        raise _bad(f"HttpArtifactRepository does not serve {scheme or 'plain path'!r} URIs: {artifact_uri!r}")
    if parsed.query or parsed.fragment:
        raise _bad(f"Invalid artifact URI {artifact_uri!r}: a query or fragment is not allowed.")
    root = urllib.parse.unquote(root)
    try:
        root = validate_artifact_path(root.strip("/"))
    except TrackletException as exc:
        raise _bad(f"Invalid artifact URI {artifact_uri!r}: {exc.message}") from None
    return server.rstrip("/") + API_PATH, root


class HttpArtifactRepository(ArtifactRepository):
    """Artifacts under one folder of a tracking server's artifact proxy."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(artifact_uri)
        self.proxy_url, self.root = resolve_artifact_uri(artifact_uri, tracking_uri)
        self._http = HttpTransport(self.proxy_url)

    # -- paths -----------------------------------------------------------------------------------

    def _remote(self, rel: str) -> str:
        """The proxy-relative path of ``rel`` (root-relative)."""
        return f"{self.root}/{rel}" if self.root and rel else (self.root or rel)

    def _url(self, remote: str) -> str:
        return f"{self.proxy_url}/{urllib.parse.quote(remote, safe='/')}"

    # -- primitives ----------------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload one file into the folder ``artifact_path``: one streamed ``PUT``."""
        folder = validate_artifact_path(artifact_path)
        name = os.path.basename(local_file)
        rel = validate_artifact_path(f"{folder}/{name}" if folder else name)
        size = os.path.getsize(local_file)
        headers = {
            "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "Content-Length": str(size),
        }

        def body() -> Iterator[bytes]:
            with open(local_file, "rb") as f, transfer_progress(size, f"Uploading {name}") as bar:
                while chunk := f.read(CHUNK):
                    bar(len(chunk))
                    yield chunk

        finish(self._http.request("PUT", self._url(self._remote(rel)), body, headers))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """One level under ``path``; paths in the answer are root-relative."""
        rel = validate_artifact_path(path)
        payload = self._http.call_json("GET", "", {"path": self._remote(rel)})
        infos = []
        for entry in payload.get("files") or []:
            name = str(entry.get("path", ""))
            try:
                name = validate_artifact_path(name)
            except TrackletException:
                raise TrackletException(
                    f"The server listed an unsafe artifact name {name!r} under {rel!r}; refusing it.",
                    INVALID_PARAMETER_VALUE,
                ) from None
            if not name:
                continue
            is_dir = bool(entry.get("is_dir", False))
            size = entry.get("file_size")
            # MLflow's server leaves out a size of 0 (a protobuf default)
            file_size = None if is_dir else int(size or 0)
            infos.append(FileInfo(f"{rel}/{name}" if rel else name, is_dir, file_size))
        # An older server lists a file as itself; the contract says a file lists as [].
        itself = f"{rel}/{posixpath.basename(rel)}"
        if len(infos) == 1 and rel and not infos[0].is_dir and infos[0].path == itself:
            return []
        return sorted(infos, key=lambda info: info.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        """Stream one file to ``local_path``; nothing is left there if the transfer fails."""
        rel = validate_artifact_path(remote_file_path)
        response = self._http.request("GET", self._url(self._remote(rel)))
        try:
            size = int(response.headers.get("content-length") or 0)
            with _removed_on_error(local_path), open(local_path, "wb") as f:
                with transfer_progress(size, f"Downloading {posixpath.basename(rel)}") as bar:
                    received = _copy_body(response, f, bar)
            if size and received != size:
                with contextlib.suppress(OSError):
                    os.unlink(local_path)
                raise TrackletException(
                    f"Download of '{rel}' ended early: {received} of {size} bytes.", "TEMPORARILY_UNAVAILABLE"
                )
        finally:
            finish(response)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree (everything under the root when None)."""
        rel = validate_artifact_path(artifact_path)
        remote = self._remote(rel)
        if not remote:  # the proxy refuses to delete its own root: one entry at a time
            for info in self.list_artifacts():
                self.delete_artifacts(info.path)
            return
        finish(self._http.request("DELETE", self._url(remote)))

    # -- fewer round trips ---------------------------------------------------------------------------

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """As the contract says; a single file costs one listing and one GET."""
        rel = validate_artifact_path(artifact_path)
        if rel == "" or self.list_artifacts(rel):  # a folder with something in it
            return super().download_artifacts(rel, dst_path)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-")
        target = self._local_target(dst, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            self._download_file(rel, target)
            return target
        except TrackletException as exc:
            # 404: no such file; 400: a folder. Either way, maybe an empty folder.
            if exc.error_code not in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE):
                raise
            reason = exc.message
        if self._is_directory(rel):
            os.makedirs(target, exist_ok=True)
            return target
        raise TrackletException(
            f"No artifact at '{rel}' under {self.artifact_uri} ({reason})", RESOURCE_DOES_NOT_EXIST
        )


@contextlib.contextmanager
def _removed_on_error(path: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _copy_body(response: Any, f: Any, advance: Any) -> int:
    """Write a streamed response to ``f`` in CHUNK pieces; the bytes written. A body cut
    short (the server or the network went away) is TEMPORARILY_UNAVAILABLE."""
    import urllib3

    total = 0
    try:
        while chunk := response.read(CHUNK):
            f.write(chunk)
            total += len(chunk)
            advance(len(chunk))
    except urllib3.exceptions.HTTPError as exc:
        raise TrackletException(
            f"The download broke off after {total} bytes: {exc}", "TEMPORARILY_UNAVAILABLE"
        ) from exc
    return total
