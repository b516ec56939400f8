"""``log_image`` as in MLflow 3.17.2: file names, previews, tag, pixel conversion and
argument errors, on a local store and through both servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet_http.testing import (
    ServerProcess,
    free_port,
    launch_tracklet_server,
    mlflow_server_args,
    start_server,
)

pytestmark = pytest.mark.interop

LOG_IMAGES = """
import hashlib, os, tempfile
import mlflow
import numpy as np
from PIL import Image

mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
ramp = (np.arange(10 * 20 * 3).reshape(10, 20, 3) % 256).astype(np.uint8)
with mlflow.start_run() as run:
    mlflow.log_image(ramp, key="a/b c", step=3, timestamp=1700000000000)
    mlflow.log_image(ramp / 255.0, key="k")
    mlflow.log_image(ramp, "image.png")
    mlflow.log_image(mlflow.Image(ramp), artifact_file="figs/x.png")
    mlflow.log_image(Image.fromarray(ramp), key="pil", step=1, timestamp=5)
    mlflow.log_image(np.linspace(-1.0, 2.0, 200).reshape(10, 20), key="rescaled", step=0, timestamp=7)
    rid = run.info.run_id

def described(path):
    with Image.open(path) as im:
        return [im.mode, list(im.size)] + ([hashlib.sha256(im.tobytes()).hexdigest()[:16]] if path.endswith(".png") else [])

names = []
for folder in ("", "images", "figs"):
    names += [f.path for f in client.list_artifacts(rid, folder or None) if not f.is_dir]
timestamp = lambda name: int(name.split("+timestamp+")[1].split("+")[0]) if "+timestamp+" in name else None
out["timestamp_is_now"] = [timestamp(n) > 1700000000000 for n in names if n.startswith("images/k+")]
out["names"] = sorted(n if "k+step" not in n else n.replace(str(timestamp(n)), "<now>") for n in names)
dst = tempfile.mkdtemp()
local = client.download_artifacts(rid, "", dst)
out["images"] = {os.path.relpath(os.path.join(d, f), local).replace("+" + str(timestamp(f)) + "+", "+<ts>+"):
                 described(os.path.join(d, f)) for d, _, fs in os.walk(local) for f in fs}
out["tag"] = client.get_run(rid).data.tags.get("mlflow.loggedImages")
with mlflow.start_run():
    out["errors"] = {
        "file_and_key": failure(lambda: mlflow.log_image(ramp, "x.png", key="k")),
        "file_and_step": failure(lambda: mlflow.log_image(ramp, "x.png", step=1)),
        "neither": failure(lambda: mlflow.log_image(ramp)),
        "bad_key": failure(lambda: mlflow.log_image(ramp, key="a:b")),
        "list": failure(lambda: mlflow.log_image([[0, 1]], key="l")),
        "int_range": failure(lambda: mlflow.log_image(np.full((2, 2), 300), key="r")),
        "dtype": failure(lambda: mlflow.log_image(np.full((2, 2), 1j), key="c")),
        "shape": failure(lambda: mlflow.log_image(np.zeros((2, 2, 2)), key="s")),
        "ndim": failure(lambda: mlflow.log_image(np.zeros(4), key="n")),
    }
    out["image_object"] = [mlflow.Image(ramp).size, mlflow.Image(ramp).to_list()[:2], mlflow.Image(ramp[:, :, 0]).to_list()[:3]]
"""


def test_log_image_writes_mlflows_files_and_errors(compare):
    seen = compare(LOG_IMAGES)
    assert "images/a~b c+step+3+timestamp+1700000000000+<uuid>.png" in seen["names"]
    assert "images/a~b c+step+3+timestamp+1700000000000+<uuid>+compressed.webp" in seen["names"]
    assert "image.png" in seen["names"] and "figs/x.png" in seen["names"]
    assert seen["timestamp_is_now"] == [True, True] and seen["tag"] == "True"
    assert seen["errors"]["file_and_key"][0] == "TypeError"


THROUGH_SERVER = """
import os, tempfile
import mlflow
import numpy as np

mlflow.set_tracking_uri(sys.argv[1])
client = mlflow.MlflowClient()
with mlflow.start_run() as run:
    mlflow.log_image(np.zeros((4, 6, 3), dtype=np.uint8), key="val/mask 1", step=12, timestamp=1700000000123)
    mlflow.log_image(np.zeros((4, 6), dtype=np.uint8), "plain.png")
out["listed"] = sorted(f.path for f in client.list_artifacts(run.info.run_id, "images"))
local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=tempfile.mkdtemp())
out["downloaded"] = sorted(os.path.relpath(os.path.join(d, f), local) for d, _, fs in os.walk(local) for f in fs)
out["run_id"] = run.info.run_id
"""

EXPECTED = [
    "images/val~mask 1+step+12+timestamp+1700000000123+<uuid>+compressed.webp",
    "images/val~mask 1+step+12+timestamp+1700000000123+<uuid>.png",
]


def _stored(artifacts: Path) -> list[str]:
    """The image files as the server stored them on disk, relative to the run's folder."""
    return sorted(
        "images/" + path.name
        for path in artifacts.rglob("*")
        if path.is_file() and path.parent.name == "images"
    )


def _mlflow_server(root: Path) -> ServerProcess:
    port = free_port()
    args = mlflow_server_args(
        port, f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), "--workers", "1"
    )
    return start_server(args, port, root / "server.log", {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})


@pytest.mark.parametrize("server_kind", ["tracklet", "mlflow"])
def test_log_image_names_survive_both_servers(server_kind, tmp_path, run_as):
    """Either client logging through either server: listed, downloaded and stored names are
    MLflow 3.17's (the old ``%step%`` names were refused by tracklet's server and mangled by
    MLflow's)."""
    root = tmp_path / "server"
    root.mkdir()
    server = launch_tracklet_server(root) if server_kind == "tracklet" else _mlflow_server(root)
    try:
        for who in ("mlflow", "tracklet"):
            seen = run_as(who, THROUGH_SERVER, server.url)
            assert seen["listed"] == EXPECTED, who
            assert seen["downloaded"] == sorted([*EXPECTED, "plain.png"]), who
    finally:
        server.stop()
    stored = _stored(root / "artifacts")
    assert sorted(_uuid_free(name) for name in stored) == sorted(EXPECTED * 2)


def _uuid_free(name: str) -> str:
    import re

    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", name)
