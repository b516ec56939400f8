"""``mlflow.store.artifact``: see :mod:`tracklet.store.artifact.runs_artifact_repo` and
:mod:`tracklet.store.artifact.models_artifact_repo`."""

__all__: list[str] = []
