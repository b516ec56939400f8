"""What a copy is asked to do: which objects, where artifacts go, where its journal lives."""

from __future__ import annotations

import dataclasses
import hashlib
import os

__all__ = ["Options", "default_journal_path", "normalized_uri"]


@dataclasses.dataclass(frozen=True)
class Options:
    """The options of :func:`tracklet.migrate.migrate` and :func:`tracklet.migrate.verify`.

    :param experiments: ids or names of the experiments to copy; empty means all of them
        (active and deleted).
    :param run_filter: a ``search_runs`` filter: only matching runs are copied.
    :param artifact_root: root under which the destination's artifacts go
        (``<root>/<experiment id>/<run id>/artifacts``); None: the destination's own root
        (the parent of its Default experiment's location).
    :param keep_artifact_uris: keep the source's artifact locations and copy no artifacts
        (both sides then share one artifact store).
    :param artifacts: copy run artifacts (False: URIs are still rewritten, files not copied).
    :param journal: where the resume journal lives; None: under the cache folder, named
        after the two URIs (:func:`default_journal_path`).
    :param progress: tqdm bars on stderr, one per phase.
    :param workers: threads copying artifact files at once.
    :param run_workers: runs copied at once; None: 4 when a side is a server, else 1.
    :param renumber_experiments: give experiments the destination's ids (its experiment of
        the same name, or a new one) instead of keeping theirs; runs keep their ids. For
        MLflow file stores' 18-digit ids, which SQL stores cannot hold.
    """

    experiments: tuple[str, ...] = ()
    run_filter: str = ""
    artifact_root: str | None = None
    keep_artifact_uris: bool = False
    artifacts: bool = True
    journal: str | None = None
    progress: bool = False
    workers: int = 8
    run_workers: int | None = None
    renumber_experiments: bool = False

    @property
    def copies_artifacts(self) -> bool:
        return self.artifacts and not self.keep_artifact_uris

    def artifact_mode(self) -> str:
        """What decides the artifact URIs a copy writes: a journal made under another mode
        says nothing about this one."""
        if self.keep_artifact_uris:
            return "keep"
        return f"root={self.artifact_root or ''};files={int(self.artifacts)}"


def normalized_uri(uri: str) -> str:
    """``uri`` with a relative local path made absolute, so one copy started from two
    folders finds the same journal."""
    if "://" not in uri and not uri.startswith(("file:", "mlflow-artifacts:")):
        return os.path.abspath(uri)
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + os.path.abspath(uri[len("sqlite:///") :])
    return uri


def default_journal_path(src: str, dst: str) -> str:
    """``$XDG_CACHE_HOME/tracklet/migrate/<hash of SRC and DST>.jsonl`` (``~/.cache`` when unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(f"{normalized_uri(src)}\0{normalized_uri(dst)}".encode()).hexdigest()[:20]
    return os.path.join(cache, "tracklet", "migrate", f"{digest}.jsonl")
