"""The fast meta.yaml reader agrees with PyYAML whenever it answers at all."""

from __future__ import annotations

import pytest
import yaml

from tracklet_file._flatyaml import parse_flat

VALUES = [
    "",
    "plain",
    "with space",
    "/abs/path/0",
    "file:///tmp/mlruns/1",
    "a:b",
    "a: b",
    "abc:",
    "0",
    "00",
    "007",
    "12",
    "-3",
    "1.5",
    "1e3",
    ".inf",
    "-inf",
    "nan",
    "NaN",
    ".nan",
    "true",
    "True",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "null",
    "~",
    "None",
    "'quoted'",
    "it's",
    '"dq"',
    "#hash",
    "a #b",
    "- item",
    "[x]",
    "{y}",
    "*alias",
    "&anchor",
    "!tag",
    "%pct",
    "@at",
    "`tick`",
    "2024-01-01",
    "12:30",
    "0x1F",
    "0o17",
    "1_000",
    "+1",
    "é",
    "multi\nline",
    " lead",
    "trail ",
    "=",
    "<<",
    "a,b",
    "a|b",
    ">",
    "|",
    "run-name-12",
    "_private",
    "a/b:c",
    "::",
    "a::b",
    "30ce5116ca354763837aa19d11061299",
    "1" * 32,
    "1e5" + "0" * 29,
    "0e" + "1" * 30,
    "abcdef",
    "123e4567",
]


@pytest.mark.parametrize("value", VALUES)
def test_agrees_with_pyyaml_on_dumped_values(value: str) -> None:
    for data in ({"key": value}, {"a": 1, "key": value, "z": None}, {"key": [value]}, {"k": {"n": value}}):
        text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=True)
        fast = parse_flat(text)
        assert fast is None or fast == yaml.safe_load(text), text


@pytest.mark.parametrize("value", VALUES)
def test_agrees_with_pyyaml_on_hand_written_lines(value: str) -> None:
    text = f"key: {value}\n"
    fast = parse_flat(text)
    if fast is not None:
        assert fast == yaml.safe_load(text), text


def test_reads_the_common_forms() -> None:
    text = "a: 12\nb: ''\nc: null\nd: []\ne: '0'\nf: /x/y\ng: it''s\nh: {}\n"
    assert parse_flat(text.replace("g: it''s", "g: 'it''s'")) == {
        "a": 12,
        "b": "",
        "c": None,
        "d": [],
        "e": "0",
        "f": "/x/y",
        "g": "it's",
        "h": {},
    }
    assert parse_flat("") is None
    assert parse_flat("on: 1\n") is None  # YAML 1.1 reads the key as True
    assert parse_flat("a: 1\na: 2\n") is None
