from mlflow import MlflowClient
client = MlflowClient()
run = client.create_run(experiment_id="0")
# Log text to a file under the run's root artifact directory
client.log_text(run.info.run_id, "text1", "file1.txt")
# Log text in a subdirectory of the run's root artifact directory
client.log_text(run.info.run_id, "text2", "dir/file2.txt")
# Log HTML text
client.log_text(run.info.run_id, "<h1>header</h1>", "index.html")
