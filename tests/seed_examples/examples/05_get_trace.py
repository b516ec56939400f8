from mlflow import MlflowClient
client = MlflowClient()
request_id = "12345678"
trace = client.get_trace(request_id)
