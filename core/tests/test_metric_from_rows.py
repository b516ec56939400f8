"""Metric.from_rows (the stores' bulk constructor) builds what Metric(...) builds, and
Metric's optional links, now class-level defaults, behave as before."""

from __future__ import annotations

import copy
import gc
import math
import pickle

import pytest

from tracklet.entities import Metric
from tracklet.exceptions import TrackletException


def test_from_rows_equals_the_constructor() -> None:
    rows = [(1.5, 1000, 0), (-2.0, 1001, 1), (math.inf, 1002, 2), (0, 1003, -5)]
    built = Metric.from_rows("loss", rows)
    expected = [Metric("loss", v, t, s) for v, t, s in rows]
    assert built == expected
    assert [repr(m) for m in built] == [repr(m) for m in expected]
    assert [m.to_dictionary() for m in built] == [m.to_dictionary() for m in expected]
    assert [dict(m) for m in built] == [dict(m) for m in expected]
    assert all(type(m) is Metric for m in built)


def test_from_rows_reads_none_as_nan_and_sets_run_id() -> None:
    (point,) = Metric.from_rows("m", iter([(None, 5, 3)]), run_id="r1")
    assert math.isnan(point.value)
    assert (point.key, point.timestamp, point.step, point.run_id) == ("m", 5, 3, "r1")
    assert (point.model_id, point.dataset_name, point.dataset_digest) == (None, None, None)
    assert point == Metric("m", math.nan, 5, 3, run_id="r1")


def test_from_rows_of_nothing_and_the_collector_state_kept() -> None:
    assert Metric.from_rows("m", []) == []
    gc.disable()
    try:
        Metric.from_rows("m", [(1.0, 1, 1)])
        assert not gc.isenabled()
    finally:
        gc.enable()
    Metric.from_rows("m", [(1.0, 1, 1)])
    assert gc.isenabled()


def test_a_failing_row_leaves_the_collector_on() -> None:
    with pytest.raises(ValueError):
        Metric.from_rows("m", [(1.0, 1, 1), (1.0, 1)])  # type: ignore[list-item]
    assert gc.isenabled()


def test_optional_links_default_to_none_and_round_trip() -> None:
    plain = Metric("m", 1.0, 5, 2)
    assert (plain.model_id, plain.dataset_name, plain.dataset_digest, plain.run_id) == (None,) * 4
    linked = Metric("m", 1.0, 5, 2, model_id="m-1", dataset_name="d", dataset_digest="x", run_id="r")
    assert (linked.model_id, linked.dataset_name, linked.dataset_digest, linked.run_id) == (
        "m-1",
        "d",
        "x",
        "r",
    )
    assert linked != plain  # the links take part in equality, run_id does not
    assert Metric("m", 1.0, 5, 2, run_id="r") == plain
    for clone in (pickle.loads(pickle.dumps(linked)), copy.deepcopy(linked), copy.copy(linked)):
        assert clone == linked and clone.run_id == "r" and repr(clone) == repr(linked)
    assert Metric.from_dictionary(linked.to_dictionary()) == linked
    assert pickle.loads(pickle.dumps(plain)).model_id is None


def test_one_dataset_field_alone_is_refused() -> None:
    with pytest.raises(TrackletException, match="Both dataset_name and dataset_digest"):
        Metric("m", 1.0, 5, 2, dataset_name="d")
    with pytest.raises(TrackletException, match="Both dataset_name and dataset_digest"):
        Metric("m", 1.0, 5, 2, dataset_digest="x")
