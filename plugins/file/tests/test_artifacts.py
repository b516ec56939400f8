"""LocalArtifactRepository: copies, listings, downloads, deletes, and paths kept inside the root."""

from __future__ import annotations

import os
import pathlib

import pytest

from tracklet.entities import FileInfo
from tracklet.exceptions import TrackletException
from tracklet_file.artifacts import LocalArtifactRepository


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> LocalArtifactRepository:
    return LocalArtifactRepository(str(tmp_path / "artifacts"))


@pytest.fixture
def src(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small tree to upload: a.txt, sub/b.txt, sub/deeper/c.bin."""
    root = tmp_path / "src"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("aaa")
    (root / "sub" / "b.txt").write_text("bb")
    (root / "sub" / "deeper" / "c.bin").write_bytes(b"\x00" * 10)
    return root


def test_root_from_plain_path_or_file_uri(tmp_path: pathlib.Path, src: pathlib.Path) -> None:
    by_uri = LocalArtifactRepository((tmp_path / "x").as_uri())
    by_uri.log_artifact(str(src / "a.txt"))
    assert (tmp_path / "x" / "a.txt").read_text() == "aaa"


def test_log_and_list(repo: LocalArtifactRepository, src: pathlib.Path) -> None:
    repo.log_artifact(str(src / "a.txt"))
    repo.log_artifact(str(src / "a.txt"), "one/two")
    repo.log_artifacts(str(src), "tree")
    assert repo.list_artifacts() == [
        FileInfo("a.txt", False, 3),
        FileInfo("one", True, None),
        FileInfo("tree", True, None),
    ]
    assert repo.list_artifacts("tree") == [FileInfo("tree/a.txt", False, 3), FileInfo("tree/sub", True, None)]
    assert repo.list_artifacts("tree/sub/deeper") == [FileInfo("tree/sub/deeper/c.bin", False, 10)]
    assert repo.list_artifacts("one/two") == [FileInfo("one/two/a.txt", False, 3)]
    assert repo.list_artifacts("missing") == []
    assert repo.list_artifacts("a.txt") == []


def test_log_artifacts_at_root_and_overwrite(repo: LocalArtifactRepository, src: pathlib.Path) -> None:
    repo.log_artifacts(str(src))
    (src / "a.txt").write_text("new")
    repo.log_artifacts(str(src))
    assert [f.path for f in repo.list_artifacts()] == ["a.txt", "sub"]
    assert pathlib.Path(repo.artifact_dir, "a.txt").read_text() == "new"


def test_download(repo: LocalArtifactRepository, src: pathlib.Path, tmp_path: pathlib.Path) -> None:
    repo.log_artifacts(str(src), "tree")
    dst = tmp_path / "dst"
    dst.mkdir()
    out = repo.download_artifacts("tree/sub", str(dst))
    assert out == str(dst / "tree" / "sub")
    assert (dst / "tree" / "sub" / "deeper" / "c.bin").read_bytes() == b"\x00" * 10
    single = repo.download_artifacts("tree/a.txt", str(dst))
    assert pathlib.Path(single).read_text() == "aaa"
    # Without a destination the artifact's own local path is returned, as in MLflow.
    assert repo.download_artifacts("tree/a.txt") == os.path.join(repo.artifact_dir, "tree", "a.txt")
    target = tmp_path / "one.txt"
    repo._download_file("tree/a.txt", str(target))
    assert target.read_text() == "aaa"
    with pytest.raises(TrackletException) as exc:
        repo.download_artifacts("nope", str(dst))
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_delete(repo: LocalArtifactRepository, src: pathlib.Path) -> None:
    repo.log_artifacts(str(src))
    repo.delete_artifacts("sub/b.txt")
    assert [f.path for f in repo.list_artifacts("sub")] == ["sub/deeper"]
    repo.delete_artifacts("sub")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    repo.delete_artifacts("not-there")
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc", "..\\x", "%2e%2e/x", "C:/x", "%2F..%2Fetc"])
def test_traversal_is_refused_everywhere(
    repo: LocalArtifactRepository, src: pathlib.Path, tmp_path: pathlib.Path, bad: str
) -> None:
    repo.log_artifact(str(src / "a.txt"))
    before = sorted(p.name for p in tmp_path.iterdir())
    calls = [
        lambda: repo.log_artifact(str(src / "a.txt"), bad),
        lambda: repo.log_artifacts(str(src), bad),
        lambda: repo.list_artifacts(bad),
        lambda: repo.download_artifacts(bad, str(tmp_path)),
        lambda: repo._download_file(bad, str(tmp_path / "out")),
        lambda: repo.delete_artifacts(bad),
    ]
    for call in calls:
        with pytest.raises(TrackletException) as exc:
            call()
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_symlinks_out_of_the_root_are_refused(
    repo: LocalArtifactRepository, src: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    os.makedirs(repo.artifact_dir)
    os.symlink(outside, os.path.join(repo.artifact_dir, "link"))
    os.symlink(outside / "secret", os.path.join(repo.artifact_dir, "secret-link"))
    dst = tmp_path / "dst"
    dst.mkdir()
    calls = [
        lambda: repo.log_artifact(str(src / "a.txt"), "link"),
        lambda: repo.log_artifacts(str(src), "link"),
        lambda: repo.list_artifacts("link"),
        lambda: repo.download_artifacts("secret-link", str(dst)),
        lambda: repo.download_artifacts("", str(dst)),  # the tree holds a link out
        lambda: repo._download_file("link/secret", str(dst / "x")),
        lambda: repo.delete_artifacts("link/secret"),
    ]
    for call in calls:
        with pytest.raises(TrackletException) as exc:
            call()
        assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert not (dst / "secret-link").exists()


def test_symlinks_inside_the_root_work(repo: LocalArtifactRepository, src: pathlib.Path) -> None:
    repo.log_artifacts(str(src), "real")
    os.symlink(os.path.join(repo.artifact_dir, "real"), os.path.join(repo.artifact_dir, "alias"))
    assert [f.path for f in repo.list_artifacts("alias")] == ["alias/a.txt", "alias/sub"]


def test_staging_files_are_never_listed(repo: LocalArtifactRepository, src: pathlib.Path) -> None:
    repo.log_artifact(str(src / "a.txt"))
    pathlib.Path(repo.artifact_dir, ".artifact.uploading.abc").write_text("partial")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    reserved = src / ".artifact.uploading.x"
    reserved.write_text("x")
    with pytest.raises(TrackletException) as exc:
        repo.log_artifact(str(reserved))
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
