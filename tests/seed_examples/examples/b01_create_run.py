# Seed 002: create_run(experiment_id, user_id=None, run_name=None, start_time=None, tags=None).
# Keywords only: the positional order changed in MLflow 2 (start_time, tags, run_name).
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run(
    "0", user_id="alice", run_name="older-run", start_time=1600000000000, tags={"team": "nlp"}
)
print(f"user_id: {run.info.user_id}")
print(f"run_name: {run.info.run_name}")
print(f"start_time kept: {run.info.start_time == 1600000000000}")
print(f"tags: {({k: v for k, v in run.data.tags.items() if not k.startswith('mlflow.')})}")
print(f"status: {run.info.status}")
