from mlflow import MlflowClient
client = MlflowClient()
root_span = client.start_trace("my_trace", tags={"key": "value"})
client.delete_trace_tag(root_span.request_id, "key")
client.end_trace(root_span.request_id)
