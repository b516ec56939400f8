# Seed 002: download_artifacts(run_id, path): no destination; a local path comes back.
import os
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
with open("notes.txt", "w") as f:
    f.write("kept safe")
client.log_artifact(run.info.run_id, "notes.txt", "docs")
local_dir = client.download_artifacts(run.info.run_id, "docs")
print(f"directory: {os.path.basename(local_dir)} {sorted(os.listdir(local_dir))}")
with open(os.path.join(local_dir, "notes.txt")) as f:
    print(f"content: {f.read()}")
local_file = client.download_artifacts(run.info.run_id, "docs/notes.txt")
print(f"file: {os.path.basename(local_file)} is_file={os.path.isfile(local_file)}")
