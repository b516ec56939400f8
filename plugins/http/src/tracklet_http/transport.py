"""HTTP to one tracking server: pooled connections, credentials, TLS, retries, errors.

Both clients of tracklet-http go through :class:`HttpTransport`: the tracking store
(JSON calls, :meth:`HttpTransport.call_json`) and the artifact repository (streamed
bodies, :meth:`HttpTransport.request`). What it reads from the environment (each
``TRACKLET_*`` name falls back to the ``MLFLOW_*`` one, so MLflow set-ups keep working):

==================================  ==============================================
``TRACKLET_TRACKING_TOKEN``          sent as ``Authorization: Bearer <token>``
``TRACKLET_TRACKING_USERNAME`` /     HTTP basic auth (also taken from
``TRACKLET_TRACKING_PASSWORD``       ``http://user:password@host`` in the URI)
``TRACKLET_TRACKING_INSECURE_TLS``   ``true``: do not verify the server's certificate
``TRACKLET_TRACKING_SERVER_CERT_PATH``  CA bundle to verify the server with
``TRACKLET_TRACKING_CLIENT_CERT_PATH``  client certificate (PEM) for mutual TLS
``TRACKLET_HTTP_REQUEST_TIMEOUT``    seconds to wait for an answer (default 120)
``TRACKLET_HTTP_REQUEST_MAX_RETRIES``   tries after the first (default 5)
``TRACKLET_HTTP_REQUEST_BACKOFF_FACTOR``  first back-off in seconds, doubled each try
                                        up to 10 s, with jitter (default 0.5)
==================================  ==============================================

Retries: a call that could not reach the server (connection refused, DNS, connect
timeout) is retried whatever it is, since the server never saw it. A call the server
may have carried out (a broken connection, a 500, 502 or 504) is retried only when
repeating it is harmless (``idempotent=True``). 429 and 503 mean "not done, come back
later" and are retried for every call, waiting at least ``Retry-After`` when the server
sends one. Plugins add headers through the ``tracklet_request_headers`` hook.

Fork safety: connections are pooled per process. A process forked after using a
transport opens its own; two processes reading one keep-alive socket would get each
other's answers.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracklet.exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    RestException,
    TrackletException,
)
from tracklet.stores.forking import ProcessCache
from tracklet.utils import environment
from tracklet_http.fast_json import decode_answer

__all__ = ["HttpTransport", "finish", "redacted", "shared_transport"]

logger = logging.getLogger("tracklet_http")

#: Statuses that mean "not done": retried for every call.
NOT_DONE_STATUSES = frozenset({429, 503})
#: Statuses after which the call may or may not have happened: retried when idempotent.
MAYBE_DONE_STATUSES = frozenset({500, 502, 504})
#: Longest single back-off, seconds.
MAX_BACKOFF = 10.0
#: Connections kept open per server (enough for the default artifact thread pool twice).
POOL_SIZE = 16
#: Most unread answer bytes :func:`finish` reads to keep a connection; beyond, it closes it.
DRAIN_LIMIT = 1 << 20

_STATUS_CODES = {
    400: INVALID_PARAMETER_VALUE,
    401: "UNAUTHENTICATED",
    403: PERMISSION_DENIED,
    404: RESOURCE_DOES_NOT_EXIST,
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    # a gateway's answer (no MLflow error body): the server behind it could not be reached
    # or did not answer in time, which is "try again later", not a refusal
    502: TEMPORARILY_UNAVAILABLE,
    503: TEMPORARILY_UNAVAILABLE,
    504: TEMPORARILY_UNAVAILABLE,
}

#: urllib3 pool managers by TLS settings, per process: a forked child opens its own
#: connections instead of reading the answers to its parent's requests.
_pools: ProcessCache[tuple[bool, str | None, str | None], Any] = ProcessCache()
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _float_setting(name: str, default: float) -> float:
    return environment.get_parsed(environment.variables(name), default, float, "it must be a number")


def redacted(uri: str) -> str:
    """A URI without credentials (user info, query), safe to show in a message or log."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))


#: Largest request body sent in the same write as the request's head.
ONE_WRITE_LIMIT = 64 * 1024


class _OneWrite:
    """A urllib3 connection that sends a small bytes body in the same write as the head
    (urllib3 writes them apart: two syscalls, and the server reads the request in two
    pieces). Any other body is sent as urllib3 sends it."""

    _pending_body: bytes | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        if (
            type(body) is bytes
            and 0 < len(body) <= ONE_WRITE_LIMIT
            and not kwargs.get("chunked")
            and not any(k.lower() in ("content-length", "transfer-encoding") for k in headers or ())
        ):
            headers = {**(headers or {}), "Content-Length": str(len(body))}
            self._pending_body = body
            try:
                super().request(method, url, body=None, headers=headers, **kwargs)  # type: ignore[misc]
            finally:
                self._pending_body = None
            return
        super().request(method, url, body=body, headers=headers, **kwargs)  # type: ignore[misc]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        pending = self._pending_body
        if pending is None or message_body is not None:
            super()._send_output(message_body, encode_chunked)  # type: ignore[misc]
            return
        # http.client's own head writing (Python 3.10-3.13), with the body joined to it
        self._pending_body = None
        buffer = self._buffer  # type: ignore[attr-defined]
        buffer.extend((b"", b""))
        head = b"\r\n".join(buffer)
        del buffer[:]
        self.send(head + pending)  # type: ignore[attr-defined]


def _pool_manager(insecure: bool, ca: str | None, cert: str | None) -> Any:
    """A new urllib3 pool manager for one TLS configuration, whose connections send a
    small body with its head (:class:`_OneWrite`)."""
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class OneWriteHTTPConnection(_OneWrite, HTTPConnection):
        pass

    class OneWriteHTTPSConnection(_OneWrite, HTTPSConnection):
        pass

    class OneWriteHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = OneWriteHTTPConnection

    class OneWriteHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = OneWriteHTTPSConnection

    kwargs: dict[str, Any] = {"maxsize": POOL_SIZE, "retries": False, "blocksize": 1024 * 1024}
    if insecure:
        kwargs["cert_reqs"] = "CERT_NONE"
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    elif ca:
        kwargs["ca_certs"] = ca
    if cert:
        kwargs["cert_file"] = cert
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {
        "http": OneWriteHTTPConnectionPool,
        "https": OneWriteHTTPSConnectionPool,
    }
    return manager


class HttpTransport:
    """Requests to the server at ``base_url`` (``http(s)://host[:port][/prefix]``).

    Settings are read from the environment when the transport is built.
    """

    def __init__(self, base_url: str) -> None:
        import urllib3

        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TrackletException(
                f"Not a server URL: {redacted(base_url)!r}. Expected http(s)://host[:port][/path].",
                INVALID_PARAMETER_VALUE,
            )
        netloc = parts.netloc.rpartition("@")[2]
        self.base_url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._auth = self._auth_header(parts)
        insecure = environment.get_flag("TRACKING_INSECURE_TLS")
        self._tls = (
            insecure,
            environment.get("TRACKING_SERVER_CERT_PATH"),
            environment.get("TRACKING_CLIENT_CERT_PATH"),
        )
        timeout = _float_setting("HTTP_REQUEST_TIMEOUT", 120.0)
        self.timeout = urllib3.Timeout(connect=min(timeout, 30.0), read=timeout)
        self.max_retries = int(_float_setting("HTTP_REQUEST_MAX_RETRIES", 5))
        self.backoff = _float_setting("HTTP_REQUEST_BACKOFF_FACTOR", 0.5)

    @property
    def pool(self) -> Any:
        """This process's urllib3 pool manager for the transport's TLS settings, shared by
        every transport with the same settings (so connections to a server are reused
        across stores and repositories) and built anew in a forked child."""
        return _pools.get(self._tls, lambda: _pool_manager(*self._tls))

    @staticmethod
    def _auth_header(parts: urllib.parse.SplitResult) -> dict[str, str]:
        token = environment.get("TRACKING_TOKEN")
        if token:
            return {"Authorization": f"Bearer {token}"}
        user = environment.get("TRACKING_USERNAME") or (urllib.parse.unquote(parts.username or "") or None)
        password = environment.get("TRACKING_PASSWORD") or (
            urllib.parse.unquote(parts.password or "") or None
        )
        if user and password:
            credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {credentials}"}
        return {}

    def headers(self) -> dict[str, str]:
        """Headers of every request: the plugins' (``tracklet_request_headers``), then auth."""
        from tracklet.plugins import request_headers

        return {**request_headers(self.base_url), **self._auth}

    def url(self, path: str, query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None) -> str:
        """``base_url + path``, with ``query`` encoded (lists repeat the name)."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        return url

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        body: bytes | Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """The streamed urllib3 response (2xx) of ``method url``; release it when done.

        ``body`` is bytes or a callable returning a fresh body (an iterator of chunks) for
        each try. A status that is not 2xx raises :class:`~tracklet.exceptions.RestException`
        with the server's error code; an unreachable server raises
        ``TEMPORARILY_UNAVAILABLE`` once the retries are spent.
        """
        import urllib3

        all_headers = {**self.headers(), **(headers or {})}
        attempt = 0
        while True:
            try:
                response = self.pool.request(
                    method,
                    url,
                    body=body() if callable(body) else body,
                    headers=all_headers,
                    preload_content=False,
                    decode_content=False,
                    timeout=self.timeout,
                    redirect=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                # NewConnectionError (refused, DNS) and connect timeouts happen before
                # anything is sent; anything else may have reached the server.
                unsent = isinstance(exc, urllib3.exceptions.ConnectTimeoutError)
                if attempt >= self.max_retries or not (unsent or idempotent):
                    raise TrackletException(
                        f"{method} {redacted(url)} failed after {attempt + 1} tries: {exc}",
                        TEMPORARILY_UNAVAILABLE,
                    ) from exc
                wait = self._backoff(attempt, None)
                logger.info("%s %s: %s; retrying in %.2fs", method, redacted(url), exc, wait)
            else:
                status = response.status
                if status < 300:
                    return response
                retry = status in NOT_DONE_STATUSES or (idempotent and status in MAYBE_DONE_STATUSES)
                if not retry or attempt >= self.max_retries:
                    raise error_from(method, url, response)
                wait = self._backoff(attempt, response.headers.get("retry-after"))
                finish(response)
                logger.info("%s %s: HTTP %s; retrying in %.2fs", method, redacted(url), status, wait)
            time.sleep(wait)
            attempt += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        wait = min(MAX_BACKOFF, self.backoff * 2**attempt) * random.uniform(0.5, 1.5)
        if retry_after:
            try:
                wait = max(wait, min(float(retry_after), 60.0))
            except ValueError:
                pass  # an HTTP date: the exponential back-off will do
        return float(wait)

    def call_json(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One JSON API call: ``payload`` goes in the query string of a GET, as the JSON
        body otherwise; the answer's JSON object is returned."""
        if method == "GET":
            return self.call(method, path, params=payload, idempotent=idempotent)
        return self.call(method, path, json=payload or {}, idempotent=idempotent)

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One JSON API call (:class:`tracklet.routes.HttpTransport`'s protocol): ``json``
        as the body, ``params`` in the query string (lists repeat the name); the answer's
        JSON object is returned. Errors raise with the server's error code."""
        url = self.url(path, params)
        body: bytes | None = None
        headers: dict[str, str] | None = None
        if json is not None:
            body = _encode(json).encode()
            headers = {"Content-Type": "application/json"}
        response = self.request(method, url, body, headers, idempotent)
        try:
            data = response.read()
        finally:
            finish(response)
        if not data.strip():
            return {}
        try:
            answer = decode_answer(data)
        except ValueError:
            raise TrackletException(
                f"{method} {redacted(url)}: the server's answer is not JSON: {data[:200]!r}", INTERNAL_ERROR
            ) from None
        return answer if isinstance(answer, dict) else {}


def finish(response: Any) -> None:
    """Hand a response's connection back to the pool with nothing of the answer left on it.

    urllib3's ``release_conn()`` alone returns the connection as it is: if part of the body
    was still on its way, the next request on that connection reads it as the start of its
    own answer (``BadStatusLine('{}HTTP/1.1 200 OK')``, ``ResponseNotReady``). The rest of
    the answer is read first, up to :data:`DRAIN_LIMIT` bytes; a longer (or unsized) rest
    closes the connection instead, so an abandoned download is not read to its end.
    """
    try:
        remaining = getattr(response, "length_remaining", None)
        if remaining is not None and remaining <= DRAIN_LIMIT:
            response.drain_conn()
        elif not response.isclosed():
            response.close()
    finally:
        response.release_conn()


def error_from(method: str, url: str, response: Any) -> TrackletException:
    """The exception for a non-2xx answer: MLflow's ``{"error_code", "message"}`` body as a
    :class:`RestException`, or a code chosen from the status when the body is not that.
    Either carries the answer's status as ``http_status`` (a 404 page from a server
    without a route is told apart from a 404 naming a missing run by both)."""
    error = _error_from(method, url, response)
    error.http_status = response.status  # type: ignore[attr-defined]
    return error


def _error_from(method: str, url: str, response: Any) -> TrackletException:
    try:
        text = response.read(64 * 1024)
    finally:
        finish(response)
    try:
        payload = json.loads(text)
        if isinstance(payload, dict) and "error_code" in payload:
            payload.setdefault("message", "")
            return RestException(payload)
    except ValueError:
        pass
    code = _STATUS_CODES.get(response.status, INTERNAL_ERROR)
    snippet = text[:300].decode("utf-8", "replace").strip()
    hint = ""
    if response.status == 401:
        hint = " Set TRACKLET_TRACKING_USERNAME and TRACKLET_TRACKING_PASSWORD, or TRACKLET_TRACKING_TOKEN."
    elif response.status == 404:
        hint = " Is the tracking URI a tracking server's address?"
    return TrackletException(
        f"{method} {redacted(url)} failed with HTTP {response.status}: {snippet or '(no body)'}.{hint}", code
    )


#: One transport per server URL, per process: what ``tracklet_http_transport`` hands out.
_shared: ProcessCache[str, HttpTransport] = ProcessCache()


def shared_transport(uri: str) -> HttpTransport:
    """This process's transport to the server at ``uri`` (built on first use, with the
    environment's settings then; a forked child builds its own)."""
    return _shared.get(uri, lambda: HttpTransport(uri))
