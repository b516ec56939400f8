"""LoggedModelInput: a logged model a run used (MLflow's module path; the class lives with RunInputs)."""

from tracklet.entities.dataset import LoggedModelInput

__all__ = ["LoggedModelInput"]
