"""Which id each copied experiment has in the destination.

A copy keeps ids, except with ``--renumber-experiments``: an MLflow file store makes
18-digit experiment ids, which SQL stores (32-bit ids, MLflow's schema and tracklet's) cannot
hold. Then each experiment takes the id of the destination's experiment of the same name,
or a new one the destination hands out; names are unique in both stores, so a copy started
again, and ``--verify``, find the same ids. Runs keep their ids either way.
"""

from __future__ import annotations

from tracklet.entities import Experiment
from tracklet.stores import TrackingStore

__all__ = ["ExperimentIds"]


class ExperimentIds:
    """Source experiment id -> destination experiment id."""

    def __init__(self, dst: TrackingStore, renumber: bool) -> None:
        self._dst = dst
        self.renumber = renumber
        self._ids: dict[str, str] = {}

    def resolve(self, experiment: Experiment, create: bool) -> str:
        """The destination id of ``experiment``; with ``create``, a new experiment of its
        name is made when renumbering finds none (the import then overwrites its fields)."""
        target = experiment.experiment_id
        if self.renumber:
            found = self._dst.get_experiment_by_name(experiment.name)
            if found is not None:
                target = found.experiment_id
            elif create:
                target = self._dst.create_experiment(experiment.name)
        self._ids[experiment.experiment_id] = target
        return target

    def __getitem__(self, source_id: str) -> str:
        return self._ids.get(source_id, source_id)
