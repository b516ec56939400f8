"""Permission levels, as MLflow's basic-auth app defines them.

=============== ==== === ====== ====== ======
level           read use update delete manage
=============== ==== === ====== ====== ======
READ            yes  no  no     no     no
USE             yes  yes no     no     no
EDIT            yes  yes yes    no     no
MANAGE          yes  yes yes    yes    yes
NO_PERMISSIONS  no   no  no     no     no
=============== ==== === ====== ====== ======

Any level may be the server's *default* (what a user has on an experiment without a
grant). Grants on one experiment are READ, USE, EDIT or MANAGE: as in MLflow 3, a grant
of NO_PERMISSIONS is refused (no grant plus a default of NO_PERMISSIONS already says "no
access"), which also means every grant lets its holder read.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = [
    "ALL_PERMISSIONS",
    "EDIT",
    "GRANTABLE",
    "MANAGE",
    "NO_PERMISSIONS",
    "READ",
    "USE",
    "Permission",
    "get_permission",
    "grantable",
]


@dataclass(frozen=True)
class Permission:
    """One level and what it allows."""

    name: str
    can_read: bool
    can_use: bool
    can_update: bool
    can_delete: bool
    can_manage: bool


READ = Permission("READ", True, False, False, False, False)
USE = Permission("USE", True, True, False, False, False)
EDIT = Permission("EDIT", True, True, True, False, False)
MANAGE = Permission("MANAGE", True, True, True, True, True)
NO_PERMISSIONS = Permission("NO_PERMISSIONS", False, False, False, False, False)

ALL_PERMISSIONS: dict[str, Permission] = {p.name: p for p in (READ, USE, EDIT, MANAGE, NO_PERMISSIONS)}
#: What a grant on one experiment may be.
GRANTABLE = ("READ", "USE", "EDIT", "MANAGE")


def get_permission(name: str) -> Permission:
    """The level called ``name`` (as stored; unknown names read as NO_PERMISSIONS, so a
    row written by something else can never widen access)."""
    return ALL_PERMISSIONS.get(name, NO_PERMISSIONS)


def grantable(value: object, field: str = "permission") -> str:
    """``value`` checked as a grant level, or INVALID_PARAMETER_VALUE naming the field."""
    if isinstance(value, str) and value in GRANTABLE:
        return value
    if value == NO_PERMISSIONS.name:
        raise TrackletException(
            f"Invalid value 'NO_PERMISSIONS' for parameter '{field}': a grant must allow something "
            f"({', '.join(GRANTABLE)}). To take access away, delete the grant; users without one get "
            "the server's default permission.",
            INVALID_PARAMETER_VALUE,
        )
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "…"
    raise TrackletException(
        f"Invalid value {shown} for parameter '{field}': expected one of {', '.join(GRANTABLE)}.",
        INVALID_PARAMETER_VALUE,
    )
