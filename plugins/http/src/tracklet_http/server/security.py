"""Request checks that come before any handler: Host, Origin and Content-Type.

* **Host** (DNS rebinding, CVE-2025-14279): a request whose ``Host`` header is not an
  allowed host is refused with 403. Allowed by default: loopback names and addresses
  and the private address ranges, with any port; ``--allowed-hosts`` adds to them
  (``*`` allows every host). ``/health`` and ``/version`` are exempt so load-balancer
  probes by IP work.
* **Origin** (drive-by writes from a web page, CVE-2023-43472): a state-changing request
  (POST, PUT, PATCH, DELETE) from a browser page on another origin is refused with 403,
  unless the origin is loopback or listed with ``--cors-allowed-origins``.
* **Content-Type**: a POST or PUT to the JSON API must say ``application/json``; a
  ``text/plain`` form post, which browsers send without a CORS preflight, is refused
  with 400 ``INVALID_PARAMETER_VALUE`` (MLflow's answer).

Every answer also carries ``X-Content-Type-Options: nosniff`` and
``X-Frame-Options: SAMEORIGIN``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["SecurityMiddleware", "host_allowed", "origin_allowed"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_EXEMPT_PATHS = frozenset({"/health", "/version"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_API_PREFIXES = (
    "/api/2.0/mlflow/",
    "/ajax-api/2.0/mlflow/",
    "/api/3.0/mlflow/",
    "/ajax-api/3.0/mlflow/",
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: Most Host values whose answer one middleware keeps.
_MAX_CACHED_HOSTS = 256
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"SAMEORIGIN")]


def _split_host(host: str) -> str:
    """``example.com:5000`` -> ``example.com``; ``[::1]:5000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _is_local_address(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


def host_allowed(host: str | None, extra: Iterable[str] = ()) -> bool:
    """Whether a ``Host`` header names this server: loopback, a private address, or a
    pattern from ``extra`` (``fnmatch`` style, matched with and without the port)."""
    if not host:
        return False
    extra = list(extra)
    if "*" in extra:
        return True
    name = _split_host(host)
    if _is_local_address(name):
        return True
    full = host.strip().lower()
    return any(fnmatch.fnmatch(full, p.lower()) or fnmatch.fnmatch(name, p.lower()) for p in extra)


def origin_allowed(origin: str, extra: Iterable[str] = ()) -> bool:
    """Whether a browser page on ``origin`` may change state: loopback origins, and
    those listed (exact, or ``fnmatch`` patterns; ``*`` allows all)."""
    extra = list(extra)
    if "*" in extra:
        return True
    try:
        hostname = urlsplit(origin).hostname or ""
    except ValueError:
        return False
    if hostname in _LOOPBACK_NAMES or hostname in ("127.0.0.1", "::1"):
        return True
    return any(fnmatch.fnmatch(origin, p) if "*" in p else origin == p for p in extra)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class SecurityMiddleware:
    """ASGI middleware applying the module's three checks, then adding the headers."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allowed_origins = list(allowed_origins)
        #: host_allowed's answers by Host header (a client sends the same one every time)
        self._hosts: dict[str | None, bool] = {}

    def _host_allowed(self, host: str | None) -> bool:
        allowed = self._hosts.get(host)
        if allowed is None:
            allowed = host_allowed(host, self.allowed_hosts)
            if len(self._hosts) >= _MAX_CACHED_HOSTS:  # made-up Host values: start afresh
                self._hosts.clear()
            self._hosts[host] = allowed
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check(scope)
        if refusal is not None:
            status, code, message = refusal
            await _send_error(send, status, code, message)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope) -> tuple[int, str, str] | None:
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        if path not in _EXEMPT_PATHS and not self._host_allowed(_header(scope, b"host")):
            return (
                403,
                "PERMISSION_DENIED",
                "Invalid Host header (possible DNS rebinding). Add the host name the server is "
                "reached by to --allowed-hosts.",
            )
        if method in _STATE_CHANGING:
            origin = _header(scope, b"origin")
            if origin and not origin_allowed(origin, self.allowed_origins):
                return (
                    403,
                    "PERMISSION_DENIED",
                    "Cross-origin request blocked: this origin may not change state on the server. "
                    "Allow it with --cors-allowed-origins.",
                )
        if method in ("POST", "PUT") and path.startswith(_JSON_API_PREFIXES):
            content_type = _header(scope, b"content-type")
            if content_type is None:
                return (400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")
            if content_type.split(";", 1)[0].strip().lower() != "application/json":
                return (
                    400,
                    "INVALID_PARAMETER_VALUE",
                    "Bad Request. Content-Type must be one of ['application/json'].",
                )
        return None


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
