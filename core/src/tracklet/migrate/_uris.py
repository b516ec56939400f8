"""Where a copied object's artifacts live at the destination.

By default under the destination's own artifact root, laid out as MLflow lays it out
(``<root>/<experiment id>`` for an experiment, ``<root>/<experiment id>/<run id>/artifacts``
for a run), so the copy is self-contained; ``--artifact-root`` picks another root and
``--keep-artifact-uris`` keeps the source's URIs (and copies no files).
"""

from __future__ import annotations

from tracklet.entities import Experiment, RunInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.migrate._options import Options
from tracklet.stores import TrackingStore

__all__ = ["ArtifactUris", "destination_root"]


def destination_root(dst: TrackingStore, options: Options) -> str | None:
    """The root the copy writes under; None when URIs are kept.

    Without ``--artifact-root``: the parent of the destination's Default experiment's
    location, which is where the store puts new experiments (every store has experiment
    ``"0"``; a server answers ``mlflow-artifacts:/0``)."""
    if options.keep_artifact_uris:
        return None
    if options.artifact_root:
        return options.artifact_root.rstrip("/")
    location = dst.get_experiment("0").artifact_location or ""
    if location.rstrip("/").endswith("/0"):
        return location.rstrip("/")[: -len("/0")]
    raise TrackletException(
        f"Cannot tell the destination's artifact root: its Default experiment's location is "
        f"{location!r}, not '<root>/0'. Give one with --artifact-root URI, or keep the source's "
        "artifact locations with --keep-artifact-uris.",
        INVALID_PARAMETER_VALUE,
    )


class ArtifactUris:
    """The destination URI of each copied experiment location and run artifact URI."""

    def __init__(self, root: str | None) -> None:
        self.root = root

    def experiment(self, experiment: Experiment) -> str:
        if self.root is None:
            return experiment.artifact_location
        return f"{self.root}/{experiment.experiment_id}"

    def run(self, info: RunInfo) -> str:
        if self.root is None:
            return info.artifact_uri or ""
        return f"{self.root}/{info.experiment_id}/{info.run_id}/artifacts"
