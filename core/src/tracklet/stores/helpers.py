"""Small rules every tracking store applies the same way: run names and run statuses.

Store plugins call these so that a run created through any backend gets its name by
the same rule (argument, ``mlflow.runName`` tag, or a generated one) and a status is
accepted in the same spellings.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from tracklet.entities import RunStatus, RunTag
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.utils.mlflow_tags import MLFLOW_RUN_NAME

__all__ = ["random_run_name", "resolve_run_name", "status_number"]

_ADJECTIVES = (
    "able agile amber bold brave bright calm clever cool crisp daring eager early fair fancy fast "
    "gentle glad grand happy honest jolly keen kind lucid lucky merry mighty neat nimble noble "
    "polite proud quick quiet rare shy silent smart snappy sober steady sunny swift tidy upbeat "
    "vivid warm wise zesty"
).split()
_ANIMALS = (
    "ant bat bear bee bird boar carp cat colt crab crow deer doe dove duck eel elk finch fox frog "
    "goat gull hare hawk hen heron ibis jay koi lark lynx mole moth newt owl ox panda pig pike ram "
    "rat robin seal shrew sow swan toad trout wasp whale wolf wren yak zebra"
).split()


def random_run_name() -> str:
    """A short readable name in MLflow's style, such as ``swift-owl-417`` (at most 20 characters)."""
    name = f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}-{random.randint(0, 999)}"
    return name[:20]


def resolve_run_name(run_name: str | None, tags: Sequence[RunTag]) -> tuple[str, list[RunTag]]:
    """The new run's name and its tags, ``mlflow.runName`` included.

    The name comes from the argument or the ``mlflow.runName`` tag (which must agree,
    else ``INVALID_PARAMETER_VALUE``), or is generated.
    """
    tags = list(tags)
    tag_name = next((str(t.value) for t in tags if t.key == MLFLOW_RUN_NAME), None)
    if run_name and tag_name and run_name != tag_name:
        raise TrackletException(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
            f"values (run_name='{run_name}', mlflow.runName='{tag_name}').",
            INVALID_PARAMETER_VALUE,
        )
    name = run_name or tag_name or random_run_name()
    if not tag_name:
        tags.append(RunTag(MLFLOW_RUN_NAME, name))
    return name, tags


def status_number(status: str | int | None) -> int | None:
    """A run status as :class:`~tracklet.entities.RunStatus` number (None stays None).

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for an unknown status.
    """
    if status is None:
        return None
    if isinstance(status, int) and not isinstance(status, bool):
        RunStatus.to_string(status)
        return status
    return RunStatus.from_string(str(status))
