"""Size limits on a GraphQL query, checked on the parsed document before anything runs
(MLflow's limits, with its messages): at most 10 root fields and 10 aliases on one level
(``TRACKLET_SERVER_GRAPHQL_MAX_ROOT_FIELDS`` / ``..._MAX_ALIASES``, or MLflow's
``MLFLOW_SERVER_GRAPHQL_MAX_*`` names), nesting 10 deep, 1,000 fields in all. Fields
spread from fragments count where they are spread, each fragment once per path, so a
query cannot hide aliases or depth in fragments, nor loop through them.
"""

from __future__ import annotations

import os

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = ["MAX_DEPTH", "MAX_SELECTIONS", "QueryTooLarge", "check_query_size"]

MAX_DEPTH = 10
MAX_SELECTIONS = 1000
_DEFAULT_LIMIT = 10


class QueryTooLarge(ValueError):
    """The query is over a limit; the message says which and how to raise it."""


def _limit(kind: str) -> tuple[int, str]:
    """(limit, environment variable to name) for ``ROOT_FIELDS`` or ``ALIASES``."""
    ours = f"TRACKLET_SERVER_GRAPHQL_MAX_{kind}"
    for name in (ours, f"MLFLOW_SERVER_GRAPHQL_MAX_{kind}"):
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                return int(raw), name
            except ValueError:
                raise QueryTooLarge(
                    f"{name}={raw!r} is not a whole number; fix the server's setting."
                ) from None
    return _DEFAULT_LIMIT, ours


def _level(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> tuple[list[FieldNode], int, frozenset[str]]:
    """The fields of one level, with the fragments spread into it, and their aliases."""
    fields: list[FieldNode] = []
    aliases = 0
    pending = list(selection_set.selections)
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            fields.append(selection)
            aliases += selection.alias is not None
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen = seen | {name}
                pending.extend(fragment.selection_set.selections)
    return fields, aliases, seen


def check_query_size(document: DocumentNode) -> None:
    """Raise :class:`QueryTooLarge` when ``document`` is over a limit."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root_fields = max_aliases = selections = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        stack = [(definition.selection_set, 1, frozenset[str]())]
        while stack:
            selection_set, depth, seen = stack.pop()
            if depth > MAX_DEPTH:
                raise QueryTooLarge(f"Query exceeds maximum depth of {MAX_DEPTH}")
            fields, aliases, seen = _level(selection_set, fragments, seen)
            max_aliases = max(max_aliases, aliases)
            for field in fields:
                root_fields += depth == 1
                selections += 1
                if selections > MAX_SELECTIONS:
                    raise QueryTooLarge(f"Query exceeds maximum total selections of {MAX_SELECTIONS}")
                if field.selection_set is not None:
                    stack.append((field.selection_set, depth + 1, seen))
    for kind, value, what in (
        (("ROOT_FIELDS", root_fields, "root fields")),
        ("ALIASES", max_aliases, "aliases"),
    ):
        limit, variable = _limit(kind)
        if value > limit:
            raise QueryTooLarge(
                f"GraphQL queries should have at most {limit} {what}, got {value} {what}. "
                f"To increase the limit, set the {variable} environment variable."
            )
