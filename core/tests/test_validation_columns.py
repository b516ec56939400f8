"""validate_batch checks a batch's metrics as columns, in bulk where it can: the result must
be what checking each metric in order says (the reference below), the same first error for
any mix of bad keys, values, timestamps and steps, and columns read once per batch."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from tracklet import validation as v
from tracklet.entities import Metric
from tracklet.exceptions import TrackletException

GOOD_KEYS = ["m", "loss", "a/b", "x.y-z_1", "with space"]
BAD_KEYS: list[Any] = ["", "a!", "../x", "/abs", "a//b", "x" * 251, None, 3]
GOOD_VALUES: list[Any] = [0.5, 1, -0.0, float("nan"), float("inf")]
NUMPY: list[Any] = [np.float32(0.25), np.int64(7)]  # good, but off the bulk path
BAD_VALUES: list[Any] = ["1.0", True, None, 1j]
GOOD_INTS: list[Any] = [0, 5, v.INT64_MAX]
BAD_STAMPS: list[Any] = [-1, 1.5, True, v.INT64_MAX + 1, "5", None]
BAD_STEPS: list[Any] = [1.5, False, v.INT64_MIN - 1, v.INT64_MAX + 1, "5"]


def _outcome(fn: Any, *args: Any) -> str:
    """What a check says: 'ok', or the error's type, code and message."""
    try:
        fn(*args)
    except TrackletException as e:
        return f"{e.error_code}: {e}"
    except Exception as e:  # an unhashable key fails as it always did
        return f"{type(e).__name__}: {e}"
    return "ok"


def _per_metric(metrics: list[Metric]) -> None:
    """The reference: each metric's checks in order."""
    for m in metrics:
        v.validate_metric(m.key, m.value, m.timestamp, m.step)


def _random_batch(rng: random.Random) -> list[Metric]:
    def pick(good: list[Any], bad: list[Any]) -> Any:
        draw = rng.random()
        return rng.choice(bad if draw < 0.06 else NUMPY if draw < 0.09 else good)

    return [
        Metric(
            pick([*GOOD_KEYS, f"k{rng.randint(0, 10**9)}"], BAD_KEYS),
            pick(GOOD_VALUES, BAD_VALUES),
            pick(GOOD_INTS, BAD_STAMPS),
            pick(GOOD_INTS, [*BAD_STEPS, v.INT64_MIN]),
        )
        for _ in range(rng.randint(1, 8))
    ]


def test_bulk_checks_say_what_checking_each_metric_in_order_says() -> None:
    rng = random.Random(19)
    errors = 0
    for _ in range(3000):
        batch = _random_batch(rng)
        expected = _outcome(_per_metric, batch)
        assert _outcome(v.validate_batch, batch, [], []) == expected, batch
        errors += expected != "ok"
    assert errors > 300  # the mix really holds bad batches


def test_an_unhashable_key_fails_as_before() -> None:
    batch = [Metric("m", 1.0, 0, 0), Metric(["a"], 1.0, 0, 0)]  # type: ignore[arg-type]
    assert _outcome(v.validate_batch, batch, [], []) == _outcome(_per_metric, batch)


def test_a_known_key_does_not_hide_a_bad_number_after_it() -> None:
    v.validate_batch([Metric("known", 1.0, 0, 0)], [], [])
    message = _outcome(v.validate_batch, [Metric("known", 1.0, 0, 0), Metric("known", 1.0, -1, 0)], [], [])
    assert message.startswith("INVALID_PARAMETER_VALUE") and "timestamp -1" in message


def test_a_metric_batch_keeps_its_columns_read_once() -> None:
    batch = v.MetricBatch([Metric("a", 1.0, 2, 3), Metric("b", 4.0, 5, 6)])
    columns = v.validate_batch(batch, [], [])
    assert columns == (["a", "b"], [1.0, 4.0], [2, 5], [3, 6], True)
    assert v.metric_columns(batch) is columns  # the store takes them as they are
    assert v.metric_columns(list(batch)) == columns._replace(plain=False)  # a list: read again, unchecked


class _Scaled(Metric):
    """A subclass may compute a property: its columns come from the properties."""

    @property
    def value(self) -> float:
        return self._value * 10


def test_a_subclass_is_read_through_its_properties() -> None:
    assert v.metric_columns([Metric("a", 1.0, 0, 0), _Scaled("b", 2.0, 0, 0)]).values == [1.0, 20.0]


@pytest.mark.parametrize("metrics", [[], [Metric("a", 1.0, 0, 0)]])
def test_small_batches(metrics: list[Metric]) -> None:
    assert v.validate_batch(v.MetricBatch(metrics), [], []).keys == [m.key for m in metrics]


@pytest.mark.parametrize(
    "odd",
    [Metric("i", 1, 0, 0), Metric("f", np.float64(1.0), 0, 0), Metric("t", 1.0, np.int64(0), 0)],
)
def test_columns_are_plain_only_with_float_values_and_int_times(odd: Metric) -> None:
    """A writer trusts ``plain`` to skip converting values, timestamps and steps."""
    assert v.validate_batch([Metric("a", 1.0, 0, 0)], [], []).plain
    assert not v.validate_batch([Metric("a", 1.0, 0, 0), odd], [], []).plain
