"""Logged models in an ``mlruns`` folder, beside the runs of their experiment (MLflow's layout).

A logged model's params and tags are written in a hidden folder of ``<exp>/models/``,
renamed to the model's id, and its ``meta.yaml`` written last, which makes it exist; each
later change rewrites one file atomically (``meta.yaml`` under the
model's lock file, so a finalize and a delete at once both land).
"""

from __future__ import annotations

import builtins
import hashlib
import os
import uuid
from collections.abc import Sequence
from typing import Any

from tracklet.entities import (
    LifecycleStage,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
)
from tracklet.exceptions import INVALID_STATE, TrackletException
from tracklet.stores.helpers import random_run_name
from tracklet.stores.refusals import no_such_experiment, no_such_run, run_not_active
from tracklet.stores.registry import (
    logged_model_experiment_not_active,
    no_logged_model_tag,
    no_such_logged_model,
)
from tracklet.uri import append_to_uri_path
from tracklet.utils.time import now_ms

from ._fsio import file_lock, list_dir, new_temp_dir, read_text, remove_tree, subdirs, write_atomic
from ._layout import (
    INPUTS,
    LOCK_FILE,
    META,
    METRICS,
    MODELS,
    OUTPUTS,
    PARAMS,
    TAGS,
    TRASH,
    dump_yaml,
    key_files,
    load_yaml,
    safe_join,
)

__all__ = ["LoggedModelFolder"]

#: Folders of the root that are not experiments.
_NOT_EXPERIMENTS = frozenset({TRASH, MODELS})


def _text(value: Any) -> str:
    """A tag or param value as MLflow writes it: None as an empty file."""
    return "" if value is None else str(value)


class LoggedModelFolder:
    """The logged models of every experiment of an ``mlruns`` root."""

    def __init__(self, root: str) -> None:
        self.root = root

    # -- experiments -------------------------------------------------------------------

    def _experiment_dir(self, experiment_id: str) -> str | None:
        """The folder of an experiment, active or deleted; None if there is none."""
        if not experiment_id or os.sep in experiment_id or experiment_id.startswith("."):
            return None
        for parent in (self.root, os.path.join(self.root, TRASH)):
            path = os.path.join(parent, experiment_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        return None

    def _experiment_dirs(self) -> list[tuple[str, str]]:
        """``(experiment_id, folder)`` of every experiment, active ones first."""
        found = [
            (name, os.path.join(self.root, name))
            for name in subdirs(self.root)
            if name not in _NOT_EXPERIMENTS
        ]
        trash = os.path.join(self.root, TRASH)
        found += [(name, os.path.join(trash, name)) for name in subdirs(trash)]
        return found

    # -- reading -------------------------------------------------------------------------

    def _find(self, model_id: str) -> tuple[str, str] | None:
        """``(experiment_id, model folder)`` of a logged model, deleted or not."""
        if not model_id or "/" in model_id or os.sep in model_id or model_id.startswith("."):
            return None
        for experiment_id, folder in self._experiment_dirs():
            path = os.path.join(folder, MODELS, model_id)
            if os.path.isfile(os.path.join(path, META)):
                return experiment_id, path
        return None

    def _read(self, folder: str) -> dict[str, Any] | None:
        return load_yaml(read_text(os.path.join(folder, META)))

    def _entity(self, meta: dict[str, Any], folder: str) -> LoggedModel:
        model_id = str(meta["model_id"])
        status = meta.get("status", 0)
        return LoggedModel(
            experiment_id=str(meta["experiment_id"]),
            model_id=model_id,
            name=str(meta.get("name") or ""),
            artifact_location=str(meta.get("artifact_location") or ""),
            creation_timestamp=int(meta.get("creation_timestamp") or 0),
            last_updated_timestamp=int(meta.get("last_updated_timestamp") or 0),
            model_type=meta.get("model_type"),
            source_run_id=meta.get("source_run_id"),
            status=status if isinstance(status, int) else LoggedModelStatus(str(status)),
            status_message=meta.get("status_message"),
            tags=key_files(os.path.join(folder, TAGS)),
            params=key_files(os.path.join(folder, PARAMS)),
            metrics=self._metrics(model_id, os.path.join(folder, METRICS)),
        )

    @staticmethod
    def _metrics(model_id: str, folder: str) -> list[Metric]:
        """For each metric and dataset, the value with the largest step, then timestamp,
        then value (MLflow's rule)."""
        found: list[Metric] = []
        for key, text in sorted(key_files(folder).items()):
            best: dict[tuple[str | None, str | None], Metric] = {}
            for line in text.splitlines():
                parts = line.strip().split(" ")
                if len(parts) not in (4, 6):
                    continue
                dataset = (parts[4], parts[5]) if len(parts) == 6 else (None, None)
                metric = Metric(
                    key=key,
                    value=float(parts[1]),
                    timestamp=int(parts[0]),
                    step=int(parts[2]),
                    model_id=model_id,
                    dataset_name=dataset[0],
                    dataset_digest=dataset[1],
                    run_id=parts[3],
                )
                seen = best.get(dataset)
                if seen is None or (metric.step, metric.timestamp, metric.value) > (
                    seen.step,
                    seen.timestamp,
                    seen.value,
                ):
                    best[dataset] = metric
            found.extend(best.values())
        return found

    def _live(self, model_id: str) -> tuple[str, dict[str, Any]]:
        """The folder and meta of a logged model that is not deleted."""
        found = self._find(model_id)
        if found is None:
            raise no_such_logged_model(model_id)
        experiment_id, folder = found
        meta = self._read(folder)
        if meta is None or meta.get("lifecycle_stage") == LifecycleStage.DELETED:
            raise no_such_logged_model(model_id)
        if str(meta.get("experiment_id")) != experiment_id:
            raise TrackletException(f"Model '{model_id}' metadata is in invalid state.", INVALID_STATE)
        return folder, meta

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        if allow_deleted:
            found = self._find(model_id)
            meta = self._read(found[1]) if found else None
            if found is None or meta is None:
                raise no_such_logged_model(model_id)
            return self._entity(meta, found[1])
        folder, meta = self._live(model_id)
        return self._entity(meta, folder)

    def params_and_metrics(self, model_id: str) -> tuple[dict[str, str], list[Any]] | None:
        """What a model version made from this logged model shows of it."""
        try:
            model = self.get(model_id)
        except TrackletException:
            return None
        return model.params, list(model.metrics or [])

    def list(self, experiment_id: str) -> list[LoggedModel]:
        """The logged models of an experiment that are not deleted."""
        experiment = self._experiment_dir(str(experiment_id))
        if experiment is None:
            return []
        models = []
        for entry in list_dir(os.path.join(experiment, MODELS)):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            meta = self._read(entry.path)
            if meta is None or meta.get("lifecycle_stage") == LifecycleStage.DELETED:
                continue
            if str(meta.get("experiment_id")) != str(experiment_id):
                continue
            models.append(self._entity(meta, entry.path))
        return models

    # -- writing -------------------------------------------------------------------------

    def create(
        self,
        experiment_id: str,
        name: str | None,
        source_run_id: str | None,
        tags: Sequence[LoggedModelTag],
        params: Sequence[Any],
        model_type: str | None,
    ) -> LoggedModel:
        experiment = self._experiment_dir(experiment_id)
        experiment_meta = load_yaml(read_text(os.path.join(experiment, META))) if experiment else None
        if experiment is None or experiment_meta is None:
            raise no_such_experiment(experiment_id)
        if experiment_meta.get("lifecycle_stage", LifecycleStage.ACTIVE) != LifecycleStage.ACTIVE:
            raise logged_model_experiment_not_active(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        artifact_root = str(experiment_meta.get("artifact_location") or "")
        meta = {
            "artifact_location": append_to_uri_path(artifact_root, MODELS, model_id, "artifacts"),
            "creation_timestamp": now,
            "experiment_id": str(experiment_id),
            "last_updated_timestamp": now,
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "model_id": model_id,
            "model_type": model_type,
            "name": name or random_run_name(),
            "source_run_id": source_run_id,
            "status": LoggedModelStatus.PENDING.to_int(),
            "status_message": None,
        }
        models = os.path.join(experiment, MODELS)
        os.makedirs(models, exist_ok=True)
        staging = new_temp_dir(models, model_id)
        try:
            os.mkdir(os.path.join(staging, METRICS))
            os.mkdir(os.path.join(staging, PARAMS))
            for param in params:
                write_atomic(safe_join(os.path.join(staging, PARAMS), param.key), _text(param.value), staging)
            for tag in tags:
                write_atomic(safe_join(os.path.join(staging, TAGS), tag.key), _text(tag.value), staging)
            os.rename(staging, os.path.join(models, model_id))
        except BaseException:
            remove_tree(staging)
            raise
        # meta.yaml last, once the folder has its name: MLflow lists every folder of
        # models/ as a model, so a staging folder must never hold one; a folder without it
        # (a crash just before) is no model for either tool.
        folder = os.path.join(models, model_id)
        write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)
        return self.get(model_id)

    def _rewrite(self, model_id: str, **changes: Any) -> None:
        folder, _meta = self._live(model_id)
        with file_lock(os.path.join(folder, LOCK_FILE)):
            folder, meta = self._live(model_id)
            meta.update(changes)
            meta["last_updated_timestamp"] = now_ms()
            write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)

    def finalize(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        self._rewrite(model_id, status=status.to_int())
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        self._rewrite(model_id, lifecycle_stage=LifecycleStage.DELETED)

    def set_tags(self, model_id: str, tags: Sequence[LoggedModelTag]) -> None:
        folder, _meta = self._live(model_id)
        for tag in tags:
            write_atomic(safe_join(os.path.join(folder, TAGS), tag.key), _text(tag.value), folder)

    def delete_tag(self, model_id: str, key: str) -> None:
        folder, _meta = self._live(model_id)
        path = safe_join(os.path.join(folder, TAGS), key)
        if not os.path.isfile(path):
            raise no_logged_model_tag(model_id, key)
        os.remove(path)

    def log_params(self, model_id: str, params: Sequence[Any]) -> None:
        folder, _meta = self._live(model_id)
        for param in params:
            write_atomic(safe_join(os.path.join(folder, PARAMS), param.key), _text(param.value), folder)

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record that a run produced these logged models (``<run>/outputs/<model_id>/meta.yaml``,
        MLflow's run outputs), once per model."""
        run = self._run_dir(run_id)
        if run is None:
            raise no_such_run(run_id)
        run_meta = load_yaml(read_text(os.path.join(run, META))) or {}
        stage = run_meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
        if stage != LifecycleStage.ACTIVE:
            raise run_not_active(run_id, stage)
        for output in models:
            folder = os.path.join(run, OUTPUTS, output.model_id)
            if os.path.exists(os.path.join(folder, META)):
                continue
            os.makedirs(folder, exist_ok=True)
            meta = {
                "destination_id": output.model_id,  # sic: MLflow writes the model id here too
                "destination_type": "MODEL_OUTPUT",
                "source_id": output.model_id,
                "source_type": "RUN_OUTPUT",
                "step": output.step,
                "tags": {},
            }
            write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)

    def _active_run_dir(self, run_id: str) -> str:
        run = self._run_dir(run_id)
        if run is None:
            raise no_such_run(run_id)
        run_meta = load_yaml(read_text(os.path.join(run, META))) or {}
        stage = run_meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
        if stage != LifecycleStage.ACTIVE:
            raise run_not_active(run_id, stage)
        return run

    def log_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Append metrics a run logged with a ``model_id`` to ``<model>/metrics/<key>`` as
        MLflow's file store does: ``<ts> <value> <step> <run_id> [<dataset> <digest>]``."""
        folders: dict[str, str] = {}
        for metric in metrics:
            model_id = str(metric.model_id)
            if model_id not in folders:
                folders[model_id] = self._live(model_id)[0]
            line = f"{metric.timestamp} {metric.value} {metric.step} {run_id}"
            if metric.dataset_name is not None and metric.dataset_digest is not None:
                line += f" {metric.dataset_name} {metric.dataset_digest}"
            path = safe_join(os.path.join(folders[model_id], METRICS), metric.key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as out:  # one short O_APPEND write per line
                out.write(line + "\n")

    def log_model_inputs(self, run_id: str, models: Sequence[LoggedModelInput]) -> None:
        """Record the logged models a run used: ``<run>/inputs/<md5(model_id, run_id)>/meta.yaml``
        (MLflow's file store's edge, ``source_type: MODEL``), once per model."""
        run = self._active_run_dir(run_id)
        for model in models:
            digest = hashlib.md5(model.model_id.encode("utf-8"), usedforsecurity=False)
            digest.update(run_id.encode("utf-8"))
            folder = os.path.join(run, INPUTS, digest.hexdigest())
            if os.path.exists(os.path.join(folder, META)):
                continue
            os.makedirs(folder, exist_ok=True)
            meta = {
                "destination_id": model.model_id,  # sic: MLflow writes the source id here
                "destination_type": "RUN",
                "source_id": model.model_id,
                "source_type": "MODEL",
                "tags": {},
            }
            write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)

    def run_model_links(
        self, run_id: str
    ) -> tuple[builtins.list[LoggedModelInput], builtins.list[LoggedModelOutput]]:
        """The models a run used and produced, read from its ``inputs/`` and ``outputs/``."""
        run = self._run_dir(run_id)
        if run is None:
            return [], []
        inputs: list[LoggedModelInput] = []
        for entry in list_dir(os.path.join(run, INPUTS)):
            edge = load_yaml(read_text(os.path.join(entry.path, META))) if entry.is_dir() else None
            if edge and edge.get("source_type") == "MODEL" and edge.get("source_id"):
                inputs.append(LoggedModelInput(str(edge["source_id"])))
        outputs: list[LoggedModelOutput] = []
        for entry in list_dir(os.path.join(run, OUTPUTS)):
            edge = load_yaml(read_text(os.path.join(entry.path, META))) if entry.is_dir() else None
            if edge and edge.get("destination_type") == "MODEL_OUTPUT" and edge.get("source_id"):
                outputs.append(LoggedModelOutput(str(edge["source_id"]), int(edge.get("step") or 0)))
        return inputs, outputs

    def _run_dir(self, run_id: str) -> str | None:
        if not run_id or "/" in run_id or os.sep in run_id or run_id.startswith("."):
            return None
        for _experiment_id, folder in self._experiment_dirs():
            path = os.path.join(folder, run_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        return None
