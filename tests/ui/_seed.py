"""The data the browser tests look at, logged into a running tracking server through
tracklet's own client (so it takes the same path a user's runs take).

Run as ``python tests/ui/_seed.py <server url>``: seeds the server and prints one JSON
object, the ids and names created (the ``seeded`` fixture). The conftest runs it in a
subprocess so that the client's process-wide state never leaks into the test process.

What is there (every page has something to show):

* experiments: ``ui-main`` (a long, multi-paragraph description), ``ui-second``, one named
  with an XSS payload, and ``ui-deleted`` (deleted);
* in ``ui-main``: runs with params, metric histories (``loss``, ``accuracy``) and tags; a
  parent with two nested children; ``long-history`` with a 100,000-point ``series`` metric;
  ``artifacts`` with a text, JSON, YAML, PNG, CSV, ``log_table`` JSON and HTML artifact and
  nested folders; datasets on ``baseline``; one deleted run;
* in ``ui-second``: two runs, so that several-experiment views have two sources;
* a registered model ``ui-model`` with three versions, alias ``champion``, stages
  Production/Staging, and a model whose name and description are XSS payloads;
* traces in ``ui-main`` with a span tree (one of them with hostile inputs and outputs);
* HOSTILE strings (:data:`HOSTILE`) as a run name, tag value, param value, experiment
  name, artifact name and content, model name and description, trace inputs. Each payload
  sets ``window.__xss`` (and calls ``alert``) if it ever runs, so a test asserts the flag
  stays unset and no dialog opens.
"""

from __future__ import annotations

import io
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

# Every payload flips the same flag when it runs: the tests assert window.__xss stays unset.
IMG = '<img src=x onerror="window.__xss=1;alert(1)">'
SCRIPT = "<script>window.__xss=1;alert(1)</script>"
JS_LINK = "javascript:window.__xss=1;alert(1)"
SVG = '<svg onload="window.__xss=1;alert(1)">'
HOSTILE = {"img": IMG, "script": SCRIPT, "js_link": JS_LINK, "svg": SVG}

LONG_DESCRIPTION = (
    "# The main experiment of the UI tests\n\n"
    + "A long description, so that the page has to wrap or fold it. " * 40
    + "\n\nSecond paragraph: **markdown** is shown as text or rendered safely, never as raw HTML "
    + IMG
)

HISTORY_POINTS = 100_000
BATCH = 1000  # metrics per log_batch: MLflow's limit


def _png_bytes() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48))
    for x in range(64):
        for y in range(48):
            img.putpixel((x, y), (x * 4, y * 5, 128))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _metric_history(client: Any, run_id: str, key: str, values: list[float], t0: int) -> None:
    from tracklet.entities import Metric

    for start in range(0, len(values), BATCH):
        chunk = [
            Metric(key, v, t0 + (start + i) * 1000, start + i)
            for i, v in enumerate(values[start : start + BATCH])
        ]
        client.log_batch(run_id, metrics=chunk)


def _run(
    client: Any,
    experiment_id: str,
    name: str,
    params: dict[str, str],
    tags: dict[str, str] | None = None,
    parent: str | None = None,
    t0: int = 0,
) -> str:
    from tracklet.entities import Param, RunTag

    all_tags = dict(tags or {})
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, start_time=t0, run_name=name, tags=all_tags)
    run_id: str = run.info.run_id
    client.log_batch(
        run_id,
        params=[Param(k, v) for k, v in params.items()],
        tags=[RunTag("mlflow.source.name", "train.py"), RunTag("mlflow.user", "ui-tester")],
    )
    return run_id


def _training_run(client: Any, experiment_id: str, name: str, lr: float, t0: int, **kw: Any) -> str:
    run_id = _run(
        client,
        experiment_id,
        name,
        {"lr": str(lr), "batch_size": "32", "optimizer": "adam", "epochs": "50"},
        tags={"team": "vision", "stage": "dev"},
        t0=t0,
        **kw,
    )
    steps = 50
    loss = [math.exp(-lr * 40 * s / steps) + 0.01 * (s % 3) for s in range(steps)]
    acc = [1 - v / 2 for v in loss]
    _metric_history(client, run_id, "loss", loss, t0)
    _metric_history(client, run_id, "accuracy", acc, t0)
    client.set_terminated(run_id, "FINISHED", end_time=t0 + steps * 1000)
    return run_id


def _artifacts(client: Any, run_id: str) -> dict[str, str]:
    client.log_text(run_id, "hello from the UI tests\nsecond line\n", "notes/readme.txt")
    client.log_dict(run_id, {"alpha": 1, "nested": {"beta": [1, 2, 3]}}, "config/params.json")
    client.log_text(run_id, "alpha: 1\nnested:\n  beta: [1, 2, 3]\n", "config/params.yaml")
    client.log_text(run_id, "epoch,loss,accuracy\n1,0.9,0.40\n2,0.5,0.71\n3,0.3,0.88\n", "data/metrics.csv")
    client.log_text(run_id, "deep inside\n", "data/level1/level2/deep.txt")
    client.log_table(
        run_id, {"question": ["2+2?", "capital of France?"], "answer": ["4", "Paris"]}, "eval/table.json"
    )
    client.log_text(
        run_id,
        "<!doctype html><html><body><h1 id='hello'>Report</h1>"
        "<script>window.parent.__xss=1;window.top.__xss=1;</script></body></html>",
        "report.html",
    )
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "image.png"
        png.write_bytes(_png_bytes())
        client.log_artifact(run_id, str(png), "images")
        hostile_name = f"{IMG}.txt"
        hostile = Path(tmp) / hostile_name
        hostile.write_text(f"{SCRIPT}\n{IMG}\n")
        client.log_artifact(run_id, str(hostile))
    return {
        "text": "notes/readme.txt",
        "json": "config/params.json",
        "yaml": "config/params.yaml",
        "csv": "data/metrics.csv",
        "deep": "data/level1/level2/deep.txt",
        "table": "eval/table.json",
        "html": "report.html",
        "png": "images/image.png",
        "hostile": hostile_name,
    }


def _datasets(client: Any, run_id: str) -> None:
    from tracklet.entities import Dataset, DatasetInput, InputTag

    schema = json.dumps({"mlflow_colspec": [{"type": "double", "name": "x"}, {"type": "long", "name": "y"}]})
    client.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset("train-set", "a1b2c3d4", "local", json.dumps({"uri": "/data/train.csv"}), schema),
                [InputTag("mlflow.data.context", "training")],
            ),
            DatasetInput(
                Dataset("eval-set", "e5f6a7b8", "local", json.dumps({"uri": "/data/eval.csv"}), schema),
                [InputTag("mlflow.data.context", "evaluation")],
            ),
        ],
    )


def _registry(client: Any, run_id: str) -> dict[str, Any]:
    client.create_registered_model("ui-model", description="The model of the UI tests", tags={"owner": "ui"})
    versions = []
    for i in range(3):
        mv = client.create_model_version(
            "ui-model", f"runs:/{run_id}/model", run_id=run_id, description=f"version {i + 1}"
        )
        versions.append(str(mv.version))
    client.transition_model_version_stage("ui-model", versions[0], "Production")
    client.transition_model_version_stage("ui-model", versions[1], "Staging")
    client.set_registered_model_alias("ui-model", "champion", versions[0])
    client.set_model_version_tag("ui-model", versions[0], "validated", "true")
    hostile_model = f"evil {IMG}"
    client.create_registered_model(hostile_model, description=f"{SCRIPT} {IMG}", tags={"note": IMG})
    client.create_model_version(hostile_model, f"runs:/{run_id}/model", run_id=run_id, description=IMG)
    return {"name": "ui-model", "versions": versions, "alias": "champion", "hostile": hostile_model}


def _traces(client: Any, experiment_id: str, run_id: str) -> list[str]:
    import tracklet

    ids = []
    for i, inputs in enumerate(
        [{"question": "What is tracklet?"}, {"question": IMG, "html": SCRIPT}, {"n": 3}]
    ):
        root = client.start_trace(
            f"predict-{i}",
            span_type="CHAIN",
            inputs=inputs,
            experiment_id=experiment_id,
            run_id=run_id,
            tags={"note": IMG} if i == 1 else {"note": "plain"},
        )
        trace_id = root.trace_id
        child = client.start_span("retrieve", trace_id, root.span_id, span_type="RETRIEVER", inputs=inputs)
        leaf = client.start_span("embed", trace_id, child.span_id, span_type="EMBEDDING", inputs={"k": i})
        time.sleep(0.002)
        client.end_span(trace_id, leaf.span_id, outputs={"vector": [0.1, 0.2]})
        client.end_span(trace_id, child.span_id, outputs={"documents": ["doc-a", IMG if i == 1 else "doc-b"]})
        llm = client.start_span("generate", trace_id, root.span_id, span_type="LLM", inputs={"prompt": "p"})
        client.end_span(
            trace_id, llm.span_id, outputs={"text": "an answer"}, status="ERROR" if i == 2 else "OK"
        )
        client.end_trace(trace_id, outputs={"answer": IMG if i == 1 else "fine"})
        ids.append(trace_id)
    tracklet.flush_trace_async_logging()
    return ids


def seed(url: str) -> dict[str, Any]:
    """Log the UI tests' data into the tracking server at ``url``; return what was made."""
    import tracklet

    # Traces are exported to the process's tracking URI, not the client's.
    tracklet.set_tracking_uri(url)
    tracklet.set_registry_uri(url)
    client = tracklet.MlflowClient(tracking_uri=url, registry_uri=url)
    t0 = int(time.time() * 1000) - 3_600_000
    main = client.create_experiment("ui-main", tags={"mlflow.note.content": LONG_DESCRIPTION, "area": "ui"})
    second = client.create_experiment("ui-second")
    hostile_exp = client.create_experiment(f"exp {IMG}")
    deleted_exp = client.create_experiment("ui-deleted")
    client.delete_experiment(deleted_exp)

    runs: dict[str, str] = {}
    runs["baseline"] = _training_run(client, main, "baseline", 0.01, t0)
    runs["tuned"] = _training_run(client, main, "tuned", 0.05, t0 + 60_000)
    runs["parent"] = _run(client, main, "sweep-parent", {"sweep": "grid"}, t0=t0 + 120_000)
    runs["child_1"] = _training_run(client, main, "sweep-child-1", 0.02, t0 + 130_000, parent=runs["parent"])
    runs["child_2"] = _training_run(client, main, "sweep-child-2", 0.03, t0 + 140_000, parent=runs["parent"])
    runs["long_history"] = _run(client, main, "long-history", {"points": str(HISTORY_POINTS)}, t0=t0)
    series = [math.sin(s / 500.0) + (5.0 if s == 77_777 else 0.0) for s in range(HISTORY_POINTS)]
    _metric_history(client, runs["long_history"], "series", series, t0)
    runs["artifacts"] = _run(client, main, "artifacts", {"kind": "files"}, t0=t0 + 200_000)
    artifacts = _artifacts(client, runs["artifacts"])
    runs["hostile"] = _run(
        client,
        main,
        IMG,
        {"payload": SCRIPT, "link": JS_LINK},
        tags={"xss": IMG, "svg": SVG, "mlflow.note.content": f"{SCRIPT}\n[click]({JS_LINK})"},
        t0=t0 + 300_000,
    )
    client.log_metric(runs["hostile"], "score", 1.0)
    runs["deleted"] = _run(client, main, "deleted-run", {"x": "1"}, t0=t0 + 400_000)
    client.delete_run(runs["deleted"])
    runs["second_a"] = _training_run(client, second, "second-a", 0.04, t0)
    runs["second_b"] = _training_run(client, second, "second-b", 0.06, t0 + 10_000)
    _datasets(client, runs["baseline"])
    for role in ("parent", "long_history", "artifacts"):  # the rest stay RUNNING, as some do
        client.set_terminated(runs[role], "FINISHED", end_time=t0 + 600_000)

    model = _registry(client, runs["baseline"])
    traces = _traces(client, main, runs["baseline"])
    return {
        "experiments": {
            "main": {"id": main, "name": "ui-main"},
            "second": {"id": second, "name": "ui-second"},
            "hostile": {"id": hostile_exp, "name": f"exp {IMG}"},
            "deleted": {"id": deleted_exp, "name": "ui-deleted"},
        },
        "runs": runs,
        "run_names": {
            "baseline": "baseline",
            "tuned": "tuned",
            "parent": "sweep-parent",
            "child_1": "sweep-child-1",
            "child_2": "sweep-child-2",
            "long_history": "long-history",
            "artifacts": "artifacts",
            "hostile": IMG,
            "deleted": "deleted-run",
            "second_a": "second-a",
            "second_b": "second-b",
        },
        "params": {"baseline": {"lr": "0.01", "batch_size": "32", "optimizer": "adam", "epochs": "50"}},
        "metrics": {"training": ["loss", "accuracy"], "long_history": "series", "hostile": "score"},
        "history_points": HISTORY_POINTS,
        "history_peak": {"step": 77_777, "value": 5.0 + math.sin(77_777 / 500.0)},
        "artifacts": artifacts,
        "datasets": ["train-set", "eval-set"],
        "model": model,
        "traces": traces,
        "hostile": HOSTILE,
    }


if __name__ == "__main__":
    # Stages are deprecated in MLflow, still shown by its UI and ours: seeded on purpose.
    warnings.simplefilter("ignore", FutureWarning)
    print(json.dumps(seed(sys.argv[1])))
