"""Static files plugins contribute to ``tracklet server`` (:class:`tracklet.routes.Assets`,
returned from ``tracklet_server_routes``): a web UI's pages, scripts and styles, and what
``GET /`` answers.

* ``GET``/``HEAD <prefix>/<relative path>`` answers the file under the assets' folder;
  ``<prefix>/`` (and any ``<sub folder>/``) answers its index file, ``<prefix>`` redirects
  to ``<prefix>/`` with a relative ``Location``. Other methods: 405.
* **Never outside the folder.** A path with a ``..`` or ``.`` segment, an empty segment, a
  backslash, a NUL or a segment starting with ``.`` (dot-files), or whose real path
  (symbolic links resolved) leaves the folder's real path, or that is not a regular file,
  answers 404 — the same answer as a file that does not exist, so nothing is learnt about
  the disk. Files are found and opened on a worker thread, never on the event loop.
* **Types** by extension (:data:`CONTENT_TYPES`, then :mod:`mimetypes`, then
  ``application/octet-stream``); text types say ``charset=utf-8``.
* **Caching**: ``ETag`` (size and modification time) with ``304`` to a matching
  ``If-None-Match``, and ``Cache-Control: no-cache`` so a browser revalidates after an
  upgrade of the plugin.
* **Headers** on every asset answer and on ``/``: :data:`PAGE_HEADERS` (a strict
  ``Content-Security-Policy``: scripts and styles from the server's own origin, no inline
  scripts; ``Referrer-Policy: no-referrer``); :class:`~tracklet_http.server.security.SecurityMiddleware`
  adds ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: SAMEORIGIN``, and its
  Host and Origin checks apply as to the API.
* **Auth**: with ``--auth`` every asset and ``/`` need an authenticated caller (any user);
  without credentials the answer is 401 with ``WWW-Authenticate: Basic`` so a browser
  asks for them.
* ``GET /``: with assets declaring ``root=True`` a 302 to ``<prefix>/`` (relative
  ``Location: ui/``, so a server behind a path prefix works, and the browser keeps the
  ``#/experiments/1/runs/…`` fragment MLflow's printed links carry); without, 404 with a
  small page saying how to install the UI (:data:`NO_UI_MESSAGE`), or MLflow's JSON
  ``ENDPOINT_NOT_FOUND`` when the request prefers JSON.

:func:`installed_assets` collects the plugins' assets and refuses, before the server
starts, assets whose prefix overlaps a path the server or a plugin's route serves.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import os
import re
import stat
from collections.abc import Awaitable, Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from tracklet.exceptions import ENDPOINT_NOT_FOUND, INVALID_PARAMETER_VALUE, TrackletException
from tracklet.routes import Assets
from tracklet_http.server.errors import error_body

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CONTENT_TYPES",
    "NO_UI_MESSAGE",
    "PAGE_HEADERS",
    "asset_routes",
    "check_prefixes",
    "installed_assets",
    "prefers_json",
    "root_routes",
]

logger = logging.getLogger("tracklet_http.server.assets")

#: What a page of a plugin's UI may load: its own origin only, no inline scripts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-src 'self' blob: data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
#: Sent with every asset and with ``/`` (the security middleware adds nosniff and
#: X-Frame-Options to every answer of the server).
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
#: Content types by extension, before :mod:`mimetypes` (whose table depends on the host).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
#: What ``GET /`` says when no installed plugin serves a UI there.
NO_UI_MESSAGE = (
    "This tracklet server has no web UI installed. Install it: pip install tracklet-ui "
    "(from a clone: pip install ./plugins/ui), then restart the server."
)

_Endpoint = Callable[[Request], Awaitable[Response]]


def content_type(name: str) -> str:
    """The Content-Type an asset named ``name`` is served with."""
    extension = os.path.splitext(name)[1].lower()
    known = CONTENT_TYPES.get(extension)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(name)
    if not guessed:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _safe_parts(relative: str) -> list[str] | None:
    """The path's segments, or None when one may not be served (climbing, hidden, odd)."""
    if "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(part == "" or part.startswith(".") for part in parts):
        return None
    return parts


class AssetsFolder:
    """One :class:`Assets` as served: the folder's real path, and files found inside it."""

    def __init__(self, assets: Assets) -> None:
        self.assets = assets
        self.root = os.path.realpath(assets.directory)

    def find(self, relative: str) -> tuple[str, os.stat_result] | None:
        """``(real path, stat)`` of the file ``relative`` (the part of the URL path after
        the prefix and its ``/``) names, or None when it must not or cannot be served.
        Blocking: call it off the event loop."""
        if relative == "" or relative.endswith("/"):
            relative += self.assets.index
        parts = _safe_parts(relative)
        if parts is None:
            return None
        real = os.path.realpath(os.path.join(self.root, *parts))
        if not real.startswith(self.root + os.sep):
            return None
        try:
            st = os.stat(real)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return real, st


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates


async def _authenticated(request: Request) -> None:
    """With ``--auth``: any authenticated caller (401/429 raised otherwise)."""
    authorizer = getattr(request.app.state, "authorizer", None)
    if authorizer is not None:
        await authorizer.authenticate_scope(request.scope)


def _refusal(exc: BaseException, request: Request, headers: dict[str, str]) -> Response:
    """An error answer with MLflow's JSON body and the page headers."""
    if isinstance(exc, TrackletException):
        from tracklet_http.server.auth.authorizer import refusal_headers
        from tracklet_http.server.errors import status_for

        status = status_for(exc.error_code)
        all_headers = {**headers, **refusal_headers(exc, request.scope)}
        return Response(
            error_body(exc.error_code, exc.message), status, all_headers, media_type="application/json"
        )
    logger.error("Failure serving %s", request.url.path, exc_info=exc)
    body = error_body("INTERNAL_ERROR", "Internal server error: the server's log has the details.")
    return Response(body, 500, headers, media_type="application/json")


def guarded(endpoint: _Endpoint, headers: dict[str, str] | None = None) -> _Endpoint:
    """``endpoint`` behind the auth check, its failures answered as MLflow errors, every
    answer carrying ``headers`` (default :data:`PAGE_HEADERS`)."""
    page_headers = PAGE_HEADERS if headers is None else headers

    async def serve(request: Request) -> Response:
        try:
            await _authenticated(request)
            response = await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - each failure becomes its JSON error
            return _refusal(exc, request, page_headers)
        for name, value in page_headers.items():
            response.headers.setdefault(name, value)
        return response

    serve.__name__ = getattr(endpoint, "__name__", "assets")
    return serve


def _not_found(request: Request) -> Response:
    message = f"No file at {request.url.path}."
    return Response(error_body(ENDPOINT_NOT_FOUND, message), 404, media_type="application/json")


def file_endpoint(
    folder: AssetsFolder, cache_control: str = "no-cache", parameter: str = "path"
) -> _Endpoint:
    """Serve ``folder``'s file named by the route's ``parameter``: found off the event
    loop, ``304`` to a matching ``If-None-Match``, streamed by Starlette's FileResponse
    (which reads on a worker thread and honours ``Range``)."""

    async def serve_file(request: Request) -> Response:
        relative = request.path_params.get(parameter, "")
        found = await run_in_threadpool(folder.find, relative)
        if found is None:
            return _not_found(request)
        real, st = found
        etag = _etag(st)
        headers = {"ETag": etag, "Cache-Control": cache_control}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return FileResponse(real, headers=headers, media_type=content_type(real), stat_result=st)

    return serve_file


def _redirect(location: str) -> _Endpoint:
    async def redirect(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": location})

    return redirect


def asset_routes(assets: Iterable[Assets]) -> list[BaseRoute]:
    """The Starlette routes serving each of ``assets`` (GET and HEAD)."""
    routes: list[BaseRoute] = []
    for item in assets:
        folder = AssetsFolder(item)
        last_segment = item.prefix.rsplit("/", 1)[1]
        routes.append(Route(item.prefix, guarded(_redirect(last_segment + "/")), methods=["GET"]))
        routes.append(Route(item.prefix + "/{path:path}", guarded(file_endpoint(folder)), methods=["GET"]))
    return routes


# -- GET / -----------------------------------------------------------------------------------------


def _quality(accept: str, wanted: str) -> float:
    """The q of the best-matching entry of an Accept header for the media type ``wanted``
    (exact beats ``type/*`` beats ``*/*``); 0 when nothing matches."""
    major = wanted.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for entry in accept.split(","):
        fields = [f.strip() for f in entry.split(";")]
        media = fields[0].lower()
        q = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        rank = 2 if media == wanted else 1 if media == f"{major}/*" else 0 if media == "*/*" else -1
        if rank > best[0]:
            best = (rank, q)
    return best[1] if best[0] >= 0 else 0.0


def prefers_json(accept: str | None) -> bool:
    """Whether a request's Accept header ranks JSON above HTML (a browser's does not; an
    API client asking for ``application/json`` does)."""
    if not accept:
        return False
    return _quality(accept, "application/json") > _quality(accept, "text/html")


_NO_UI_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracklet server: no web UI installed</title>
</head>
<body>
<main>
<h1>tracklet server</h1>
<p>{message}</p>
<p>The REST API is running: its description is at <a href="openapi.json">/openapi.json</a>.</p>
</main>
</body>
</html>
"""


async def _no_ui(request: Request) -> Response:
    if prefers_json(request.headers.get("accept")):
        body = error_body(ENDPOINT_NOT_FOUND, f"{NO_UI_MESSAGE} The API is described at /openapi.json.")
        return Response(body, 404, media_type="application/json")
    page = _NO_UI_PAGE.format(message=html.escape(NO_UI_MESSAGE))
    return Response(page, 404, media_type="text/html; charset=utf-8")


def root_routes(assets: Iterable[Assets]) -> list[BaseRoute]:
    """``GET /``: a redirect to the root assets' prefix, or the no-UI page."""
    root = next((item for item in assets if item.root), None)
    if root is None:
        return [Route("/", guarded(_no_ui), methods=["GET"])]
    return [Route("/", guarded(_redirect(root.prefix.lstrip("/") + "/")), methods=["GET"])]


# -- start-up checks -------------------------------------------------------------------------------


def _sample(path: str) -> str:
    """A route template as a concrete path (``{x}`` and ``{x:path}`` -> ``x``)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def check_prefixes(assets: Iterable[Assets], served: Iterable[tuple[str, str]]) -> None:
    """Refuse assets whose prefix overlaps a path the server serves otherwise.

    :param served: ``(path or template, what serves it)``: the server's own routes, the
        tracking API's prefixes, the plugins' routes.
    :raises TrackletException: naming the assets and the route.
    """
    served = list(served)
    for item in assets:
        prefix = item.prefix
        for path, what in served:
            sample = _sample(path)
            under_template = path.endswith(":path}") and prefix.startswith(
                _sample(path).rsplit("/", 1)[0] + "/"
            )
            if (
                sample == prefix
                or sample.startswith(prefix + "/")
                or prefix.startswith(sample + "/")
                or under_template
            ):
                raise TrackletException(
                    f"The assets {item.name!r} (prefix {prefix}) would shadow {what} ({path}): "
                    "a plugin's assets need a URL prefix of their own. Change the plugin, or uninstall it.",
                    INVALID_PARAMETER_VALUE,
                )


def installed_assets(served: Iterable[tuple[str, str]]) -> list[Assets]:
    """The installed plugins' assets (:func:`tracklet.plugins.server_assets`), checked
    against each other and against ``served`` (see :func:`check_prefixes`); each folder
    must exist.

    :raises TrackletException: what stops the server at start-up.
    """
    from tracklet.plugins import server_assets

    assets = server_assets()
    check_prefixes(assets, served)
    for item in assets:
        if not os.path.isdir(item.directory):
            raise TrackletException(
                f"The assets {item.name!r} (prefix {item.prefix}) name the folder {item.directory}, "
                "which does not exist: reinstall the plugin that ships them.",
                INVALID_PARAMETER_VALUE,
            )
    return assets
