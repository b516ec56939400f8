"""The server's Host, Origin and Content-Type rules (DNS rebinding and drive-by CSRF)."""

from __future__ import annotations

from typing import Any

import pytest

from tracklet_http.server.security import host_allowed, origin_allowed  # noqa: E402


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:80",
        "10.1.2.3:5000",
        "192.168.0.7",
        "172.20.0.1:5000",
    ],
)
def test_local_and_private_hosts_are_allowed_by_default(host: str) -> None:
    assert host_allowed(host)


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:5000", "8.8.8.8:5000", "", None])
def test_other_hosts_are_refused_by_default(host: str | None) -> None:
    assert not host_allowed(host)


def test_configured_hosts_and_wildcards() -> None:
    assert host_allowed("tracking.corp.example:443", ["tracking.corp.example"])
    assert host_allowed("a.corp.example", ["*.corp.example"])
    assert not host_allowed("corp.example.evil", ["*.corp.example"])
    assert host_allowed("anything.at.all", ["*"])


def test_origins() -> None:
    assert origin_allowed("http://localhost:3000")
    assert origin_allowed("http://127.0.0.1:5000")
    assert not origin_allowed("https://evil.example")
    assert origin_allowed("https://ui.corp.example", ["https://ui.corp.example"])
    assert origin_allowed("https://x.corp.example", ["https://*.corp.example"])
    assert not origin_allowed("https://x.corp.example.evil", ["https://*.corp.example"])


def test_the_command_line_lists_reach_a_running_server(start_tracklet_server: Any) -> None:
    from tracklet_http.testing import raw_request

    server = start_tracklet_server(
        None,
        None,
        "--allowed-hosts",
        "tracking.example.com",
        "--cors-allowed-origins",
        "https://ui.example.com",
    )
    path = "/api/2.0/mlflow/experiments/search?max_results=1"

    def get(host: str) -> int:
        return raw_request(server.url, "GET", path, headers={"Host": host}).status

    assert get("tracking.example.com:5000") == 200
    assert get("evil.example") == 403
    body = b'{"name": "from-the-ui"}'
    create = "/api/2.0/mlflow/experiments/create"
    headers = {"Content-Type": "application/json", "Origin": "https://ui.example.com"}
    assert raw_request(server.url, "POST", create, body, headers).status == 200
    headers["Origin"] = "https://evil.example"
    assert raw_request(server.url, "POST", create, body.replace(b"ui", b"evil"), headers).status == 403
