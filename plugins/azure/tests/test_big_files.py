"""A 1 GiB artifact goes up in parallel blocks and comes back in parallel ranges with
flat memory: the round trip runs in a subprocess that reports its peak RSS."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tracklet.testing.objects import round_trip

GiB = 1 << 30
MiB = 1 << 20
#: What a transfer may add to the process's peak RSS: about max_concurrency (4) blocks of
#: 8 MiB each way, plus the SDK's buffers; far below the file's size.
RSS_ALLOWANCE = 200 * MiB


@pytest.mark.slow
def test_a_1_gib_file_round_trips_with_flat_memory(
    azure_env: Any, new_container: str, wasbs: Any, tmp_path: pathlib.Path
) -> None:
    report = round_trip(wasbs(new_container, "big"), tmp_path, GiB)
    print(report)
    assert report.size == GiB
    assert report.same
    assert report.added_rss < RSS_ALLOWANCE, (
        f"the transfer added {report.added_rss / MiB:.0f} MiB to the peak RSS"
    )
