from mlflow import MlflowClient
client = MlflowClient()
root_span = client.start_trace("my_trace")
client.set_trace_tag(root_span.request_id, "key", "value")
client.end_trace(root_span.request_id)
