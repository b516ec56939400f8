# Seed 002: list_artifacts(run_id, path=None).
import os
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
os.makedirs("outputs/plots")
for name in ("outputs/summary.txt", "outputs/plots/loss.txt"):
    with open(name, "w") as f:
        f.write(name)
client.log_artifacts(run.info.run_id, "outputs")
for path in (None, "plots"):
    for info in client.list_artifacts(run.info.run_id, path):
        print(f"{path}: {info.path} is_dir={info.is_dir} size={info.file_size}")
