"""The fork suites' pipe reader works in a process holding more than 1,024 descriptors.

A long test session (or a long-lived user process) can hold many open files; ``select``
refuses descriptor numbers of 1,024 and above, which made every fork test after the
registry's suites fail with "filedescriptor out of range in select()"."""

from __future__ import annotations

import os
import resource

import pytest

from tracklet.testing import _fork


def test_a_pipe_numbered_past_1024_is_read() -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        pytest.skip(f"this process may open only {soft} descriptors")
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        read_end, write_end = os.pipe()
        held += [read_end, write_end]
        assert read_end >= 1024
        assert not _fork._readable(read_end, 0.05)
        os.write(write_end, b"x")
        assert _fork._readable(read_end, 1.0)
    finally:
        for fd in held:
            os.close(fd)
