"""The shared base of every entity: iteration, repr, equality and dictionary round-trips.

As MLflow's ``_MlflowObject``: iterating an entity yields ``(property, value)`` pairs in
alphabetical order of the properties MLflow's class declares (``_fields``, kept sorted),
and the repr is ``<Name: key=value, ...>`` with each plain value pretty-printed by
:mod:`pprint`, so ``repr`` and ``dict(entity)`` read the same as MLflow's.
"""

from __future__ import annotations

import pprint
from typing import Any, TypeVar

_T = TypeVar("_T", bound="TrackletObject")


class TrackletObject:
    """Base of the entities: properties are read from ``_fields`` (slot names with ``_``)."""

    __slots__: tuple[str, ...] = ()
    # The properties MLflow iterates, sorted; ``_compared`` adds what equality also looks at.
    _fields: tuple[str, ...] = ()
    _compared: tuple[str, ...] = ()

    def __iter__(self) -> Any:
        for name in self._fields:
            yield name, getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields + self._compared)

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f)) for f in self._fields))

    def __repr__(self) -> str:
        return _to_string(self)

    def to_dictionary(self) -> dict[str, Any]:
        """The entity as plain Python values (nested entities become dicts)."""
        return {name: _plain(value) for name, value in self}

    @classmethod
    def from_dictionary(cls: type[_T], the_dict: dict[str, Any]) -> _T:
        """Build the entity from :meth:`to_dictionary`'s output (unknown keys ignored)."""
        return cls(**{k: v for k, v in the_dict.items() if k in cls._fields})


def _to_string(value: Any) -> str:
    """MLflow's entity printer: entities as ``<Name: k=v>``, everything else via pprint."""
    if isinstance(value, TrackletObject):
        body = ", ".join(f"{key}={_to_string(item)}" for key, item in value)
        return f"<{type(value).__name__}: {body}>"
    return pprint.PrettyPrinter().pformat(value)


def _plain(value: Any) -> Any:
    if isinstance(value, TrackletObject):
        return value.to_dictionary()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value
