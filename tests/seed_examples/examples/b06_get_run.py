# Seed 002: get_run(run_id).
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
client.log_metric(run.info.run_id, "m", 2.0)
fetched = client.get_run(run.info.run_id)
print(f"type: {type(fetched).__name__}")
print(f"same run: {fetched.info.run_id == run.info.run_id}")
print(f"metrics: {fetched.data.metrics}")
