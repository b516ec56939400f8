"""tracklet-ui's hooks as the core sees them, and the static files they hand the server."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import tracklet_ui
from tracklet.plugins import server_assets, server_routes
from tracklet.routes import Assets
from tracklet_ui import plugin

STATIC = Path(tracklet_ui.STATIC_DIR)
# Our own modules (the vendored libraries are checked by test_vendor.py).
OWN_JS = sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.parts)


def test_entry_point_names_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="tracklet") if ep.name == "ui"]
    assert [ep.value for ep in found] == ["tracklet_ui.plugin"]


def test_the_hook_returns_the_ui_assets_at_ui_serving_the_root() -> None:
    assets = [item for item in plugin.tracklet_server_routes() if isinstance(item, Assets)]
    assert assets == [Assets("tracklet-ui", "/ui", tracklet_ui.STATIC_DIR, root=True)]
    assert (STATIC / assets[0].index).is_file()


def test_the_core_collects_the_assets_and_only_routes_as_routes() -> None:
    assert [a.name for a in server_assets()].count("tracklet-ui") == 1
    ui_routes = [r for r in server_routes() if r.path.startswith("/api/2.0/tracklet/ui/")]
    assert all(not isinstance(r, Assets) for r in ui_routes)


def test_every_file_the_page_links_exists() -> None:
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    linked = re.findall(r'(?:href|src)="([^"#:]+)"', index)
    assert "app.js" in linked and "style.css" in linked
    missing = [name for name in linked if not (STATIC / name).is_file()]
    assert missing == []


def test_index_html_has_no_inline_script_or_style() -> None:
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", index) == []  # CSP: script-src 'self'
    assert re.findall(r"\s(?:style|on[a-z]+)\s*=", index) == []  # no inline styles or handlers


def test_every_relative_import_resolves_to_a_shipped_file() -> None:
    importer = re.compile(r"""(?:from\s+|import\s*\(\s*|import\s+)["'](\.{1,2}/[^"']+)["']""")
    missing = []
    for module in [*OWN_JS]:
        for target in importer.findall(module.read_text(encoding="utf-8")):
            if not (module.parent / target).resolve().is_file():
                missing.append(f"{module.relative_to(STATIC)} -> {target}")
    assert missing == []


def test_every_module_of_the_route_table_exists() -> None:
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    modules = set(re.findall(r'module: "([a-z-]+)"', app))
    assert {"experiments", "runs", "run", "compare", "metric", "models", "traces"} <= modules
    missing = sorted(m for m in modules if not (STATIC / "pages" / f"{m}.js").is_file())
    assert missing == []


def test_no_module_writes_html_from_strings() -> None:
    """Everything shown goes through Preact's escaped text children (CVE-2024-27132/27133)."""
    sinks = re.compile(
        r"innerHTML|outerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|document\.write|\beval\("
    )
    offenders = [
        f"{p.relative_to(STATIC)}:{n}"
        for p in OWN_JS
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if sinks.search(line)
    ]
    assert offenders == []


def test_the_wheel_ships_the_static_files() -> None:
    """hatch packs every file under the package folder; the static files must live there."""
    assert STATIC.parent == Path(tracklet_ui.__file__).parent
    for name in ("index.html", "app.js", "api.js", "html.js", "components.js", "style.css"):
        assert (STATIC / name).is_file(), name
