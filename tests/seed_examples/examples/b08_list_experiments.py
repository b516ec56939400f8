# Seed 002: list_experiments() (removed in MLflow 2.0): the active experiments.
from mlflow.tracking import MlflowClient
client = MlflowClient()
for name in ("b", "a"):
    client.create_experiment(name)
client.delete_experiment(client.get_experiment_by_name("b").experiment_id)
experiments = client.list_experiments()
print(f"names: {sorted(e.name for e in experiments)}")
print(f"types: {sorted({type(e).__name__ for e in experiments})}")
