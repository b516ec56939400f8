import mlflow
from mlflow import MlflowClient
with mlflow.start_run() as run:
    mlflow.log_param("p", 0)
# The run has finished since we have exited the with block
# Fetch the run
client = MlflowClient()
run = client.get_run(run.info.run_id)
print(f"run_id: {run.info.run_id}")
print(f"params: {run.data.params}")
print(f"status: {run.info.status}")
