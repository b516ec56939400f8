"""The shared base of every entity: equality, repr and dictionary round-trips."""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T", bound="TrackletObject")


class TrackletObject:
    """Base of the entities: properties are read from ``_fields`` (slot names with ``_``)."""

    __slots__: tuple[str, ...] = ()
    _fields: tuple[str, ...] = ()

    def __iter__(self) -> Any:
        for name in self._fields:
            yield name, getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f)) for f in self._fields))

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"<{type(self).__name__}: {body}>"

    def to_dictionary(self) -> dict[str, Any]:
        """The entity as plain Python values (nested entities become dicts)."""
        return {name: _plain(value) for name, value in self}

    @classmethod
    def from_dictionary(cls: type[_T], the_dict: dict[str, Any]) -> _T:
        """Build the entity from :meth:`to_dictionary`'s output (unknown keys ignored)."""
        return cls(**{k: v for k, v in the_dict.items() if k in cls._fields})


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
