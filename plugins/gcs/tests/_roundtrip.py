"""Run by test_big_files.py in a fresh interpreter: upload one file to an artifact URI,
download it again, and print as JSON the times, the peak RSS before and after (from
``resource.getrusage``) and the downloaded file's sha256."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time


def _peak_rss() -> int:
    """Peak resident set size so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(uri: str, source: str, dst: str) -> None:
    from tracklet_gcs.artifacts import GCSArtifactRepository

    repo = GCSArtifactRepository(uri)
    repo.list_artifacts()  # the library loaded and a connection open: the baseline
    baseline = _peak_rss()
    started = time.monotonic()
    repo.log_artifact(source)
    uploaded = time.monotonic()
    got = repo.download_artifacts(os.path.basename(source), dst)
    downloaded = time.monotonic()
    peak = _peak_rss()
    digest = hashlib.sha256()
    with open(got, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    report = {
        "baseline_rss": baseline,
        "peak_rss": peak,
        "upload_seconds": uploaded - started,
        "download_seconds": downloaded - uploaded,
        "size": os.path.getsize(got),
        "sha256": digest.hexdigest(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
