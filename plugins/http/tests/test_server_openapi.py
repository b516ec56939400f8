"""``/openapi.json``: generated from the protocol tables, and true to the server —
schemathesis (from PyPI) fuzzes a live ``tracklet server`` with it and finds no 5xx, no
undocumented status and no answer that breaks the documented schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tracklet_http.protocol import API_PREFIX, ENDPOINTS  # noqa: E402
from tracklet_http.server.openapi import build_openapi  # noqa: E402
from tracklet_http.server.settings import ServerSettings  # noqa: E402
from tracklet_http.testing import ServerProcess  # noqa: E402

SETTINGS = ServerSettings(backend_store_uri="sqlite:///unused.db")


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_every_endpoint_and_method_is_documented() -> None:
    doc = build_openapi(SETTINGS)
    assert doc["openapi"].startswith("3.")
    operation_ids = []
    for endpoint in ENDPOINTS:
        item = doc["paths"][API_PREFIX + endpoint.path]
        for method in endpoint.methods:
            op = item[method.lower()]
            operation_ids.append(op["operationId"])
            for status in ("400", "404", "500"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            assert set(op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]) == set(
                endpoint.response
            )
            if method == "GET":
                assert {p["name"] for p in op["parameters"]} == {f.name for f in endpoint.request}
                assert {p["name"] for p in op["parameters"] if p["required"]} == {
                    f.name for f in endpoint.request if f.required
                }
                assert all(p["in"] == "query" for p in op["parameters"])
            else:
                body = op["requestBody"]["content"]["application/json"]["schema"]
                assert set(body["properties"]) == {f.name for f in endpoint.request}
                assert set(body.get("required", [])) == {f.name for f in endpoint.request if f.required}
    assert len(operation_ids) == len(set(operation_ids))
    assert "/health" in doc["paths"] and "/metrics" in doc["paths"]


def test_repeated_fields_are_arrays_and_integers_are_bounded() -> None:
    doc = build_openapi(SETTINGS)
    bulk = doc["paths"][API_PREFIX + "/metrics/get-history-bulk-interval"]["get"]
    run_ids = next(p for p in bulk["parameters"] if p["name"] == "run_ids")
    assert run_ids["schema"]["type"] == "array" and run_ids["explode"] is True
    batch = doc["paths"][API_PREFIX + "/runs/log-batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["metrics"]["items"] == {"$ref": "#/components/schemas/Metric"}
    search = doc["paths"][API_PREFIX + "/runs/search"]["post"]["requestBody"]["content"]["application/json"]
    integer = search["schema"]["properties"]["max_results"]["oneOf"][0]
    assert (integer["minimum"], integer["maximum"]) == (-(2**31), 2**31 - 1)


def test_every_reference_resolves() -> None:
    doc = build_openapi(SETTINGS)
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_auth_adds_basic_security_and_401_403() -> None:
    doc = build_openapi(ServerSettings(backend_store_uri="sqlite:///unused.db", auth=True))
    assert doc["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}
    op = doc["paths"][API_PREFIX + "/runs/get"]["get"]
    assert {"401", "403"} <= set(op["responses"])


def test_served_document_is_the_generated_one(tracklet_server: ServerProcess) -> None:
    with urllib.request.urlopen(tracklet_server.url + "/openapi.json", timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        served = json.load(resp)
    assert set(served["paths"]) >= {API_PREFIX + e.path for e in ENDPOINTS}
    assert served["components"]["schemas"]["Error"]["required"] == ["error_code", "message"]


def _schemathesis(url: str, cwd: Path, *extra: str) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail("schemathesis is not installed (requirements-dev.txt lists it)")
        pytest.skip("schemathesis is not installed")
    result = subprocess.run(
        [
            str(st),
            "run",
            url + "/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261124",
            "--generation-database",
            "none",
            "--no-color",
            "--request-timeout",
            "30",
            "--max-failures",
            "20",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    tail = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert "passed" in result.stdout


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    tracklet_server: ServerProcess, tmp_path: Path
) -> None:
    """Bounded run (25 examples per operation, fixed seed, all phases incl. stateful):
    a couple of thousand requests, well under a minute."""
    _schemathesis(tracklet_server.url, tmp_path)
    assert "Traceback" not in tracklet_server.output()


@pytest.mark.slow
def test_schemathesis_with_auth_as_admin(start_tracklet_server: Any, tmp_path: Path) -> None:
    """The document with --auth (the users and permissions API merged in), fuzzed as the admin."""
    password = "schemathesis-admin-pw"
    server = start_tracklet_server(None, None, "--auth", env={"TRACKLET_AUTH_ADMIN_PASSWORD": password})
    _schemathesis(server.url, tmp_path, "--auth", f"admin:{password}")
    assert "Traceback" not in server.output()
