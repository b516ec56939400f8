"""Run by real MLflow 3.17.2 in a subprocess: fill a tracking database the way MLflow users
do, for tracklet migrate to copy. ``python mlflow_writer.py URI RUNS SEED`` (cwd: where
MLflow puts its default ./mlruns artifact root). Prints the ids it made as JSON."""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

T0 = 1_700_000_000_000


def main(uri: str, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    vision = client.create_experiment("vision", tags={"team": "cv", "mlflow.note.content": "hello"})
    nlp = client.create_experiment("nlp")
    gone = client.create_experiment("abandoned")
    experiments = [vision, nlp, gone]
    made: list[str] = []
    files = tempfile.mkdtemp()
    dataset = Dataset(
        "wine", "d1g35t", "local", '{"uri": "/data/wine.csv"}', schema='{"c": 1}', profile='{"n": 3}'
    )
    for i in range(runs):
        experiment = experiments[i % 3]
        tags = {"k": str(i % 5)}
        if made and i % 7 == 3:
            tags["mlflow.parentRunId"] = made[-1]
        run = client.create_run(experiment, start_time=T0 + i * 1000, tags=tags, run_name=f"run-{i}")
        run_id = run.info.run_id
        metrics = [
            Metric("loss", 1.0 / (s + 1) + rng.random() / 100, T0 + i * 1000 + s, s) for s in range(30)
        ]
        metrics += [Metric("acc", rng.random(), T0 + s, s) for s in range(20)]
        if i % 10 == 0:
            metrics += [
                Metric("odd", math.nan, T0, 0),
                Metric("odd", math.inf, T0 + 1, 1),
                Metric("odd", -math.inf, T0 + 2, 2),
            ]
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param("lr", str(rng.choice([0.1, 0.01]))), Param("layers", str(i % 4))],
            tags=[RunTag("phase", "train")],
        )
        if i % 4 == 0:
            client.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
        if i % 3 == 0:
            path = os.path.join(files, f"notes-{i}.txt")
            with open(path, "w") as f:
                f.write("x" * (100 + i))
            client.log_artifact(run_id, path, "reports" if i % 2 else None)
        status = ["FINISHED", "FAILED", "KILLED", "RUNNING"][i % 4]
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=T0 + i * 1000 + 500)
        if i % 9 == 5:
            client.delete_run(run_id)
        made.append(run_id)
    traces = _traces(client, [vision, nlp], made)
    client.delete_experiment(gone)
    client.create_registered_model("classifier", tags={"owner": "cv"}, description="a model")
    for n in range(3):
        client.create_model_version(
            "classifier", f"runs:/{made[n]}/model", run_id=made[n], description=f"v{n}"
        )
    client.delete_model_version("classifier", "2")
    client.set_registered_model_alias("classifier", "champion", "3")
    client.set_model_version_tag("classifier", "1", "validated", "yes")
    print(json.dumps({"experiments": experiments, "runs": made, "traces": traces}))


def _traces(client: MlflowClient, experiments: list[str], runs: list[str]) -> list[str]:
    """Three traces (two spans each) as MLflow's tracing writes them: one of a run, one of
    no run, one failed, with tags set at start and afterwards."""
    made = []
    for n, (experiment, run_id) in enumerate(
        zip(experiments + experiments[:1], [runs[0], None, runs[1]], strict=True)
    ):
        root = client.start_trace(
            f"answer-{n}",
            span_type="CHAIN",
            inputs={"question": f"q{n}"},
            tags={"n": str(n)},
            experiment_id=experiment,
            run_id=run_id,
            start_time_ns=(T0 + n) * 1_000_000,
        )
        child = client.start_span(
            "retrieve", root.trace_id, root.span_id, span_type="RETRIEVER", inputs={"k": 2}
        )
        client.end_span(root.trace_id, child.span_id, outputs=["a", "b"])
        client.end_trace(root.trace_id, outputs={"answer": n}, status="ERROR" if n == 2 else "OK")
        made.append(root.trace_id)
    mlflow.flush_trace_async_logging()
    client.set_trace_tag(made[0], "reviewed", "yes")
    return made


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
