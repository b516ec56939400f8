"""An OpenTelemetry SDK application sends its spans to ``tracklet server``'s OTLP receiver
(``POST /v1/traces``, protobuf, the experiment chosen by the ``x-mlflow-experiment-id``
header, as MLflow's server does), and tracklet's ``search_traces`` / ``get_trace`` give back
the trace with every span, id, parent link, time, attribute, event and status.

The SDK runs in a subprocess (its global state must not leak into the test process): a
``TracerProvider`` with a ``BatchSpanProcessor`` and the OTLP/HTTP exporter, nested spans with
attributes of every OTLP value type, events and statuses, one trace per experiment. The
server keeps them on sqlite (spans in the tracking store) and in a folder (spans merged into
the trace's ``traces.json`` in the artifact store): one server per backend per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import tracklet
from tracklet_http.testing import ServerProcess, launch_tracklet_server

pytestmark = pytest.mark.interop

SCRIPT = r"""
import json, sys
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

url = sys.argv[1]
out = {}
for label, experiment_id in zip(("a", "b"), sys.argv[2:4]):
    provider = TracerProvider(resource=Resource.create({"service.name": f"svc-{label}"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id}, timeout=30
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("tracklet-interop")
    made = []
    root_attributes = {"str": "s", "int": 7, "float": 1.5, "bool": True, "strs": ["x", "y"], "ints": [1, 2]}
    with tracer.start_as_current_span(f"root-{label}", kind=SpanKind.SERVER, attributes=root_attributes) as root:
        root.add_event("started", attributes={"step": 1, "note": "go"})
        made.append(root)
        with tracer.start_as_current_span("child") as child:
            child.set_attribute("depth", 1)
            made.append(child)
            with tracer.start_as_current_span("grandchild", kind=SpanKind.CLIENT) as grandchild:
                grandchild.set_attribute("depth", 2)
                grandchild.add_event("tick")
                grandchild.set_status(Status(StatusCode.ERROR, "broken"))
                made.append(grandchild)
        with tracer.start_as_current_span("sibling", attributes={"flags": [True, False]}) as sibling:
            sibling.set_status(Status(StatusCode.OK))
            made.append(sibling)
    provider.shutdown()  # exports what the batch holds
    out[label] = {
        "trace_id": format(root.get_span_context().trace_id, "032x"),
        "spans": {
            s.name: {
                "span_id": format(s.get_span_context().span_id, "016x"),
                "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
                "start": s.start_time, "end": s.end_time,
                "attributes": dict(s.attributes),
                "events": [[e.name, dict(e.attributes or {}), e.timestamp] for e in s.events],
                "status": s.status.status_code.name, "description": s.status.description,
            }
            for s in made
        },
    }
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module", params=["sqlite", "folder"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp(f"otel-{request.param}")
    backend = None if request.param == "sqlite" else str(root / "mlruns")
    server = launch_tracklet_server(root, backend)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sent(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the SDK sent, per experiment label ("a", "b"), with the experiment ids."""
    client = tracklet.MlflowClient(tracking_uri=server.url)
    experiments = {label: client.create_experiment(f"otel-sdk-{label}") for label in ("a", "b")}
    workdir = tmp_path_factory.mktemp("otel-sdk")
    script = workdir / "otel_app.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLFLOW_", "TRACKLET_"))}
    proc = subprocess.run(
        [sys.executable, str(script), server.url, experiments["a"], experiments["b"]],
        capture_output=True, text=True, timeout=300, cwd=workdir, env=env,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert "Failed to export" not in proc.stderr, f"{proc.stderr[-4000:]}\n{server.output()[-4000:]}"
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    for label, experiment_id in experiments.items():
        result[label]["experiment_id"] = experiment_id
    return result


def _user_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if not k.startswith("mlflow.")}


@pytest.mark.parametrize("label", ["a", "b"])
def test_search_traces_gives_back_every_span_attribute_and_parent(
    server: ServerProcess, sent: dict[str, Any], label: str
) -> None:
    expected = sent[label]
    client = tracklet.MlflowClient(tracking_uri=server.url)
    traces = client.search_traces(locations=[expected["experiment_id"]])
    trace_id = f"tr-{expected['trace_id']}"
    assert [t.info.trace_id for t in traces] == [trace_id], server.output()[-3000:]
    trace = traces[0]
    assert trace.info.experiment_id == expected["experiment_id"]
    spans = {s.name: s for s in trace.data.spans}
    assert sorted(spans) == sorted(expected["spans"])
    for name, want in expected["spans"].items():
        span = spans[name]
        assert span.trace_id == trace_id
        assert (span.span_id, span.parent_id) == (want["span_id"], want["parent_id"]), name
        assert (span.start_time_ns, span.end_time_ns) == (want["start"], want["end"]), name
        assert _user_attributes(span.attributes) == want["attributes"], name
        assert [[e.name, e.attributes, e.timestamp] for e in span.events] == want["events"], name
        assert span.status.status_code.value == want["status"], name
        assert (span.status.description or None) == want["description"], name
    # the parent links make one tree: the root, its child and grandchild, and a sibling
    assert spans[f"root-{label}"].parent_id is None
    assert spans["grandchild"].parent_id == spans["child"].span_id
    assert spans["child"].parent_id == spans["sibling"].parent_id == spans[f"root-{label}"].span_id
    # get_trace reads the same trace
    got = client.get_trace(trace_id)
    assert [s.to_dict() for s in got.data.spans] == [s.to_dict() for s in trace.data.spans]


def test_traces_go_to_the_experiment_the_header_names(server: ServerProcess, sent: dict[str, Any]) -> None:
    client = tracklet.MlflowClient(tracking_uri=server.url)
    both = client.search_traces(locations=[sent["a"]["experiment_id"], sent["b"]["experiment_id"]])
    by_id = {t.info.trace_id: t.info.experiment_id for t in both}
    assert by_id == {f"tr-{sent[label]['trace_id']}": sent[label]["experiment_id"] for label in ("a", "b")}
