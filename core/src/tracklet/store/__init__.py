"""``mlflow.store`` import paths that MLflow scripts use, under ``import tracklet as mlflow``.

Only what scripts import directly lives here (``mlflow.store.artifact.runs_artifact_repo``);
tracklet's own store contracts are in :mod:`tracklet.stores`.
"""

__all__: list[str] = []
