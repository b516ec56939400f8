"""Limits on a request's head that uvicorn lacks: how long a client may take to send it,
and how big it may be.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``), but not a client
that opens a connection and then sends its request line and headers a byte at a time
(slowloris): every such connection is held for as long as the client likes. Its h11
parser caps the head's size, its httptools parser does not. :class:`GuardedH11Protocol`
and :class:`GuardedHttpToolsProtocol` are uvicorn's two HTTP/1.1 protocols with both
limits added, for ``tracklet server`` to run (``uvicorn.run(http="module:Class")``):

- a request's head (request line and headers) must be complete within
  ``header_timeout`` seconds of the connection opening or of its first byte arriving
  (on a kept-alive connection); otherwise the server answers ``408`` (if any of it
  came) and closes the connection;
- a head larger than ``max_header_bytes`` is answered ``431`` and the connection
  closed, before the parser buffers more of it.

The limits come from the server's settings (``TRACKLET_SERVER_SETTINGS``, which
``tracklet server`` sets for every worker); outside ``tracklet server`` the defaults
apply.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from tracklet_http.server.settings import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_BYTES, ServerSettings

__all__ = ["GuardedH11Protocol", "GuardedHttpToolsProtocol", "head_limits"]

logger = logging.getLogger("tracklet_http.server")

_ENDS = (b"\r\n\r\n", b"\n\n")  # h11 and llhttp both take bare LFs


@functools.lru_cache(maxsize=1)
def head_limits() -> tuple[float, int]:
    """``(header_timeout, max_header_bytes)`` of this process's server settings."""
    try:
        settings = ServerSettings.from_env()
    except RuntimeError:  # not started by `tracklet server`
        return DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_BYTES
    return settings.header_timeout, settings.max_header_bytes


def _answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error_code": "BAD_REQUEST", "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _head_end(window: bytes) -> int:
    """Where the head ends in ``window`` (the index just past its blank line), or -1."""
    found = [(at + len(end)) for end in _ENDS if (at := window.find(end)) >= 0]
    return min(found) if found else -1


class _HeadGuard:
    """The limits, over one of uvicorn's protocol classes (listed after this one)."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_tail = b""
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            if self._head_timer is None:
                self._arm()  # the first byte of a kept-alive connection's next request
            if self._head_too_big(data):
                return
        super().data_received(data)  # type: ignore[misc]
        if self._head_timer is not None and not self._awaiting_head():
            self._disarm()  # the head is in: the app has the request

    def _awaiting_head(self) -> bool:
        """Whether the bytes that arrive now belong to a request's line and headers (not to
        a body, whose size and pace the app bounds)."""
        raise NotImplementedError

    # -- the two limits ----------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_tail = b""
        self._head_timer = self.loop.call_later(head_limits()[0], self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_big(self, data: bytes) -> bool:
        limit = head_limits()[1]
        window = self._head_tail + data
        end = _head_end(window)
        if end >= 0:  # the head ends here: count only up to its blank line
            size = self._head_bytes + end - len(self._head_tail)
            self._head_bytes, self._head_tail = 0, b""
        else:
            size = self._head_bytes = self._head_bytes + len(data)
            self._head_tail = window[-3:]
        if size <= limit:
            return False
        self._refuse(
            431,
            "Request Header Fields Too Large",
            f"The request line and headers take more than {limit} bytes "
            "(tracklet server --max-header-size); send long values in a POST body.",
        )
        return True

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        timeout = head_limits()[0]
        logger.debug("Closing a connection whose request headers took more than %ss.", timeout)
        if self._head_bytes or self._head_tail:
            self._refuse(
                408,
                "Request Timeout",
                f"The request line and headers did not arrive within {timeout:g} seconds "
                "(tracklet server --header-timeout).",
            )
        else:
            self.transport.close()  # nothing came: a pre-opened or idle connection

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._disarm()
        if self.cycle is None or self.cycle.response_complete:  # no answer is being written
            self.transport.write(_answer(status, reason, message))
        self.transport.close()


class GuardedH11Protocol(_HeadGuard, H11Protocol):
    """uvicorn's h11 protocol with the head limits."""

    conn: h11.Connection

    def _awaiting_head(self) -> bool:
        # h11 says IDLE until a request's head is parsed, and again once both sides are done
        return self.conn.their_state is h11.IDLE


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional
    GuardedHttpToolsProtocol: type | None = None
else:

    class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with the head limits (its parser's callbacks say
        where a head starts and ends)."""

        _between_messages = True
        _in_head = False

        def _awaiting_head(self) -> bool:
            return self._between_messages or self._in_head

        def on_message_begin(self) -> None:
            self._between_messages, self._in_head = False, True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._between_messages = True
            super().on_message_complete()
