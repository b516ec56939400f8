"""tracklet: MLflow's tracking API, faster and lighter, with any storage through plugins."""

__version__ = "0.1.0"
