"""PagedList: a list with the token that fetches the next page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class PagedList(list[T], Generic[T]):
    """One page of results; ``token`` is None on the last page."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token

    def to_list(self) -> list[T]:
        """The items as a plain list."""
        return list(self)
