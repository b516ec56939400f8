"""Log a small training run with tracklet's MLflow-compatible API, then print it back.

Run: python examples/quickstart.py   (tracks into ./tracklet.db with tracklet-sql, or an existing
./mlflow.db; ./mlruns with only tracklet-file; unless TRACKLET_TRACKING_URI is set; artifacts go
to ./mlruns)
"""

import math
import tempfile
from pathlib import Path

import tracklet as mlflow

mlflow.set_experiment("quickstart")

with mlflow.start_run(run_name="quickstart-run") as run:
    mlflow.log_params({"learning_rate": 0.01, "epochs": 5, "optimizer": "adam"})
    for epoch in range(5):
        mlflow.log_metric("loss", math.exp(-epoch), step=epoch)
        mlflow.log_metric("accuracy", 1 - math.exp(-epoch - 1), step=epoch)
    mlflow.set_tag("stage", "demo")
    mlflow.log_dict({"layers": [64, 32, 10]}, "model/config.json")
    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes.txt"
        notes.write_text("first tracklet run\n")
        mlflow.log_artifact(str(notes))

finished = mlflow.MlflowClient().get_run(run.info.run_id)
print(f"run {finished.info.run_id} ({finished.info.run_name}) {finished.info.status}")
print(f"  params:  {finished.data.params}")
print(f"  metrics: {finished.data.metrics}")
print(f"  tracking URI: {mlflow.get_tracking_uri()}")
