# Seed 002: rename_experiment(experiment_id, new_name).
from mlflow.tracking import MlflowClient
client = MlflowClient()
experiment_id = client.create_experiment("Old name")
client.rename_experiment(experiment_id, "New name")
print(f"name: {client.get_experiment(experiment_id).name}")
print(f"old name: {client.get_experiment_by_name('Old name')}")
