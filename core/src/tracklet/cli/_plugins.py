"""``tracklet plugins``: what is installed and which URI schemes it serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracklet.cli._common import echo_json, json_option, print_table

if TYPE_CHECKING:
    from tracklet.plugins import PluginInfo, Scheme


def _scheme_label(scheme: str) -> str:
    # The empty scheme is how plugins declare plain local paths ("./mlruns", "/data").
    return scheme or "(path)"


def _schemes_cell(schemes: tuple[Scheme, ...]) -> str:
    """One line per kind: ``tracking: (path), file``."""
    by_kind: dict[str, list[str]] = {}
    for s in schemes:
        label = _scheme_label(s.scheme) + (" (override)" if s.override else "")
        by_kind.setdefault(s.kind, []).append(label)
    return "\n".join(f"{kind}: {', '.join(labels)}" for kind, labels in by_kind.items()) or "-"


def _as_dict(info: PluginInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "schemes": [
            {"kind": s.kind, "scheme": s.scheme, "target": s.target, "override": s.override}
            for s in info.schemes
        ],
    }


@click.command("plugins")
@json_option
def plugins(as_json: bool) -> None:
    """List installed plugins, their distribution and version, and the schemes they serve."""
    from tracklet import plugins as tracklet_plugins

    infos = tracklet_plugins.list_plugins()
    if as_json:
        echo_json([_as_dict(info) for info in infos])
        return
    rows = [
        (info.name, info.distribution or "-", info.version or "-", _schemes_cell(info.schemes))
        for info in infos
    ]
    print_table(("Plugin", "Distribution", "Version", "Schemes"), rows)
