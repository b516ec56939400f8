"""An experiment id a SQL database cannot hold is refused by import_experiment before
anything is written: stored, it could not be read back, and its row would hold the name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet.entities import Experiment
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet_sql.store import SqlStore


@pytest.mark.parametrize("experiment_id", ["123456789012345678", "2147483648"])
def test_an_id_beyond_an_integer_column_is_refused_and_nothing_is_written(
    tmp_path: Path, experiment_id: str
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'tracklet.db'}")
    try:
        with pytest.raises(TrackletException) as refused:
            store.import_experiment(
                Experiment(experiment_id, "long", str(tmp_path), "active", tags={"a": "1"})
            )
        assert refused.value.error_code == INVALID_PARAMETER_VALUE
        assert experiment_id in str(refused.value) and "--renumber-experiments" in str(refused.value)
        assert store.get_experiment_by_name("long") is None
        store.import_experiment(Experiment("2147483647", "long", str(tmp_path), "active", tags={}))
        assert store.get_experiment("2147483647").name == "long"  # the largest id still fits
    finally:
        store.close()
