# Seed 002: list_run_infos(experiment_id, run_view_type=1) (removed in MLflow 2.0).
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
client = MlflowClient()
kept = client.create_run("0")
gone = client.create_run("0")
client.delete_run(gone.info.run_id)
infos = client.list_run_infos("0")
print(f"default view: {[i.run_id == kept.info.run_id for i in infos]}")
print(f"types: {sorted({type(i).__name__ for i in infos})}")
print(f"all: {len(client.list_run_infos('0', run_view_type=ViewType.ALL))}")
deleted = client.list_run_infos("0", ViewType.DELETED_ONLY)
print(f"deleted only: {[i.run_id == gone.info.run_id for i in deleted]}")
