from mlflow import MlflowClient
client = MlflowClient()
root_span = client.start_trace("my_trace")
request_id = root_span.request_id
# Create a child span
child_span = client.start_span(
    "child_span", request_id=request_id, parent_id=root_span.span_id
)
# Do something...
client.end_span(request_id=request_id, span_id=child_span.span_id)
client.end_trace(request_id)
