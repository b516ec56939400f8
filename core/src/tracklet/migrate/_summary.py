"""What a copy did (or, in a dry run, would do), counted per kind of object."""

from __future__ import annotations

import dataclasses

__all__ = ["Summary"]


@dataclasses.dataclass
class Summary:
    """Counts of one :func:`tracklet.migrate.migrate` call."""

    src: str
    dst: str
    dry_run: bool = False
    experiments: int = 0
    runs: int = 0
    #: Runs the journal lists as copied by an earlier, interrupted call: not copied again.
    runs_skipped: int = 0
    params: int = 0
    tags: int = 0
    dataset_inputs: int = 0
    metric_histories: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    #: Files already at the destination with the same size (an earlier call sent them).
    artifact_files_skipped: int = 0
    traces: int = 0
    spans: int = 0
    #: Traces the journal lists as copied by an earlier, interrupted call.
    traces_skipped: int = 0
    #: The registry phase's counts per kind of object (empty when it did not run).
    registry: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    #: Things the reader should know: a phase skipped and why, a journal not used...
    notes: list[str] = dataclasses.field(default_factory=list)
    #: Ids of the runs copied (in copy order): what ``--dry-run -v`` lists.
    run_ids: list[str] = dataclasses.field(default_factory=list)
    experiment_ids: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as the command prints it."""
        verb = "Would copy" if self.dry_run else "Copied"
        head = f"{verb} {self.src} -> {self.dst}"
        if not self.dry_run:
            head += f" in {self.seconds:.1f} s"
        out = [head + ("  (dry run: nothing written)" if self.dry_run else "")]
        out.append(
            f"  experiments: {self.experiments:,}   runs: {self.runs:,}"
            f"   runs already copied (journal): {self.runs_skipped:,}"
        )
        out.append(
            f"  params: {self.params:,}   tags: {self.tags:,}   dataset inputs: {self.dataset_inputs:,}"
        )
        out.append(f"  metric histories: {self.metric_histories:,} ({self.metric_points:,} points)")
        out.append(
            f"  artifacts: {self.artifact_files:,} files ({_size(self.artifact_bytes)}), "
            f"{self.artifact_files_skipped:,} already there"
        )
        out.append(
            f"  traces: {self.traces:,} ({self.spans:,} spans)   traces already copied (journal): "
            f"{self.traces_skipped:,}"
        )
        if self.registry:
            out.append("  registry: " + "   ".join(f"{k}: {v:,}" for k, v in sorted(self.registry.items())))
        out.extend(f"  note: {note}" for note in self.notes)
        return out


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns
