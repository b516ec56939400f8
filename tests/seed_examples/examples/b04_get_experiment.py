# Seed 002: get_experiment(experiment_id).
from mlflow.tracking import MlflowClient
client = MlflowClient()
experiment = client.get_experiment("0")
print(f"name: {experiment.name}")
print(f"lifecycle_stage: {experiment.lifecycle_stage}")
experiment_id = client.create_experiment("Fetched")
print(f"name: {client.get_experiment(experiment_id).name}")
