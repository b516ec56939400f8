# Seed 002: log_metric(run_id, key, value, timestamp=None), the timestamp by position.
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
client.log_metric(run.info.run_id, "acc", 0.9, 1600000000000)
client.log_metric(run.info.run_id, "acc", 0.95)
history = sorted(client.get_metric_history(run.info.run_id, "acc"), key=lambda m: m.timestamp)
print(f"values: {[m.value for m in history]}")
print(f"given timestamp kept: {history[0].timestamp == 1600000000000}")
print(f"default timestamp is now: {history[1].timestamp > 1600000000000}")
print(f"latest: {client.get_run(run.info.run_id).data.metrics}")
