"""A 1 GiB artifact goes up as a resumable upload in 16 MiB chunks and comes back as one
streamed download with flat memory: the round trip runs in a subprocess that reports its
peak RSS."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

GiB = 1 << 30
MiB = 1 << 20
#: What a transfer may add to the process's peak RSS: a 16 MiB upload chunk (and the
#: request's copy of it), the download's small read buffers; far below the file's size.
RSS_ALLOWANCE = 200 * MiB


@pytest.mark.slow
def test_a_1_gib_file_round_trips_with_flat_memory(
    gcs_env: Any, new_bucket: str, gs: Any, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:
        for _ in range(GiB // MiB):
            chunk = os.urandom(MiB)  # every MiB different: a misplaced chunk would show
            digest.update(chunk)
            f.write(chunk)
    script = pathlib.Path(__file__).with_name("_roundtrip.py")
    done = subprocess.run(
        [sys.executable, str(script), gs(new_bucket, "big"), str(source), str(tmp_path / "dl")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    added = report["peak_rss"] - report["baseline_rss"]
    print(
        f"1 GiB: upload {report['upload_seconds']:.1f}s, download {report['download_seconds']:.1f}s, "
        f"peak RSS {report['peak_rss'] / MiB:.0f} MiB ({added / MiB:+.0f} MiB over the RSS before; "
        f"{'peak reset before the transfers' if report['peak_since_reset'] else 'peak since start'})"
    )
    assert report["size"] == GiB
    assert report["sha256"] == digest.hexdigest()
    assert added < RSS_ALLOWANCE, f"the transfer added {added / MiB:.0f} MiB to the peak RSS"
