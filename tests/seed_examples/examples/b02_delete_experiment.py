# Seed 002: delete_experiment(experiment_id).
from mlflow.tracking import MlflowClient
client = MlflowClient()
experiment_id = client.create_experiment("Short-lived")
client.delete_experiment(experiment_id)
print(f"lifecycle_stage: {client.get_experiment(experiment_id).lifecycle_stage}")
