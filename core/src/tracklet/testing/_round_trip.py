"""The child of :func:`tracklet.testing.objects.round_trip`: ``python -m
tracklet.testing._round_trip URI SOURCE DEST`` logs SOURCE to the artifact repository of
URI, downloads it into DEST, and prints as JSON the times, the RSS before and the peak
RSS during the transfers, and the downloaded file's size and sha256.

On Linux the kernel's peak is reset just before the transfers (``/proc/self/clear_refs``),
so it is the transfers' own and not the imports'; elsewhere it is the process's peak so
far (``resource.getrusage``), which can only hide growth below the imports' peak."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Make the kernel's peak RSS (VmHWM) start again from the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _peak_rss(reset: bool) -> int:
    """Peak resident set size in bytes: since the reset, or since the start."""
    if reset:
        return (_status_kib("VmHWM") or 0) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes


def main(uri: str, source: str, dst: str) -> None:
    from tracklet import plugins

    repo = plugins.get_artifact_repository(uri)
    repo.list_artifacts()  # the SDK loaded and a connection open: the baseline
    reset = _reset_peak()
    baseline = (_status_kib("VmRSS") or 0) * 1024 if reset else _peak_rss(reset)
    started = time.monotonic()
    repo.log_artifact(source)
    uploaded = time.monotonic()
    got = repo.download_artifacts(os.path.basename(source), dst)
    downloaded = time.monotonic()
    peak = _peak_rss(reset)
    digest = hashlib.sha256()
    with open(got, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    report = {
        "baseline_rss": baseline,
        "peak_rss": peak,
        "peak_since_reset": reset,
        "upload_seconds": uploaded - started,
        "download_seconds": downloaded - uploaded,
        "size": os.path.getsize(got),
        "sha256": digest.hexdigest(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
