"""Generated run names in MLflow's style: ``<adjective>-<animal>-<number>``."""

from __future__ import annotations

import random

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
    """A short readable name such as ``swift-owl-417`` (at most 20 characters)."""
    name = f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}-{random.randint(0, 999)}"
    return name[:20]
