"""``from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository``: the
repository of a ``runs:/<run_id>/<path>`` URI (:class:`tracklet._runs_artifacts.RunsArtifactRepository`)."""

from tracklet._runs_artifacts import RunsArtifactRepository

__all__ = ["RunsArtifactRepository"]
