"""Helpers the conformance suites share: capability gates, error checks, state snapshots."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tracklet.entities import PagedList, Run, ViewType
from tracklet.exceptions import TrackletException
from tracklet.stores import CAPABILITIES, TrackingStore

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

#: A start time far from "now", so ordering by start time never depends on the clock.
T0 = 1_600_000_000_000
#: A run id no store has issued (32 lowercase hex characters, like real ones).
UNKNOWN_RUN_ID = "0123456789abcdef0123456789abcdef"
#: An experiment id no store has issued.
UNKNOWN_EXPERIMENT_ID = "987654321"


def requires(*capabilities: str) -> Callable[[_F], _F]:
    """Mark a suite test as needing capabilities from :data:`tracklet.stores.CAPABILITIES`;
    it is skipped, with the reason shown, for stores that do not declare them."""
    unknown = set(capabilities) - CAPABILITIES
    if unknown:  # a typo here would silently skip the test for every store
        raise ValueError(f"Unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")

    def mark(test: _F) -> _F:
        test._tracklet_requires = capabilities  # type: ignore[attr-defined]
        return test

    return mark


def lacks(capability: str) -> Callable[[_F], _F]:
    """Mark a suite test that runs only for stores *not* declaring ``capability``
    (it checks that such a store says so instead of half-working)."""

    def mark(test: _F) -> _F:
        test._tracklet_lacks = capability  # type: ignore[attr-defined]
        return test

    return mark


def check_capabilities(request: pytest.FixtureRequest, owner: str) -> None:
    """Skip the requesting test if the object in fixture ``owner`` lacks what it requires."""
    needed: tuple[str, ...] = getattr(request.function, "_tracklet_requires", ())
    unwanted: str | None = getattr(request.function, "_tracklet_lacks", None)
    if not needed and unwanted is None:
        return
    declared = frozenset(getattr(request.getfixturevalue(owner), "capabilities", frozenset()))
    name = type(request.getfixturevalue(owner)).__name__
    missing = [c for c in needed if c not in declared]
    if missing:
        pytest.skip(
            f"{name} does not declare capability {', '.join(repr(c) for c in missing)} "
            f"(its capabilities: {sorted(declared) or 'none'})"
        )
    if unwanted is not None and unwanted in declared:
        pytest.skip(f"{name} declares capability {unwanted!r}; this test is for stores without it")


@contextlib.contextmanager
def raises_code(code: str) -> Iterator[pytest.ExceptionInfo[TrackletException]]:
    """Expect a :class:`TrackletException` with MLflow error code ``code`` and a message."""
    with pytest.raises(TrackletException) as excinfo:
        yield excinfo
    error = excinfo.value
    assert error.error_code == code, f"expected error code {code}, got {error.error_code}: {error.message}"
    assert error.message.strip(), f"the {code} error has an empty message"


def says(excinfo: pytest.ExceptionInfo[TrackletException], expected: str) -> bool:
    """Whether the refusal's message is ``expected``, word for word (a remote store's
    :class:`~tracklet.exceptions.RestException` puts ``"<CODE>: "`` first, as MLflow's does)."""
    error = excinfo.value
    return error.message in (expected, f"{error.error_code}: {expected}")


def _number(value: object) -> str:
    """A float as text, so that NaN compares equal to NaN in snapshots."""
    return repr(float(value)) if isinstance(value, (int, float)) else repr(value)


def run_state(store: TrackingStore, run_id: str) -> dict[str, Any]:
    """Everything observable about one run: info, data, every metric's history, inputs."""
    run = store.get_run(run_id)
    histories = {
        key: [(m.key, _number(m.value), m.timestamp, m.step) for m in store.get_metric_history(run_id, key)]
        for key in sorted(run.data.metrics)
    }
    inputs = sorted(
        (d.dataset.name, d.dataset.digest, tuple(sorted((t.key, t.value) for t in d.tags)))
        for d in run.inputs.dataset_inputs
    )
    return {
        "info": run.info.to_dictionary(),
        "metrics": {k: _number(v) for k, v in run.data.metrics.items()},
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "history": histories,
        "inputs": inputs,
    }


def store_state(store: TrackingStore) -> dict[str, Any]:
    """Every experiment (with tags and stage) and every run id (with stage and name)."""
    experiments = _all_pages(lambda token: store.search_experiments(ViewType.ALL, 1000, None, None, token))
    ids = [e.experiment_id for e in experiments]
    runs: list[Run] = _all_pages(lambda token: store.search_runs(ids, "", ViewType.ALL, 1000, None, token))
    return {
        "experiments": sorted(
            (e.experiment_id, e.name, e.lifecycle_stage, tuple(sorted(e.tags.items()))) for e in experiments
        ),
        "runs": sorted((r.info.run_id, r.info.lifecycle_stage, r.info.run_name or "") for r in runs),
    }


def pages(fetch: Callable[[str | None], PagedList[_T]], limit: int = 100) -> list[list[_T]]:
    """Every page ``fetch(page_token)`` returns, following tokens from None to the end.

    :raises AssertionError: if the store still hands out a token after ``limit`` pages
        (a store whose tokens never end fails instead of hanging the suite).
    """
    out: list[list[_T]] = []
    token: str | None = None
    while len(out) < limit:
        page = fetch(token)
        out.append(list(page))
        token = page.token
        if not token:
            return out
    raise AssertionError(f"still a page token after {limit} pages")


def _all_pages(fetch: Callable[[str | None], PagedList[_T]]) -> list[_T]:
    return [item for page in pages(fetch, limit=10_000) for item in page]
