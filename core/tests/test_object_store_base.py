"""ObjectStoreRepository's mapping of the artifact contract onto keys, on a key space kept
in a dict: the conformance suite, plus the key-level rules (prefix boundaries, directory
markers, unsafe keys, no partial downloads). The cloud plugins run the same suite
against real servers."""

from __future__ import annotations

import pathlib
import shutil
import threading
from collections.abc import Iterable

import pytest

from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import ListedObject, ObjectStoreRepository
from tracklet.testing import ArtifactRepositorySuite


class DictObjectStore(ObjectStoreRepository):
    """Keys in a dict; ``fail_gets`` makes downloads break off half way."""

    def __init__(self, prefix: str, objects: dict[str, bytes] | None = None) -> None:
        super().__init__(f"dict://bucket/{prefix}", prefix)
        self.objects = {} if objects is None else objects
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.fail_gets = False

    def _put_object(self, local_file: str, key: str, size: int) -> None:
        data = pathlib.Path(local_file).read_bytes()
        assert len(data) == size
        with self.lock:
            self.objects[key] = data

    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        self.calls.append(f"get {key}")
        if key not in self.objects:
            raise TrackletException(f"no key {key}", RESOURCE_DOES_NOT_EXIST)
        data = self.objects[key]
        with open(local_path, "wb") as f:
            f.write(data[: len(data) // 2] if self.fail_gets else data)
        if self.fail_gets:
            raise ConnectionError("the connection broke")

    def _list_objects(self, prefix: str, recursive: bool) -> Iterable[ListedObject]:
        self.calls.append(f"list {prefix!r} {recursive}")
        seen = set()
        for key in sorted(self.objects):
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if not recursive and "/" in rest:
                sub = prefix + rest.split("/", 1)[0] + "/"
                if sub not in seen:
                    seen.add(sub)
                    yield ListedObject(sub, None)
                continue
            yield ListedObject(key, len(self.objects[key]))

    def _delete_objects(self, keys: list[str]) -> None:
        with self.lock:
            for key in keys:
                self.objects.pop(key, None)


class TestDictObjectStoreConformance(ArtifactRepositorySuite):
    @pytest.fixture(params=["", "exp/run/artifacts"], ids=["bucket-root", "prefix"])
    def repo(self, request: pytest.FixtureRequest) -> DictObjectStore:
        return DictObjectStore(request.param)


def _file(tmp_path: pathlib.Path, name: str, content: bytes) -> str:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


def test_keys_live_under_the_prefix(tmp_path: pathlib.Path) -> None:
    repo = DictObjectStore("exp/run/artifacts")
    repo.log_artifact(_file(tmp_path, "f.txt", b"x"), "a/b")
    assert list(repo.objects) == ["exp/run/artifacts/a/b/f.txt"]


def test_a_path_is_not_a_prefix_of_its_longer_neighbour(tmp_path: pathlib.Path) -> None:
    repo = DictObjectStore("p")
    repo.log_artifact(_file(tmp_path, "gone", b"1"), "d")
    repo.log_artifact(_file(tmp_path, "gone.txt", b"2"), "d")
    repo.log_artifact(_file(tmp_path, "x", b"3"), "d/gone2")
    repo.delete_artifacts("d/gone")
    assert sorted(repo.objects) == ["p/d/gone.txt", "p/d/gone2/x"]


def test_a_sibling_prefix_is_not_listed_or_deleted(tmp_path: pathlib.Path) -> None:
    objects = {"run1/f.txt": b"mine", "run10/f.txt": b"another run's"}
    repo = DictObjectStore("run1", objects)
    assert [info.path for info in repo.list_artifacts()] == ["f.txt"]
    repo.delete_artifacts()
    assert objects == {"run10/f.txt": b"another run's"}


def test_directory_markers_are_not_listed(tmp_path: pathlib.Path) -> None:
    objects = {"p/": b"", "p/folder/": b"", "p/folder/f.txt": b"abc"}
    repo = DictObjectStore("p", objects)
    assert [(i.path, i.is_dir) for i in repo.list_artifacts()] == [("folder", True)]
    assert [(i.path, i.file_size) for i in repo.list_artifacts("folder")] == [("folder/f.txt", 3)]
    got = repo.download_artifacts("folder", str(tmp_path / "dl"))
    assert sorted(p.name for p in pathlib.Path(got).iterdir()) == ["f.txt"]


def test_unsafe_keys_written_by_others_are_skipped(tmp_path: pathlib.Path) -> None:
    objects = {"p/ok.txt": b"ok", "p/../escape.txt": b"bad", "p/a\\..\\b.txt": b"bad", "p//x": b"bad"}
    repo = DictObjectStore("p", objects)
    assert [info.path for info in repo.list_artifacts()] == ["ok.txt"]
    dst = tmp_path / "dl" / "inner"
    repo.download_artifacts("", str(dst))
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "dl/inner/ok.txt"
    ]


def test_a_tree_download_lists_once(tmp_path: pathlib.Path) -> None:
    repo = DictObjectStore("p")
    for i in range(5):
        repo.log_artifact(_file(tmp_path, f"f{i}.txt", b"x"), f"t/d{i}")
    repo.calls.clear()
    repo.download_artifacts("t", str(tmp_path / "dl"))
    assert [c for c in repo.calls if c.startswith("list")] == ["list 'p/t/' True"]


def test_a_broken_download_leaves_no_file(tmp_path: pathlib.Path) -> None:
    repo = DictObjectStore("p")
    repo.log_artifact(_file(tmp_path, "big.bin", b"0123456789" * 100), "d")
    repo.log_artifact(_file(tmp_path, "other.bin", b"abc"), "d")
    repo.fail_gets = True
    dst = tmp_path / "dl"
    with pytest.raises(ConnectionError):
        repo.download_artifacts("d/big.bin", str(dst))
    with pytest.raises(ConnectionError):
        repo.download_artifacts("d", str(dst))
    assert [p for p in dst.rglob("*") if p.is_file()] == []
    shutil.rmtree(dst)


def test_a_bad_prefix_in_the_uri_is_refused() -> None:
    with pytest.raises(TrackletException, match="Invalid artifact URI") as info:
        DictObjectStore("exp/../other")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
