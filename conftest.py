"""The whole suite's start: the repository's own Python sources are compiled once, up front.

pip compiles a package's modules when it installs it, but not an editable install's: with
``PYTHONDONTWRITEBYTECODE`` set (as on the CI machines) every Python process the tests
start (a server, a drain, a CLI call, a seed example) would otherwise compile tracklet's
modules from source again, ~0.13 s of CPU each. Compiled files are still read with that
variable set; a source edited later is recompiled in memory, as its timestamp no longer
matches.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SOURCES = ("core/src", "plugins/*/src", "contrib/*/src")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    for pattern in SOURCES:
        for folder in sorted(ROOT.glob(pattern)):
            compileall.compile_dir(str(folder), quiet=1, workers=0)
