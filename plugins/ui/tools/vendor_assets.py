"""Copy the pinned browser libraries into tracklet-ui's package, or check the copies.

tracklet-ui has no build step: the browser loads plain ES modules shipped inside the
wheel. The few third-party files it needs (Preact + hooks + htm in one module, uPlot)
come from the npm packages pinned in ``plugins/ui/assets/package-lock.json``; this script
installs exactly those (``npm ci --ignore-scripts`` in a temporary folder, so nothing in
the packages runs) and copies the files listed in :data:`FILES` to
``src/tracklet_ui/static/vendor/``.

Usage::

    python plugins/ui/tools/vendor_assets.py           # refresh the vendored files
    python plugins/ui/tools/vendor_assets.py --check   # exit 1 if a committed file differs

To move to a new version: edit ``assets/package.json``, run ``npm install
--package-lock-only --ignore-scripts`` in ``assets/``, then this script, and commit the
three together. Users never need npm; only this script does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["FILES", "VENDOR", "fetch", "main"]

PLUGIN = Path(__file__).resolve().parent.parent
ASSETS = PLUGIN / "assets"
VENDOR = PLUGIN / "src" / "tracklet_ui" / "static" / "vendor"

#: ``node_modules``-relative source -> file name in ``static/vendor/``.
FILES = {
    "htm/preact/standalone.module.js": "standalone.module.js",
    "uplot/dist/uPlot.esm.js": "uPlot.esm.js",
    "uplot/dist/uPlot.min.css": "uPlot.min.css",
    "htm/LICENSE": "LICENSE-htm-preact.txt",
    "uplot/LICENSE": "LICENSE-uplot.txt",
}


def fetch(workdir: Path) -> dict[str, bytes]:
    """Install the locked packages into ``workdir`` and read the vendored files."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ASSETS / name, workdir / name)
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("vendor_assets.py needs npm (Node.js): apt-get install npm, then run it again")
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    modules = workdir / "node_modules"
    return {target: (modules / source).read_bytes() for source, target in FILES.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    with tempfile.TemporaryDirectory(prefix="tracklet-ui-vendor-") as tmp:
        wanted = fetch(Path(tmp))
    if check:
        stale = [
            name
            for name, data in wanted.items()
            if not (VENDOR / name).is_file() or (VENDOR / name).read_bytes() != data
        ]
        extra = sorted(p.name for p in VENDOR.iterdir() if p.name not in wanted) if VENDOR.is_dir() else []
        for name in stale:
            print(f"{VENDOR / name} differs from the locked npm package", file=sys.stderr)
        for name in extra:
            print(f"{VENDOR / name} is not produced by the lock file", file=sys.stderr)
        if stale or extra:
            print(
                "run: python plugins/ui/tools/vendor_assets.py, then commit static/vendor/", file=sys.stderr
            )
            return 1
        return 0
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, data in wanted.items():
        (VENDOR / name).write_bytes(data)
        print(f"wrote {VENDOR / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
