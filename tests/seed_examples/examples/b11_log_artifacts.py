# Seed 002: log_artifacts(run_id, local_dir, artifact_path=None).
import os
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
os.makedirs("data/raw")
for name in ("data/a.csv", "data/raw/b.csv"):
    with open(name, "w") as f:
        f.write("x,y\n")
client.log_artifacts(run.info.run_id, "data")
client.log_artifacts(run.info.run_id, "data", "copy")
print([f.path for f in client.list_artifacts(run.info.run_id)])
print([f.path for f in client.list_artifacts(run.info.run_id, "copy")])
print([f.path for f in client.list_artifacts(run.info.run_id, "copy/raw")])
