"""The clock runs, metrics and experiments are stamped with."""

import time

__all__ = ["get_current_time_millis", "now_ms"]


def now_ms() -> int:
    """Milliseconds since the Unix epoch (MLflow's unit for every timestamp it stores)."""
    return time.time_ns() // 1_000_000


#: MLflow's name for :func:`now_ms` (``mlflow.utils.time.get_current_time_millis``).
get_current_time_millis = now_ms
