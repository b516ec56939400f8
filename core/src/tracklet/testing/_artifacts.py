"""The artifact repository conformance suite: upload, list, download and delete, odd
names and contents, and path-escape attempts refused with nothing written outside."""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tracklet.entities import FileInfo
from tracklet.stores import ArtifactRepository
from tracklet.testing._fork import ArtifactForkTests
from tracklet.testing._support import raises_code

_Tree = list[tuple[str, bool, int | None]]

_ESCAPES = [
    "..",
    "../escape",
    "inside/../../escape",
    "{abs}",
    "C:\\escape",
    "C:escape",
    "inside\\..\\..\\escape",
    "%2e%2e/escape",
    "inside/%2E%2E/%2e%2e/escape",
    "..%2fescape",
]
_ESCAPE_IDS = [
    "dot-dot",
    "dot-dot-slash",
    "inner-dot-dot",
    "absolute",
    "drive-backslash",
    "drive-relative",
    "backslashes",
    "percent-dots",
    "percent-dots-upper",
    "percent-slash",
]


def tree(repo: ArtifactRepository, path: str | None = None) -> _Tree:
    """Every entry under ``path``, depth first, as (path, is_dir, file_size)."""
    out: _Tree = []
    for info in repo.list_artifacts(path):
        out.append((info.path, info.is_dir, info.file_size))
        if info.is_dir:
            out.extend(tree(repo, info.path))
    return out


def _write(path: pathlib.Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


def _local_tree(root: str) -> dict[str, bytes]:
    """Files under a local folder: relative POSIX path -> content."""
    out: dict[str, bytes] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(folder, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = f.read()
    return out


class ArtifactRepositorySuite(ArtifactForkTests):
    """Inherit this and define a ``repo`` fixture returning a new, empty
    :class:`~tracklet.stores.ArtifactRepository`; every test below then runs on it."""

    @pytest.fixture
    def repo(self) -> ArtifactRepository:
        """Override: a fresh, empty repository for each test."""
        pytest.fail(
            f"{type(self).__name__} must define a `repo` fixture returning a new, empty ArtifactRepository"
        )

    @pytest.fixture
    def local(self, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
        """A scratch folder for source files and downloads, never inside the repository."""
        return tmp_path_factory.mktemp("artifact-suite-local")

    def test_repo_is_an_artifact_repository(self, repo: ArtifactRepository) -> None:
        assert isinstance(repo, ArtifactRepository)
        assert isinstance(repo.artifact_uri, str) and repo.artifact_uri

    def test_new_repository_is_empty(self, repo: ArtifactRepository) -> None:
        assert repo.list_artifacts() == []
        assert repo.list_artifacts("anything") == []

    # -- upload and list ---------------------------------------------------------------------

    def test_log_artifact_at_the_root(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "hello.txt", b"hello"))
        assert repo.list_artifacts() == [FileInfo("hello.txt", False, 5)]
        assert repo.list_artifacts("") == [FileInfo("hello.txt", False, 5)]

    def test_log_artifact_into_a_nested_path(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"abc"), "a/b")
        assert repo.list_artifacts() == [FileInfo("a", True, None)]
        assert repo.list_artifacts("a") == [FileInfo("a/b", True, None)]
        assert repo.list_artifacts("a/b") == [FileInfo("a/b/f.txt", False, 3)]

    def test_listing_is_one_level_and_sorted(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        for name in ("z.txt", "a.txt", "B.txt"):
            repo.log_artifact(_write(local / name, name.encode()))
        repo.log_artifact(_write(local / "inner.txt", b"12"), "m/deeper")
        assert repo.list_artifacts() == [
            FileInfo("B.txt", False, 5),
            FileInfo("a.txt", False, 5),
            FileInfo("m", True, None),
            FileInfo("z.txt", False, 5),
        ]

    def test_listing_a_file_or_a_missing_path_is_empty(
        self, repo: ArtifactRepository, local: pathlib.Path
    ) -> None:
        repo.log_artifact(_write(local / "f.txt", b"x"), "d")
        assert repo.list_artifacts("d/f.txt") == []
        assert repo.list_artifacts("missing") == []
        assert repo.list_artifacts("d/missing/deeper") == []

    def test_log_artifacts_uploads_a_tree(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        files = {"top.txt": b"top", "sub/one.bin": b"\x00\x01", "sub/deeper/two.txt": b"two"}
        for rel, content in files.items():
            _write(local / "src" / rel, content)
        repo.log_artifacts(str(local / "src"), "tree")
        repo.log_artifacts(str(local / "src"))
        expected = [
            ("sub", True, None),
            ("sub/deeper", True, None),
            ("sub/deeper/two.txt", False, 3),
            ("sub/one.bin", False, 2),
            ("top.txt", False, 3),
        ]
        assert tree(repo, "tree") == [("tree/" + p, d, s) for p, d, s in expected]
        assert [entry for entry in tree(repo) if not entry[0].startswith("tree")] == expected

    def test_log_artifacts_with_an_empty_folder(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        _write(local / "src" / "kept.txt", b"k")
        (local / "src" / "empty").mkdir()
        repo.log_artifacts(str(local / "src"), "out")
        entries = {path: (is_dir, size) for path, is_dir, size in tree(repo)}
        assert entries["out/kept.txt"] == (False, 1)
        # object stores have no empty folders; a store that keeps one lists it as a folder
        assert entries.get("out/empty", (True, None)) == (True, None)

    def test_uploading_again_replaces_the_file(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "v" / "f.txt", b"first version"), "d")
        repo.log_artifact(_write(local / "w" / "f.txt", b"second"), "d")
        assert repo.list_artifacts("d") == [FileInfo("d/f.txt", False, 6)]
        assert _read(repo.download_artifacts("d/f.txt", str(local / "dl"))) == b"second"

    def test_empty_file(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "empty.txt", b""))
        assert repo.list_artifacts() == [FileInfo("empty.txt", False, 0)]
        assert _read(repo.download_artifacts("empty.txt", str(local / "dl"))) == b""

    def test_binary_content_round_trips(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        content = bytes(range(256)) * 4096 + b"\r\n\x00end"
        repo.log_artifact(_write(local / "blob.bin", content), "bin")
        assert repo.list_artifacts("bin") == [FileInfo("bin/blob.bin", False, len(content))]
        assert _read(repo.download_artifacts("bin/blob.bin", str(local / "dl"))) == content

    def test_unicode_and_space_names(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        name = "données d'été 数据.txt"
        repo.log_artifact(_write(local / name, "ç".encode()), "dir with space/ünï")
        assert repo.list_artifacts() == [FileInfo("dir with space", True, None)]
        assert repo.list_artifacts("dir with space/ünï") == [FileInfo(f"dir with space/ünï/{name}", False, 2)]
        got = repo.download_artifacts(f"dir with space/ünï/{name}", str(local / "dl"))
        assert _read(got) == "ç".encode()

    # -- download ----------------------------------------------------------------------------

    def test_download_a_file_to_a_folder(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"data"), "a/b")
        dst = local / "dl"
        got = repo.download_artifacts("a/b/f.txt", str(dst))
        assert os.path.abspath(got) == os.path.abspath(dst / "a" / "b" / "f.txt")
        assert _read(got) == b"data"

    def test_download_a_tree_to_a_folder(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        files = {"x.txt": b"x", "sub/y.txt": b"yy"}
        for rel, content in files.items():
            repo.log_artifact(_write(local / "src" / rel, content), _folder_of("tree", rel))
        repo.log_artifact(_write(local / "other.txt", b"not in the tree"))
        dst = local / "dl"
        got = repo.download_artifacts("tree", str(dst))
        assert os.path.abspath(got) == os.path.abspath(dst / "tree")
        assert _local_tree(got) == files

    def test_download_the_root(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "a.txt", b"a"))
        repo.log_artifact(_write(local / "b.txt", b"b"), "d")
        dst = local / "dl"
        got = repo.download_artifacts("", str(dst))
        assert os.path.abspath(got) == os.path.abspath(dst)
        assert _local_tree(got) == {"a.txt": b"a", "d/b.txt": b"b"}

    def test_download_without_a_destination(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"file"), "d")
        repo.log_artifact(_write(local / "g.txt", b"gee"), "d/e")
        assert _read(repo.download_artifacts("d/f.txt")) == b"file"
        assert _local_tree(repo.download_artifacts("d")) == {"f.txt": b"file", "e/g.txt": b"gee"}

    def test_download_of_a_missing_artifact(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"x"), "d")
        for missing in ("nothing.txt", "d/nothing.txt", "nothing/deeper"):
            with raises_code("RESOURCE_DOES_NOT_EXIST"):
                repo.download_artifacts(missing, str(local / "dl"))

    # -- delete ------------------------------------------------------------------------------

    def test_delete_a_file(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "gone.txt", b"1"), "d")
        repo.log_artifact(_write(local / "kept.txt", b"2"), "d")
        repo.delete_artifacts("d/gone.txt")
        assert tree(repo) == [("d", True, None), ("d/kept.txt", False, 1)]

    def test_delete_a_tree(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"1"), "gone/deeper")
        repo.log_artifact(_write(local / "g.txt", b"2"), "gone")
        repo.log_artifact(_write(local / "kept.txt", b"3"))
        repo.delete_artifacts("gone")
        assert tree(repo) == [("kept.txt", False, 1)]

    def test_delete_everything(self, repo: ArtifactRepository, local: pathlib.Path) -> None:
        repo.log_artifact(_write(local / "f.txt", b"1"), "d")
        repo.log_artifact(_write(local / "g.txt", b"2"))
        repo.delete_artifacts()
        assert repo.list_artifacts() == []
        repo.log_artifact(_write(local / "again.txt", b"3"))  # still usable afterwards
        assert repo.list_artifacts() == [FileInfo("again.txt", False, 1)]

    def test_deleting_something_missing_changes_nothing(
        self, repo: ArtifactRepository, local: pathlib.Path
    ) -> None:
        repo.log_artifact(_write(local / "f.txt", b"1"), "d")
        before = tree(repo)
        repo.delete_artifacts("missing")
        repo.delete_artifacts("d/missing.txt")
        assert tree(repo) == before

    # -- paths that try to leave the root ----------------------------------------------------------

    @pytest.mark.parametrize("operation", ["log_artifact", "log_artifacts", "list", "download", "delete"])
    @pytest.mark.parametrize("escape", _ESCAPES, ids=_ESCAPE_IDS)
    def test_paths_leaving_the_root_are_refused(
        self,
        repo: ArtifactRepository,
        local: pathlib.Path,
        tmp_path: pathlib.Path,
        tmp_path_factory: pytest.TempPathFactory,
        escape: str,
        operation: str,
    ) -> None:
        sentinel = f"escape-{uuid.uuid4().hex}.txt"
        source = _write(local / "src" / sentinel, b"must not leave the root")
        repo.log_artifact(_write(local / "inside.txt", b"inside"), "inside")
        path = escape.replace("{abs}", str(tmp_path / "escape"))
        before = (tree(repo), _paths(tmp_path))
        with raises_code("INVALID_PARAMETER_VALUE"):
            _ESCAPE_OPERATIONS[operation](repo, path, source, str(local / "dl"))
        assert (tree(repo), _paths(tmp_path)) == before
        leaked = [
            p
            for p in _copies(tmp_path, tmp_path_factory.getbasetemp(), sentinel)
            if p != str(pathlib.Path(source).resolve())
        ]
        assert leaked == [], f"{operation} with {path!r} wrote outside the root: {leaked}"


def _folder_of(prefix: str, rel: str) -> str:
    """``prefix`` joined with the folder part of ``rel`` (``"tree", "sub/y.txt"`` -> ``"tree/sub"``)."""
    folder = rel.rpartition("/")[0]
    return f"{prefix}/{folder}" if folder else prefix


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _paths(root: pathlib.Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*"))


def _copies(tmp_path: pathlib.Path, basetemp: pathlib.Path, name: str) -> list[str]:
    """Files called ``name`` anywhere under ``tmp_path``, or up to two levels under the
    session's base temporary folder (as far as the escape paths climb from a root in it)."""
    found = set(tmp_path.rglob(name))
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        found.update(basetemp.glob(pattern))
    # resolved: pytest keeps "<name>current" symlinks to the latest temporary folders
    return sorted({str(p.resolve()) for p in found})


_ESCAPE_OPERATIONS: dict[str, Callable[[ArtifactRepository, str, str, str], Any]] = {
    "log_artifact": lambda repo, path, source, dst: repo.log_artifact(source, path),
    "log_artifacts": lambda repo, path, source, dst: repo.log_artifacts(os.path.dirname(source), path),
    "list": lambda repo, path, source, dst: repo.list_artifacts(path),
    "download": lambda repo, path, source, dst: repo.download_artifacts(path, dst),
    "delete": lambda repo, path, source, dst: repo.delete_artifacts(path),
}
