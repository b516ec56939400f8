# Seed 002: restore_experiment(experiment_id).
from mlflow.tracking import MlflowClient
client = MlflowClient()
experiment_id = client.create_experiment("Back again")
client.delete_experiment(experiment_id)
client.restore_experiment(experiment_id)
print(f"lifecycle_stage: {client.get_experiment(experiment_id).lifecycle_stage}")
