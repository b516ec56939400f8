# Seed 002: set_terminated(run_id, status=None, end_time=None).
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
client.set_terminated(run.info.run_id)
info = client.get_run(run.info.run_id).info
print(f"status: {info.status}; end_time set: {info.end_time is not None}")
run = client.create_run("0")
client.set_terminated(run.info.run_id, "FAILED", 1600000000000)
info = client.get_run(run.info.run_id).info
print(f"status: {info.status}; end_time kept: {info.end_time == 1600000000000}")
