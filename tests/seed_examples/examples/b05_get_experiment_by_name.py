# Seed 002: get_experiment_by_name(name).
from mlflow.tracking import MlflowClient
client = MlflowClient()
experiment = client.get_experiment_by_name("Default")
print(f"experiment_id: {experiment.experiment_id}")
print(f"missing: {client.get_experiment_by_name('No such experiment')}")
