"""The vendored browser libraries: present, as the lock file pins them, and usable."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent.parent
TOOL = PLUGIN / "tools" / "vendor_assets.py"


def _tool() -> object:
    spec = importlib.util.spec_from_file_location("vendor_assets", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_vendored_file_is_committed() -> None:
    tool = _tool()
    vendor: Path = tool.VENDOR  # type: ignore[attr-defined]
    assert sorted(p.name for p in vendor.iterdir()) == sorted(tool.FILES.values())  # type: ignore[attr-defined]


def test_the_lock_file_pins_htm_3_1_1_and_uplot_1_6() -> None:
    lock = json.loads((PLUGIN / "assets" / "package-lock.json").read_text(encoding="utf-8"))
    packages = lock["packages"]
    assert packages["node_modules/htm"]["version"] == "3.1.1"
    assert packages["node_modules/uplot"]["version"].startswith("1.6.")
    assert all(p.get("integrity", "").startswith("sha512-") for name, p in packages.items() if name)


def test_the_preact_bundle_exports_what_html_js_re_exports() -> None:
    bundle = (_tool().VENDOR / "standalone.module.js").read_text(encoding="utf-8")  # type: ignore[attr-defined]
    exported = {part.split(" as ")[-1] for part in bundle.rsplit("export{", 1)[1].split("}")[0].split(",")}
    html_js = (PLUGIN / "src" / "tracklet_ui" / "static" / "html.js").read_text(encoding="utf-8")
    wanted = {name.strip() for name in html_js.split("{", 1)[1].split("}")[0].split(",") if name.strip()}
    assert wanted <= exported
    assert "import " not in bundle  # no bare imports: the browser loads it as it is


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (Node.js) and the npm registry")
def test_vendor_check_finds_the_committed_files_equal_to_the_locked_packages() -> None:
    done = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
