"""Client methods that turn Python objects into artifacts: images, figures, tables."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import tempfile
import uuid
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.multimedia import compress_image_size
from tracklet.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS, MLFLOW_LOGGED_IMAGES
from tracklet.utils.time import now_ms

if TYPE_CHECKING:
    from tracklet.entities import FileInfo, Run

_logger = logging.getLogger(__name__)
_IMAGE_KEY = re.compile(r"^[a-zA-Z0-9_\-./ ]+$")
_TABLE_FORBIDDEN = ['"', "'", ",", ":", "[", "]", "{", "}"]


class MediaMixin:
    """log_image, log_figure, log_table and load_table, built on the artifact methods."""

    if TYPE_CHECKING:  # provided by MlflowClient

        def _log_artifact_helper(self, run_id: str, artifact_file: str) -> AbstractContextManager[str]: ...
        def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]: ...
        def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str: ...
        def get_run(self, run_id: str) -> Run: ...
        def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any: ...
        def search_runs(self, *args: Any, **kwargs: Any) -> Any: ...

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Log an image (numpy array, PIL image or :class:`tracklet.Image`) as ``artifact_file``,
        or as a time-stepped image under ``key``/``step``: MLflow 3.17's
        ``images/<key>+step+<step>+timestamp+<ms>+<uuid>.png`` and a 256-pixel
        ``…+compressed.webp`` preview (``/`` in the key becomes ``~``), and the run tag
        ``mlflow.loggedImages``. Logging is synchronous whatever ``synchronous`` says."""
        if artifact_file is not None and any(arg is not None for arg in (key, step, timestamp)):
            raise TypeError(
                "The `artifact_file` parameter cannot be used in conjunction with `key`, "
                "`step`, or `timestamp` parameters. Please ensure that `artifact_file` is "
                "specified alone, without any of these conflicting parameters."
            )
        if artifact_file is None and key is None:
            raise TypeError(
                "Invalid arguments: Please specify exactly one of `artifact_file` or `key`. Use "
                "`key` to log dynamic image charts or `artifact_file` for saving static images. "
            )
        pil = _image_to_pil(image)
        if artifact_file is not None:
            with self._log_artifact_helper(run_id, artifact_file) as path:
                pil.save(path)
            return
        assert key is not None
        if not _IMAGE_KEY.match(key):
            raise ValueError(
                "The `key` parameter may only contain alphanumerics, underscores (_), dashes (-), "
                "periods (.), spaces ( ), and slashes (/)."  # no space after: MLflow's exact words
                f"The provided key `{key}` contains invalid characters."
            )
        stem = image_file_stem(key, step or 0, timestamp or now_ms())
        with self._log_artifact_helper(run_id, f"{stem}.png") as path:
            pil.save(path)
        with self._log_artifact_helper(run_id, f"{stem}+compressed.webp") as path:
            compress_image_size(pil).save(path)
        self.set_tag(run_id, MLFLOW_LOGGED_IMAGES, True)

    def log_stream(self, run_id: str, stream: Any, artifact_file: str) -> None:
        """Save what a binary file-like object reads (to its end) as ``artifact_file``."""
        with self._log_artifact_helper(run_id, artifact_file) as path:
            with open(path, "wb") as f:
                while chunk := stream.read(8192):
                    f.write(chunk)

    def log_figure(
        self, run_id: str, figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
    ) -> None:
        """Log a matplotlib figure (any format matplotlib writes) or a plotly figure (``.html``
        with plotly.js from the CDN, or ``.png``/``.jpeg``/``.webp``/``.svg``/``.pdf``);
        other objects and plotly extensions are TypeErrors, as in MLflow."""
        save_kwargs = save_kwargs or {}
        module = type(figure).__module__
        with self._log_artifact_helper(run_id, artifact_file) as path:
            if module.startswith("matplotlib"):
                figure.savefig(path, **save_kwargs)
            elif module.startswith("plotly"):
                extension = os.path.splitext(artifact_file)[1]
                if extension == ".html":
                    save_kwargs.setdefault("include_plotlyjs", "cdn")
                    save_kwargs.setdefault("auto_open", False)
                    figure.write_html(path, **save_kwargs)
                elif extension in (".png", ".jpeg", ".webp", ".svg", ".pdf"):
                    figure.write_image(path, **save_kwargs)
                else:
                    raise TypeError(f"Unsupported file extension for plotly figure: '{extension}'")
            else:
                raise TypeError(f"Unsupported figure object type: '{type(figure)}'")

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Log a dict or DataFrame as a ``.json`` (split orient) or ``.parquet`` table artifact;
        an existing table at the same path is appended to."""
        import pandas as pd

        _check_table_file(artifact_file)
        if not isinstance(data, (pd.DataFrame, dict)):
            raise TrackletException(
                "data must be a pandas.DataFrame or a dictionary", INVALID_PARAMETER_VALUE
            )
        if isinstance(data, dict):
            try:
                data = pd.DataFrame(data)
            except ValueError:
                data = pd.DataFrame([data])
        data = self._table_images_to_files(run_id, data, artifact_file)
        existing = self._read_table(run_id, artifact_file)
        if existing is not None:
            data = pd.concat([existing, data], ignore_index=True)
        with self._log_artifact_helper(run_id, artifact_file) as path:
            try:
                _write_table(data, path)
            except Exception as e:
                raise TrackletException(
                    f"Failed to save the table as it is not JSON serializable: {e}", INVALID_PARAMETER_VALUE
                ) from e
        logged = json.loads(self.get_run(run_id).data.tags.get(MLFLOW_LOGGED_ARTIFACTS, "[]"))
        entry = {"path": artifact_file, "type": "table"}
        if entry not in logged:
            logged.append(entry)
            self.set_tag(run_id, MLFLOW_LOGGED_ARTIFACTS, json.dumps(logged))

    def _table_images_to_files(self, run_id: str, data: Any, artifact_file: str) -> Any:
        def is_image(obj: Any) -> bool:
            return all(callable(getattr(obj, a, None)) for a in ("save", "resize")) and hasattr(obj, "size")

        def store(image: Any) -> dict[str, str]:
            stem = posixpath.join("table_images", os.path.splitext(artifact_file)[0], str(uuid.uuid4()))
            with self._log_artifact_helper(run_id, stem + ".png") as path:
                image.save(path)
            pil = image.to_pil() if hasattr(image, "to_pil") else image
            with self._log_artifact_helper(run_id, stem + ".webp") as path:
                compress_image_size(pil).save(path)
            return {"type": "image", "filepath": stem + ".png", "compressed_filepath": stem + ".webp"}

        # images can only sit in object columns (pandas 3 gives strings their own dtype)
        for column in [c for c in data.columns if data[c].dtype == object]:
            flags = data[column].map(is_image)
            if flags.any() and not flags.all():
                raise ValueError(
                    f"Column `{column}` contains a mix of images and non-images. "
                    "Please ensure that all elements in the column are of the same type."
                )
            if flags.all():
                data[column] = data[column].map(store)
        return data

    def _read_table(self, run_id: str, artifact_file: str) -> Any:
        directory = posixpath.dirname(posixpath.normpath(artifact_file)) or None
        if artifact_file not in [f.path for f in self.list_artifacts(run_id, directory) if not f.is_dir]:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            return _read_table_file(self.download_artifacts(run_id, artifact_file, tmp))

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: list[str] | None = None,
        extra_columns: list[str] | None = None,
    ) -> Any:
        """Concatenate a table logged with :meth:`log_table` across runs of an experiment,
        optionally adding run columns such as ``run_id``."""
        import pandas as pd

        _check_table_file(artifact_file, check_extension=False)
        pattern = f'"path"%:%"{artifact_file}",%"type"%:%"table"'
        filter_string = f"tags.{MLFLOW_LOGGED_ARTIFACTS} LIKE '%{pattern}%'"
        if run_ids:
            filter_string += f" and attributes.run_id IN ({','.join(map(repr, run_ids))})"
        runs = _all_pages(self, [experiment_id], filter_string)
        if run_ids and len(run_ids) != len(runs):
            _logger.warning("Not all runs have the specified table artifact. Some runs will be skipped.")
        if not runs:
            raise TrackletException(
                "No runs found with the corresponding table artifact.", RESOURCE_DOES_NOT_EXIST
            )
        frames = []
        for run in runs:
            table = self._read_table(run.info.run_id, artifact_file)
            if table is None:
                raise TrackletException(
                    f"Artifact {artifact_file} not found for run {run.info.run_id}.", RESOURCE_DOES_NOT_EXIST
                )
            row = _run_row(run)
            for column in extra_columns or []:
                name = f"{column}_" if column in table else column
                table[name] = row.get(column)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)


def image_file_stem(key: str, step: int, timestamp: int) -> str:
    """``images/<key>+step+<step>+timestamp+<ms>+<uuid>``: MLflow 3.17's name for a
    time-stepped image (``+`` separators, which URLs and servers pass unchanged; ``/`` in
    the key becomes ``~`` so the image stays one file under ``images/``)."""
    return f"images/{key.replace('/', '~')}+step+{step}+timestamp+{timestamp}+{uuid.uuid4()}"


def _image_to_pil(image: Any) -> Any:
    """A PIL image from what MLflow's ``log_image`` accepts: a numpy array, a PIL image or a
    :class:`tracklet.Image` (anything else is a TypeError, as in MLflow)."""
    from tracklet.multimedia import Image, _pil, convert_to_pil_image

    if isinstance(image, Image):
        return image.to_pil()
    if isinstance(image, _pil().Image) or type(image).__module__ == "numpy":
        return convert_to_pil_image(image)
    raise TypeError(
        f"Unsupported image object type: {type(image)}. "
        "`image` must be one of numpy.ndarray, PIL.Image.Image, and mlflow.Image."
    )


def _all_pages(client: Any, experiment_ids: list[str], filter_string: str) -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _run_row(run: Run) -> dict[str, Any]:
    """A run flattened like a row of ``search_runs``' DataFrame."""
    info = run.info
    row: dict[str, Any] = {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "artifact_uri": info.artifact_uri,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "run_name": info.run_name,
    }
    row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
    row.update({f"params.{k}": v for k, v in run.data.params.items()})
    row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
    return row


def _check_table_file(artifact_file: str, check_extension: bool = True) -> None:
    for char in _TABLE_FORBIDDEN:
        if char in artifact_file:
            raise ValueError(f"The artifact_file contains forbidden character: {char}")
    if check_extension and not artifact_file.endswith((".json", ".parquet")):
        raise ValueError(
            f"Invalid artifact file path '{artifact_file}'. Please ensure the file you are trying to "
            "log as a table has a file name with either '.json' or '.parquet' extension."
        )


def _write_table(data: Any, path: str) -> None:
    if path.endswith(".json"):
        data.to_json(path, orient="split", index=False, date_format="iso")
    else:
        data.to_parquet(path, index=False)


def _read_table_file(path: str) -> Any:
    import pandas as pd

    if path.endswith(".json"):
        return pd.read_json(path, orient="split")
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    raise ValueError(f"Unsupported file type in {path}. Expected .json or .parquet")
