# Seed 002: mlflow.tracking.set_tracking_uri(uri) / get_tracking_uri(), and
# MlflowClient(tracking_uri=None) taking the current URI unless given one.
import os
from pathlib import Path
import mlflow.tracking
from mlflow.tracking import MlflowClient
mlflow.tracking.set_tracking_uri(Path("elsewhere").resolve().as_uri())
print(f"tracking uri: {mlflow.tracking.get_tracking_uri()}")
experiment_id = MlflowClient().create_experiment("Where")
print(f"stored in elsewhere: {os.path.isdir(os.path.join('elsewhere', experiment_id))}")
other = MlflowClient(tracking_uri=Path("third").resolve().as_uri())
experiment_id = other.create_experiment("There")
print(f"stored in third: {os.path.isdir(os.path.join('third', experiment_id))}")
print(f"current uri unchanged: {mlflow.tracking.get_tracking_uri() == Path('elsewhere').resolve().as_uri()}")
