"""HttpTransport and RestStore against a scripted HTTP server on loopback: retries and
what is (not) retried, Retry-After, credentials, plugin headers, TLS, timeouts, and the
errors a user sees."""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tracklet import plugins
from tracklet.entities import Metric
from tracklet.plugins import hookimpl
from tracklet.testing import in_forked_child, raises_code
from tracklet_http.client import RestStore
from tracklet_http.testing import free_port
from tracklet_http.transport import HttpTransport

RUN = {"info": {"run_id": "a" * 32, "experiment_id": "0", "status": "RUNNING"}, "data": {}}

# An answer: (status, JSON body or raw bytes, extra headers), or a callable doing it itself.
Answer = tuple[int, Any, dict[str, str]]


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 that answers from a script (one answer per request,
    the last one repeated) and records every request it got."""

    def __init__(
        self,
        script: list[Answer],
        tls: ssl.SSLContext | None = None,
        delay: float = 0.0,
        keep_alive: bool = False,
    ) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps the connection open between requests, as real servers do
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "client_port": self.client_address[1],
                    }
                )
                if delay:
                    time.sleep(delay)
                status, payload, headers = owner.script[0] if len(owner.script) == 1 else owner.script.pop(0)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_BACKOFF_FACTOR", "0.01")
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "3")
    for name in ("TRACKING_TOKEN", "TRACKING_USERNAME", "TRACKING_PASSWORD", "TRACKING_INSECURE_TLS"):
        monkeypatch.delenv(f"TRACKLET_{name}", raising=False)
        monkeypatch.delenv(f"MLFLOW_{name}", raising=False)


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


# -- retries ---------------------------------------------------------------------------------------


def test_503_is_retried_until_the_server_answers() -> None:
    script: list[Answer] = [(503, _error("TEMPORARILY_UNAVAILABLE", "busy"), {})] * 2 + [
        (200, {"run": RUN}, {})
    ]
    with ScriptedServer(script) as server:
        run = RestStore(server.url).get_run("a" * 32)
    assert run.info.run_id == "a" * 32
    assert len(server.requests) == 3


def test_a_500_is_retried_for_an_idempotent_call() -> None:
    script: list[Answer] = [(500, _error("INTERNAL_ERROR", "hiccup"), {}), (200, {}, {})]
    with ScriptedServer(script) as server:
        RestStore(server.url).log_batch("a" * 32, [Metric("m", 1.0, 1, 0)], [], [])
    assert len(server.requests) == 2
    assert json.loads(server.requests[0]["body"]) == json.loads(server.requests[1]["body"])


def test_a_500_is_not_retried_for_a_call_that_may_have_happened() -> None:
    # create_run is not idempotent: repeating it could make two runs.
    script: list[Answer] = [
        (500, _error("INTERNAL_ERROR", "the database went away"), {}),
        (200, {"run": RUN}, {}),
    ]
    with ScriptedServer(script) as server:
        with raises_code("INTERNAL_ERROR") as error:
            RestStore(server.url).create_run("0", "me", 1, [], "r")
    assert len(server.requests) == 1
    assert "the database went away" in error.value.message


def test_429_is_retried_even_when_not_idempotent_and_retry_after_is_honoured() -> None:
    script: list[Answer] = [
        (429, _error("REQUEST_LIMIT_EXCEEDED", "slow down"), {"Retry-After": "0.3"}),
        (200, {"experiment_id": "7"}, {}),
    ]
    with ScriptedServer(script) as server:
        started = time.monotonic()
        assert RestStore(server.url).create_experiment("e") == "7"
        waited = time.monotonic() - started
    assert len(server.requests) == 2
    assert waited >= 0.25  # not a speed check: Retry-After set a lower bound on the wait


def test_spent_retries_raise_the_servers_error() -> None:
    with ScriptedServer([(503, _error("TEMPORARILY_UNAVAILABLE", "down for maintenance"), {})]) as server:
        with raises_code("TEMPORARILY_UNAVAILABLE") as error:
            RestStore(server.url).get_experiment("1")
    assert len(server.requests) == 4  # the first try and 3 retries
    assert "down for maintenance" in error.value.message


def test_a_server_that_is_not_up_yet_is_waited_for_even_by_a_create(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_BACKOFF_FACTOR", "0.2")
    port = free_port()
    store = RestStore(f"http://127.0.0.1:{port}")
    ready = threading.Event()

    class Late(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps({"experiment_id": "3"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def start_late() -> None:
        time.sleep(0.3)
        httpd = ThreadingHTTPServer(("127.0.0.1", port), Late)
        ready.set()
        httpd.handle_request()
        httpd.server_close()

    thread = threading.Thread(target=start_late)
    thread.start()
    try:
        # The first tries are refused (nothing was sent), so even a create is retried.
        assert store.create_experiment("late") == "3"
    finally:
        thread.join(10)
    assert ready.is_set()


def test_a_server_that_never_comes_says_so() -> None:
    store = RestStore(f"http://user:s3cret@127.0.0.1:{free_port()}")
    with raises_code("TEMPORARILY_UNAVAILABLE") as error:
        store.search_experiments()
    assert "failed after 4 tries" in error.value.message
    assert "s3cret" not in error.value.message


def test_a_slow_answer_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_TIMEOUT", "0.2")
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "0")
    with ScriptedServer([(200, {}, {})], delay=1.0) as server:
        with raises_code("TEMPORARILY_UNAVAILABLE") as error:
            RestStore(server.url).get_experiment("1")
    assert "timed out" in error.value.message.lower()


# -- errors ------------------------------------------------------------------------------------------


def test_the_servers_error_code_and_message_come_through() -> None:
    with ScriptedServer([(404, _error("RESOURCE_DOES_NOT_EXIST", "No experiment 42"), {})]) as server:
        store = RestStore(server.url)
        with raises_code("RESOURCE_DOES_NOT_EXIST") as error:
            store.get_experiment("42")
        assert "No experiment 42" in error.value.message
        assert store.get_experiment_by_name("nope") is None


def test_a_page_that_is_not_the_api_gets_a_hint() -> None:
    with ScriptedServer([(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})]) as server:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as error:
            RestStore(server.url).get_experiment("1")
    assert "HTTP 404" in error.value.message
    assert "tracking server" in error.value.message


def test_401_says_which_variables_to_set() -> None:
    with ScriptedServer([(401, b"Unauthorized", {})]) as server:
        with raises_code("UNAUTHENTICATED") as error:
            RestStore(server.url).get_experiment("1")
    assert "TRACKLET_TRACKING_USERNAME" in error.value.message


# -- what is sent ------------------------------------------------------------------------------------


def _authorization(server: ScriptedServer) -> str:
    return str(server.requests[-1]["headers"].get("Authorization", ""))


def test_basic_auth_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "lovelace")  # the MLflow name is a fallback
    with ScriptedServer([(200, {"experiment": {"experiment_id": "1"}}, {})]) as server:
        RestStore(server.url).get_experiment("1")
    assert _authorization(server) == "Basic " + base64.b64encode(b"ada:lovelace").decode()


def test_basic_auth_from_the_uri_is_not_sent_in_the_url() -> None:
    with ScriptedServer([(200, {"experiment": {"experiment_id": "1"}}, {})]) as server:
        host = server.url.split("://")[1]
        RestStore(f"http://ada:p%40ss@{host}").get_experiment("1")
    assert _authorization(server) == "Basic " + base64.b64encode(b"ada:p@ss").decode()
    assert "ada" not in server.requests[-1]["path"]


def test_a_token_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_TRACKING_TOKEN", "t0k3n")
    monkeypatch.setenv("TRACKLET_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("TRACKLET_TRACKING_PASSWORD", "x")
    with ScriptedServer([(200, {"experiment": {"experiment_id": "1"}}, {})]) as server:
        RestStore(server.url).get_experiment("1")
    assert _authorization(server) == "Bearer t0k3n"


def test_plugins_add_headers_through_the_hook() -> None:
    seen: list[str] = []

    class HeaderPlugin:
        @hookimpl
        def tracklet_request_headers(self, uri: str) -> dict[str, str]:
            seen.append(uri)
            return {"X-Team": "vision"}

    plugin = HeaderPlugin()
    plugins.register(plugin, "test-header-plugin")
    try:
        with ScriptedServer([(200, {"experiment": {"experiment_id": "1"}}, {})]) as server:
            RestStore(server.url + "/prefix/").get_experiment("1")
    finally:
        plugins.unregister(plugin)
    assert server.requests[-1]["headers"]["X-Team"] == "vision"
    assert seen == [server.url + "/prefix"]
    assert server.requests[-1]["path"].startswith("/prefix/api/2.0/mlflow/experiments/get?")


def test_get_fields_go_in_the_query_string_and_post_fields_in_a_json_body() -> None:
    script: list[Answer] = [
        (200, {"metrics": [{"key": "m", "value": "NaN", "timestamp": 5, "step": 2}]}, {}),
        (200, {}, {}),
    ]
    with ScriptedServer(script) as server:
        store = RestStore(server.url)
        (metric,) = store.get_metric_history("a" * 32, "m")
        store.log_batch("a" * 32, [Metric("m", float("inf"), 5, 2)], [], [])
    assert metric.step == 2 and metric.value != metric.value  # NaN came back as NaN
    get, post = server.requests
    assert get["method"] == "GET" and "metric_key=m" in get["path"] and get["body"] == b""
    assert post["headers"]["Content-Type"] == "application/json"
    assert json.loads(post["body"])["metrics"][0]["value"] == "Infinity"


# -- TLS ------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server() -> Iterator[Callable[[], ScriptedServer]]:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    servers: list[ScriptedServer] = []

    def start() -> ScriptedServer:
        server = ScriptedServer([(200, {"experiment": {"experiment_id": "1"}}, {})], tls=context).__enter__()
        server.ca_pem = ca.cert_pem  # type: ignore[attr-defined]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def test_tls_verified_against_a_given_ca(
    tls_server: Callable[[], ScriptedServer], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = tls_server()
    bundle = tmp_path / "ca.pem"
    server.ca_pem.write_to_path(str(bundle))  # type: ignore[attr-defined]
    monkeypatch.setenv("TRACKLET_TRACKING_SERVER_CERT_PATH", str(bundle))
    assert RestStore(server.url).get_experiment("1").experiment_id == "1"


def test_tls_with_an_unknown_ca_fails_unless_told_to_skip_checks(
    tls_server: Callable[[], ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = tls_server()
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "0")
    with raises_code("TEMPORARILY_UNAVAILABLE") as error:
        RestStore(server.url).get_experiment("1")
    assert "certificate" in error.value.message.lower()
    monkeypatch.setenv("TRACKLET_TRACKING_INSECURE_TLS", "true")
    assert RestStore(server.url).get_experiment("1").experiment_id == "1"


def test_a_bad_url_is_refused_up_front() -> None:
    with raises_code("INVALID_PARAMETER_VALUE"):
        HttpTransport("ftp://example.com")


# -- fork safety ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone() -> None:
    # Sharing the parent's pooled keep-alive socket, parent and child read each other's
    # answers (seen: a child got the experiment its parent asked for).
    experiment = {"experiment": {"experiment_id": "1", "name": "e", "lifecycle_stage": "active"}}
    with ScriptedServer([(200, experiment, {})], keep_alive=True) as server:
        store = RestStore(server.url)
        store.get_experiment("1")
        store.get_experiment("1")
        assert in_forked_child(lambda: store.get_experiment("1").name) == "e"
        store.get_experiment("1")
    parent, parent_reused, child, parent_again = (r["client_port"] for r in server.requests)
    assert parent_reused == parent, "the server did not keep the connection alive"
    assert child != parent, "the forked child sent its request on its parent's pooled connection"
    assert parent_again == parent
