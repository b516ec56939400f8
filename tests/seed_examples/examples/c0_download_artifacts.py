# Seeds 000/001: mlflow.artifacts.download_artifacts(artifact_uri=None, run_id=None,
# artifact_path=None, dst_path=None, tracking_uri=None); no example there, so this script.
import os
import mlflow
with open("config.txt", "w") as f:
    f.write("lr=0.1")
with mlflow.start_run() as run:
    mlflow.log_artifact("config.txt", artifact_path="conf")
run_id = run.info.run_id
# a run's folder into a destination that does not exist yet
local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="conf", dst_path="out/here")
print(f"run_id and path: {os.path.relpath(local)} {sorted(os.listdir(local))}")
# one file by runs:/ URI, no destination
local = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{run_id}/conf/config.txt")
with open(local) as f:
    print(f"runs uri: {os.path.basename(local)} {f.read()}")
# the run's whole artifact folder, by its artifact URI
local = mlflow.artifacts.download_artifacts(artifact_uri=run.info.artifact_uri, dst_path="all")
print(f"artifact uri: {sorted(os.listdir(local))}")
# with an explicit tracking URI
tracking_uri = mlflow.get_tracking_uri()
local = mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=tracking_uri, dst_path="again")
print(f"tracking uri: {sorted(os.listdir(local))}")
# exactly one of artifact_uri and run_id
for kwargs in ({}, {"run_id": run_id, "artifact_uri": f"runs:/{run_id}/conf"}):
    try:
        mlflow.artifacts.download_artifacts(**kwargs)
    except mlflow.MlflowException as e:
        print(f"{sorted(kwargs)}: {e.error_code}")
