import mlflow
import time
client = mlflow.MlflowClient()
# Delete all traces in the experiment
client.delete_traces(
    experiment_id="0", max_timestamp_millis=time.time_ns() // 1_000_000
)
# Delete traces based on max_timestamp_millis and max_traces
# Older traces will be deleted first.
some_timestamp = time.time_ns() // 1_000_000
client.delete_traces(
    experiment_id="0", max_timestamp_millis=some_timestamp, max_traces=2
)
# Delete traces based on request_ids
client.delete_traces(experiment_id="0", request_ids=["id_1", "id_2"])
