# Seed 002: set_tracking_uri("") stores data locally in ./mlruns.
import os
import mlflow.tracking
from mlflow.tracking import MlflowClient
mlflow.tracking.set_tracking_uri("")
experiment_id = MlflowClient().create_experiment("Here")
print(f"stored in ./mlruns: {os.path.isdir(os.path.join('mlruns', experiment_id))}")
