# Seed 002 (older MlflowClient docs): create_experiment(name, artifact_location=None),
# both arguments by position.
from pathlib import Path
from mlflow.tracking import MlflowClient
client = MlflowClient()
placed = client.create_experiment("Older API", Path.cwd().joinpath("elsewhere").as_uri())
default = client.create_experiment("Older API, default location")
for experiment_id in (placed, default):
    experiment = client.get_experiment(experiment_id)
    print(f"name: {experiment.name}")
    print(f"artifact_location: {experiment.artifact_location}")
