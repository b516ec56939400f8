# Seeds 000/001: mlflow.artifacts.list_artifacts(artifact_uri=None, run_id=None,
# artifact_path=None, tracking_uri=None); no example there, so this script.
import mlflow
with mlflow.start_run() as run:
    mlflow.log_text("a", "top.txt")
    mlflow.log_text("bb", "sub/inner.txt")
run_id = run.info.run_id
calls = [
    {"run_id": run_id},
    {"run_id": run_id, "artifact_path": "sub"},
    {"artifact_uri": f"runs:/{run_id}/sub"},
    {"artifact_uri": run.info.artifact_uri},
    {"run_id": run_id, "tracking_uri": mlflow.get_tracking_uri()},
]
for kwargs in calls:
    infos = mlflow.artifacts.list_artifacts(**kwargs)
    print(sorted(kwargs), [(i.path, i.is_dir, i.file_size) for i in infos])
