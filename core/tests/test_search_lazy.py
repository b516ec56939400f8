"""``tracklet.search`` loads its in-memory evaluators and its registry and trace grammars
on first use: a SQL store's run search needs only the AST, the parser and the page
tokens, and every new process's first search paid for the rest."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import tracklet.search

_LAZY_SUBMODULES = ("_evaluate", "_memory", "_registry", "_sort", "_traces")

_PROBE = """
import sys
from tracklet.search import decode_page_token, parse_filter, parse_order_by
parse_filter("metrics.m > 1 and params.p = 'a'", "run")
parse_order_by(["metrics.m DESC"], "run")
print(",".join(sorted(m for m in sys.modules if m.startswith("tracklet.search."))))
"""


def test_parsing_a_run_search_loads_only_the_grammar() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.strip().split(","))
    assert loaded == {
        "tracklet.search._ast",
        "tracklet.search._fields",
        "tracklet.search._lexer",
        "tracklet.search._paging",
        "tracklet.search._parser",
    }


@pytest.mark.parametrize("name", tracklet.search.__all__)
def test_every_public_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(tracklet.search, name)
    module = tracklet.search._LAZY.get(name)
    if module is not None:
        assert value is getattr(importlib.import_module(f"tracklet.search.{module}"), name)
    assert name in dir(tracklet.search)


def test_the_lazy_table_names_only_public_names_of_lazy_submodules() -> None:
    assert set(tracklet.search._LAZY) <= set(tracklet.search.__all__)
    assert set(tracklet.search._LAZY.values()) <= set(_LAZY_SUBMODULES)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        tracklet.search.no_such_name  # noqa: B018
