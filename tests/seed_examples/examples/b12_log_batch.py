# Seed 002: log_batch(run_id, metrics, params, tags), all by position, with
# Metric(key, value, timestamp) as documented there: no step (MLflow 2 made it required).
import time
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run("0")
now = int(time.time() * 1000)
metrics = [Metric("loss", 0.5, now), Metric("loss", 0.25, now + 1)]
client.log_batch(run.info.run_id, metrics, [Param("lr", "0.1")], [RunTag("stage", "dev")])
data = client.get_run(run.info.run_id).data
print(f"metrics: {data.metrics}")
print(f"params: {data.params}")
print(f"tags: {({k: v for k, v in data.tags.items() if not k.startswith('mlflow.')})}")
history = client.get_metric_history(run.info.run_id, "loss")
print(f"history: {sorted((m.value, m.step) for m in history)}")
