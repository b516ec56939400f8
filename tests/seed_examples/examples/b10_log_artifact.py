# Seed 002: log_artifact(run_id, local_path, artifact_path=None).
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
with open("model.txt", "w") as f:
    f.write("weights")
client.log_artifact(run.info.run_id, "model.txt")
client.log_artifact(run.info.run_id, "model.txt", "backup")
print([f.path for f in client.list_artifacts(run.info.run_id)])
print([f.path for f in client.list_artifacts(run.info.run_id, "backup")])
