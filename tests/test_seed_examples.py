"""Every code example of the seeds, run as a script: under tracklet, and under real MLflow.

The examples live in ``tests/seed_examples/examples`` (see ``extract.py`` there):

- ``NN_*.py``: MlflowClient's docstrings (seed 003). 00-03 and 11-44 are tracking and
  artifacts, 04-10 tracing (run on the file store, on sqlite and over ``tracklet server`` by
  ``test_trace_example``, with what the store then holds printed after them), 45-63 the
  model registry (run on the file store and on sqlite by ``test_registry_example``; those
  that log a model with ``mlflow.sklearn`` first fail clearly);
- ``aN_*.py``: ``mlflow.artifacts`` (seeds 000 and 001);
- ``bNN_*.py``: hand-written scripts calling the older API of seed 002 as documented there;
- ``cN_*.py``: hand-written scripts calling what seeds 000/001 document without an example
  (``mlflow.artifacts.download_artifacts`` and ``list_artifacts``); their ``.out`` is what
  MLflow prints.

Each runs in a subprocess with a fresh working directory and no ``TRACKLET_*``/``MLFLOW_*``
variables, so the default store (``./mlruns``, the file plugin) is used. For tracklet the
imports are rewritten (``import mlflow`` -> ``import tracklet as mlflow``, ``from mlflow.``
-> ``from tracklet.``), nothing else but the few documented rewrites below. Its output,
normalised (see :func:`normalise`), must equal the doc's ``.out`` and, in the ``interop``
tests, MLflow's own normalised output for the same script.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parent / "seed_examples" / "examples"
TRACE = range(4, 11)
REGISTRY = range(45, 64)


def _number(path: Path) -> int | None:
    head = path.name.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def _kind(path: Path) -> str:
    n = _number(path)
    if n in TRACE:
        return "trace"
    if n in REGISTRY:
        return "registry"
    return "tracking"


def _needs_model_flavors(path: Path) -> bool:
    """Whether the example saves a model with a flavor (``mlflow.sklearn.log_model``), which
    tracklet does not include (its error says how to log a model as artifacts instead)."""
    return "log_model(" in path.read_text(encoding="utf-8")


ALL = sorted(EXAMPLES.glob("*.py"))
TRACKING = [p for p in ALL if _kind(p) == "tracking"]
# The registry examples run on the file store and on sqlite (tracklet-registry); those that
# first log a model with a flavor run with the model's files logged as plain artifacts instead
# (see WITHOUT_FLAVOR), and as written they fail clearly.
REGISTRY_EXAMPLES = [p for p in ALL if _kind(p) == "registry"]
UNAVAILABLE = [p for p in ALL if _kind(p) == "registry" and _needs_model_flavors(p)]
TRACE_EXAMPLES = [p for p in ALL if _kind(p) == "trace"]

# -- rewrites of the source ---------------------------------------------------------------------

# Bugs in the doc's examples themselves: each fails under MLflow as under tracklet, so both
# run the fixed text. (old, new, why): every `old` becomes `new`, before any other rewrite.
DOC_FIXES: dict[str, list[tuple[str, str, str]]] = {
    "11_search_experiments": [
        (
            "    client.create_experiment(name, tags=tags)\n",
            "    client.create_experiment(name, tags=tags)\n    __import__('time').sleep(0.002)\n",
            "two searches expect the default order (creation_time DESC) to be creation order, which "
            "needs each experiment created in a later millisecond; a fast store creates several in "
            "one, and then the tie-break (experiment_id ASC, in MLflow too) reverses them",
        )
    ],
    "25_log_artifact": [
        (
            "path.write_text(features)",
            'path.write_text("rooms, zipcode, median_price, school_rating, transport")',
            "`features` is never defined (it is in the sibling examples 26 and 40)",
        )
    ],
    "26_log_artifacts": [
        ("import json\n", "import json\nfrom mlflow import MlflowClient\n", "MlflowClient is never imported")
    ],
    "28_log_dict": [
        (
            "mlflow.log_dict(run_id, dictionary,",
            "client.log_dict(run_id, dictionary,",
            "the last two calls use the fluent `mlflow` (never imported, and taking no run id first) "
            "where the client is meant",
        )
    ],
    "49_search_registered_models": [
        (
            "client = MlflowClient()\n",
            "client = MlflowClient()\n" + "REGISTRY_PRELUDE",
            "the example searches a registry the doc had filled beforehand (its printed output lists "
            "those models): the prelude registers them, with the doc's run ids",
        )
    ],
    "60_search_model_versions": [
        (
            "client = MlflowClient()\n",
            "client = MlflowClient()\n" + "REGISTRY_PRELUDE",
            "as 49: the doc's registry, filled beforehand",
        )
    ],
    "47_update_registered_model": [
        (
            "def print_registered",
            "import mlflow\nfrom mlflow import MlflowClient\ndef print_registered",
            "mlflow and MlflowClient are never imported",
        )
    ],
}

# The registry the doc of examples 49 and 60 searched: versions with the doc's run ids (a
# version's run id need not name a run of this store), in the stages its output implies
# (each model's latest version per stage: Production 1, None 2 — and None 3 for Azure).
# Example 60 lists versions in the default order, last update first: version 1 is moved to
# Production in a later millisecond than the last version's creation, so that it comes first
# as in the doc (in the same millisecond, the tie-break, version number DESC, would reverse them).
REGISTRY_PRELUDE = """\
for _name, _runs in [
    ("AzureWeatherForecastModel",
     ["5fcec6c4f1c947fc9295fef3fa21e52d", "0b9b3bd5b6a84c6f8f04e1d3c2a7e6f1", "8198cb997692417abcdeb62e99052260"]),
    ("BostonWeatherForecastModel", ["ddc51b9407a54b2bb795c8d680e63ff6", "48ac94350fba40639a993e1b3d4c185d"]),
    ("CordobaWeatherForecastModel", ["eaef868ee3d14d10b4299c4c81ba8814", "e14afa2f47a040728060c1699968fd43"]),
]:
    client.create_registered_model(_name)
    for _run_id in _runs:
        client.create_model_version(_name, f"s3://models/{_name}/{_run_id}", _run_id)
    __import__("time").sleep(0.002)
    client.transition_model_version_stage(_name, "1", "Production")
"""
for _stem in ("49_search_registered_models", "60_search_model_versions"):
    DOC_FIXES[_stem] = [
        (old, new.replace("REGISTRY_PRELUDE", REGISTRY_PRELUDE), why) for old, new, why in DOC_FIXES[_stem]
    ]

# Example 40 downloads into a hard-coded, shared /tmp/artifact_downloads that it never
# empties: a later run would list an earlier run's files. Each run gets its own folder,
# printed back as the doc's path by normalise().
DOC_DOWNLOAD_DIR = "/tmp/artifact_downloads"


def local_paths(source: str, download_dir: Path) -> str:
    """The rewrite both runs share: the shared /tmp folder -> a private one."""
    return source.replace(DOC_DOWNLOAD_DIR, str(download_dir))


def doc_fixed(path: Path) -> str:
    """The example's source with its doc bugs fixed (see DOC_FIXES)."""
    source = path.read_text(encoding="utf-8")
    for old, new, _why in DOC_FIXES.get(path.stem, []):
        assert old in source, f"{path.name}: DOC_FIXES entry no longer applies: {old!r}"
        source = source.replace(old, new)
    return source


def to_tracklet(source: str) -> str:
    """Rewrite the imports only: ``mlflow`` becomes ``tracklet``, bound to the name ``mlflow``."""
    source = re.sub(r"^(\s*)import mlflow$", r"\1import tracklet as mlflow", source, flags=re.M)
    # `import mlflow.sklearn` binds `mlflow` too
    source = re.sub(
        r"^(\s*)import mlflow\.([\w.]+)$",
        r"\1import tracklet.\2; import tracklet as mlflow",
        source,
        flags=re.M,
    )
    source = re.sub(r"^(\s*)from mlflow import ", r"\1from tracklet import ", source, flags=re.M)
    return re.sub(r"^(\s*)from mlflow\.", r"\1from tracklet.", source, flags=re.M)


# -- running --------------------------------------------------------------------------------------


@dataclass
class Result:
    """What a script did: exit code, outputs, and the folders the output mentions."""

    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    download_dir: Path


def clean_env() -> dict[str, str]:
    """The environment without tracklet's and MLflow's configuration variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLET_", "MLFLOW_"))}


def run_script(source: str, root: Path, env: dict[str, str]) -> Result:
    """Run ``source`` with ``root/work`` (fresh, empty) as the working directory."""
    workdir, download_dir = root / "work", root / "downloads"
    workdir.mkdir(parents=True)
    download_dir.mkdir()
    script = root / "example.py"
    source = local_paths(source, download_dir / "artifact_downloads")
    script.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, workdir, download_dir)


def run_tracklet(path: Path, root: Path) -> Result:
    """Run the example under tracklet (imports rewritten), on tracklet's default store."""
    return run_script(to_tracklet(doc_fixed(path)), root / "tracklet", clean_env())


def run_mlflow(path: Path, root: Path) -> Result:
    """Run the example under MLflow, with its file store in ``work/mlruns``.

    The file store, not MLflow's default sqlite store, because the doc's output was made
    on it: MLflow's SQL store returns ``create_run``'s tags as passed (``{'t1': 1}``)
    where the doc, the file store and tracklet give strings. A sqlite URI an example sets
    itself is kept (example 11 needs it, as it expects ids in creation order).
    """
    env = clean_env()
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    env["MLFLOW_TRACKING_URI"] = (root / "mlflow" / "work" / "mlruns").as_uri()
    return run_script(doc_fixed(path), root / "mlflow", env)


# -- normalising ----------------------------------------------------------------------------------

_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
_TIMESTAMP = re.compile(r"\b\d{13}\b")
_EXPERIMENT_ID = re.compile(r"(?i)(experiment[ _]id: |mlruns/)(?!0\b)\d+\b")
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+>")
_GENERATED_NAME = r"[a-z]+-[a-z]+-\d+"  # MLflow's random run names: adjective-animal-number
_RUN_NAME_TAG = re.compile(rf"('mlflow\.runName': )'{_GENERATED_NAME}'")
_RUN_NAME_LINE = re.compile(rf"^(run_name: ){_GENERATED_NAME}$", re.M)
_DICT = re.compile(r"\{[^{}]*\}")


def _sorted_dict(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return match.group(0)
    return repr(dict(sorted(value.items()))) if isinstance(value, dict) else match.group(0)


def _number_ids(text: str) -> str:
    ids: dict[str, str] = {}
    return _RUN_ID.sub(lambda m: ids.setdefault(m.group(0), f"<ID{len(ids) + 1}>"), text)


def normalise(text: str, result: Result | None = None) -> str:
    """Replace what legitimately varies between runs, and between the doc and a real run.

    - run ids (32 hex digits) -> ``<ID1>``, ``<ID2>``… numbered by first appearance, so
      "the same run printed twice" and "two different runs" are still checked;
    - 13-digit millisecond timestamps -> ``<TS>``;
    - the working directory, as a ``file:`` URI or a plain path, -> ``file:///...``, as the
      doc writes ``file:///.../mlruns/1`` (the doc ran on MLflow's file store, which prints
      URIs; MLflow's default sqlite store, like tracklet's, prints plain paths); the
      private download folder (see DOC_DOWNLOAD_DIR) -> the doc's ``/tmp/artifact_downloads``;
    - experiment ids other than the default "0" -> ``<EXP_ID>``: the doc shows "1", MLflow's
      file store draws random 18-digit ids, tracklet's may differ again; none is specified;
    - generated run names (random words) -> ``<RUN_NAME>``, in the ``mlflow.runName`` tag and
      in ``run_name:`` lines; a name the example chose (``platform-run-24``) is kept elsewhere;
    - an object's address (``at 0x11D2FA3D0>``) -> ``at 0x<ADDR>>``;
    - dict reprs sorted by key: tags and params come back in the order a store lists them
      (MLflow's file store: directory order), which MLflow does not specify.
    """
    if result is not None:
        for folder in {result.workdir, result.workdir.resolve()}:
            text = text.replace(folder.as_uri(), "\0").replace(str(folder), "\0").replace("\0", "file:///...")
        for folder in {result.download_dir, result.download_dir.resolve()}:
            text = text.replace(str(folder / "artifact_downloads"), DOC_DOWNLOAD_DIR)
    text = _number_ids(text)
    text = _TIMESTAMP.sub("<TS>", text)
    text = _EXPERIMENT_ID.sub(r"\1<EXP_ID>", text)
    text = _RUN_NAME_TAG.sub(r"\1'<RUN_NAME>'", text)
    text = _RUN_NAME_LINE.sub(r"\1<RUN_NAME>", text)
    text = _ADDRESS.sub(" at 0x<ADDR>>", text)
    text = _DICT.sub(_sorted_dict, text)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines) + "\n" if lines else ""


# -- what the doc says, where MLflow itself disagrees ---------------------------------------------

_RUN_NAME_TAG_WHY = (
    "since MLflow 2 every run stores its name as the tag mlflow.runName (the doc's output predates it); "
    "MLflow 3.17.2 prints it, and so must tracklet"
)
# Where the doc's printed output is not what MLflow prints, MLflow wins: (doc text, MLflow's, why),
# applied to the normalised .out. test_tracking_example_matches_mlflow checks each against MLflow.
DOC_VS_MLFLOW: dict[str, list[tuple[str, str, str]]] = {
    "03_create_run": [
        (
            "Run tags: {'engineering': 'ML Platform'}",
            "Run tags: {'engineering': 'ML Platform', 'mlflow.runName': '<RUN_NAME>'}",
            _RUN_NAME_TAG_WHY,
        )
    ],
    "21_set_tag": [
        ("Tags: {}\n", "Tags: {'mlflow.runName': '<RUN_NAME>'}\n", _RUN_NAME_TAG_WHY),
        (
            "Tags: {'nlp.framework': 'Spark NLP'}",
            "Tags: {'mlflow.runName': '<RUN_NAME>', 'nlp.framework': 'Spark NLP'}",
            _RUN_NAME_TAG_WHY,
        ),
    ],
    "22_delete_tag": [
        (
            "Tags: {'t1': '1', 't2': '2'}",
            "Tags: {'mlflow.runName': '<RUN_NAME>', 't1': '1', 't2': '2'}",
            _RUN_NAME_TAG_WHY,
        ),
        ("Tags: {'t2': '2'}", "Tags: {'mlflow.runName': '<RUN_NAME>', 't2': '2'}", _RUN_NAME_TAG_WHY),
    ],
    "24_log_batch": [
        ("tags: {'t': 't'}", "tags: {'mlflow.runName': '<RUN_NAME>', 't': 't'}", _RUN_NAME_TAG_WHY)
    ],
    "42_delete_run": [
        (
            "lifecycle_stage: active\n",
            "lifecycle_stage: active\n--\n",
            "the code prints '--' between the two lines; the doc's output leaves it out",
        )
    ],
}

_DASHES_WHY = "the code prints 80 dashes; the doc's output shows lines of 83 and 84"
for _stem in ("49_search_registered_models", "60_search_model_versions"):
    DOC_VS_MLFLOW[_stem] = [
        ("-" * 84 + "\n", "-" * 80 + "\n", _DASHES_WHY),
        *([("-" * 83 + "\n", "-" * 80 + "\n", _DASHES_WHY)] if _stem.startswith("49") else []),
    ]

# The older API of seed 002 that MLflow 3 no longer has: no reference to compare with.
REMOVED_FROM_MLFLOW = {
    "b01_create_run": "create_run(user_id=...) was removed in MLflow 2.0",
    "b08_list_experiments": "list_experiments() was removed in MLflow 2.0",
    "b09_list_run_infos": "list_run_infos() was removed in MLflow 2.0",
    "b12_log_batch": "Metric(key, value, timestamp) without a step is refused since MLflow 2.0",
}


def expected_output(path: Path) -> str:
    """The doc's printed output for ``path``, normalised, corrected where MLflow disagrees."""
    out = path.with_suffix(".out")
    if not out.exists():
        return ""  # the doc shows no output: the example prints nothing
    text = normalise(out.read_text(encoding="utf-8"))
    for doc, actual, _why in DOC_VS_MLFLOW.get(path.stem, []):
        assert doc in text, f"{out.name}: DOC_VS_MLFLOW entry no longer applies: {doc!r}"
        text = text.replace(doc, actual)
    return text


# -- what a run leaves in its artifact folders ----------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# log_image(key=...) names its files images/<key>%step%<n>%timestamp%<ms>%<uuid>[%compressed]:
# the `%` of the seed (spec), which MLflow 3.17.2 replaced by `+` (its UI reads both; MLflow's
# issue 21085). Either is accepted: keys may not contain either character.

# Examples whose images are random pixels (np.random): only their mode and size can match.
RANDOM_PIXELS = frozenset({"29_log_image", "32_log_image"})


def _describe(path: Path, pixels: bool) -> str:
    """A file's content as compared: mode, size and (PNG, unless random) decoded pixels of an
    image (WebP is lossy: encoders differ), parsed JSON, or normalised text."""
    if path.suffix in {".png", ".webp"}:
        from PIL import Image

        with Image.open(path) as image:
            digest = hashlib.sha256(image.tobytes()).hexdigest()[:16]
            return f"image {image.mode} {image.size}" + (
                f" {digest}" if pixels and path.suffix == ".png" else ""
            )
    data = path.read_bytes()
    try:
        return json.dumps(json.loads(data), sort_keys=True)  # MLflow escapes "/" as "\/"
    except ValueError:
        pass
    try:
        return normalise(data.decode("utf-8"))
    except UnicodeDecodeError:
        return f"{len(data)} bytes {hashlib.sha256(data).hexdigest()[:16]}"


def artifact_manifest(workdir: Path, pixels: bool = True) -> list[str]:
    """Every file under a run's ``artifacts`` folder: path inside it (ids, times and uuids
    normalised) and content. Sorted, so that which run holds which file does not matter."""
    manifest = []
    for path in workdir.rglob("*"):
        parts = path.relative_to(workdir).parts
        if path.is_file() and "artifacts" in parts[:-1]:
            inside = "/".join(parts[parts.index("artifacts") + 1 :])
            inside = _UUID.sub("<UUID>", normalise(inside)).strip()
            if inside.startswith("images/"):
                inside = inside.replace("%", "+")
            manifest.append(f"{inside}: {_UUID.sub('<UUID>', _describe(path, pixels))}")
    return sorted(manifest)


# -- the tests ------------------------------------------------------------------------------------

# Examples that fail because of a bug in tracklet, per test: marked xfail(strict) so the suite
# stays green while the owners fix them; strict, so that a fix is noticed and the entry removed.
_IMAGE_FROM_PATH = (
    "tracklet.Image('image.png') refuses a file path (TrackletException: Invalid image shape ()); "
    "MLflow's Image opens a str with PIL. core/src/tracklet/multimedia.py: Image / convert_to_pil_image"
)
_PREVIEW_SIZE = (
    "the compressed .webp preview keeps the image's size ({got}); MLflow scales it so that its longer "
    "side is 256 ({want}), enlarging small images too. core/src/tracklet/multimedia.py: "
    "compress_image_size uses PIL's thumbnail(), which only shrinks"
)
_LIST_BY_URI = (
    "mlflow.artifacts.list_artifacts(artifact_uri=run.info.artifact_uri) gives paths relative to the URI "
    "('sub'); MLflow's are relative to the URI's parent ('artifacts/sub'), as it lists the last path "
    "component inside its parent. core/src/tracklet/artifacts.py: list_artifacts"
)
BUGS: dict[str, dict[str, str]] = {
    "test_tracking_example": {},
    "test_tracking_example_matches_mlflow": {},
    "test_unavailable_feature_fails_clearly": {},
    "test_trace_example": {},
    "test_trace_example_matches_mlflow": {},
}


def _params(test: str, paths: list[Path], skips: dict[str, str] | None = None) -> list[object]:
    marks: dict[str, list[pytest.MarkDecorator]] = {}
    for stem, reason in BUGS[test].items():
        marks.setdefault(stem, []).append(pytest.mark.xfail(strict=True, reason=reason))
    for stem, reason in (skips or {}).items():
        marks.setdefault(stem, []).append(pytest.mark.skip(reason=reason))
    return [pytest.param(p, id=p.stem, marks=marks.get(p.stem, [])) for p in paths]


@pytest.fixture(scope="module")
def tracklet_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Result]:
    """Run an example under tracklet once per module: the interop test compares the same run."""
    cache: dict[Path, Result] = {}

    def run(path: Path) -> Result:
        if path not in cache:
            cache[path] = run_tracklet(path, tmp_path_factory.mktemp(path.stem))
        return cache[path]

    return run


def _failure(result: Result) -> str:
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def assert_succeeded(result: Result, who: str = "tracklet") -> None:
    """Exit code 0, or fail showing the script's outputs (not the Result's repr)."""
    succeeded = result.returncode == 0
    assert succeeded, f"{who} fails:\n{_failure(result)}"


def assert_failed_saying(result: Result, message: re.Pattern[str]) -> None:
    """A non-zero exit code and ``message`` in stderr."""
    failed = result.returncode != 0
    assert failed, f"expected a failure:\n{_failure(result)}"
    said = message.search(result.stderr) is not None
    assert said, f"stderr does not match {message.pattern!r}:\n{result.stderr}"


@pytest.mark.parametrize("path", _params("test_tracking_example", TRACKING))
def test_tracking_example(path: Path, tracklet_run: Callable[[Path], Result]) -> None:
    """The example runs under tracklet and prints what the doc shows."""
    result = tracklet_run(path)
    assert_succeeded(result)
    assert normalise(result.stdout, result) == expected_output(path)


@pytest.mark.interop
@pytest.mark.parametrize(
    "path", _params("test_tracking_example_matches_mlflow", TRACKING, REMOVED_FROM_MLFLOW)
)
def test_tracking_example_matches_mlflow(
    path: Path, tracklet_run: Callable[[Path], Result], tmp_path: Path
) -> None:
    """The same script under MLflow prints the same, and leaves the same artifacts."""
    if importlib.util.find_spec("mlflow") is None:
        skip_unless_ci("MLflow, the reference, is not installed")
    reference = run_mlflow(path, tmp_path)
    assert_succeeded(reference, "MLflow itself")
    assert normalise(reference.stdout, reference) == expected_output(path), "DOC_VS_MLFLOW is out of date"
    result = tracklet_run(path)
    assert_succeeded(result)
    assert normalise(result.stdout, result) == normalise(reference.stdout, reference)
    pixels = path.stem not in RANDOM_PIXELS
    assert artifact_manifest(result.workdir, pixels) == artifact_manifest(reference.workdir, pixels)


# -- the registry examples, on each store -----------------------------------------------------------

#: Where each registry example runs: its own ``sqlite:///mlruns.db`` becomes the store's URI,
#: and an example that sets none gets it as the tracking URI from the environment.
REGISTRY_STORES = {"file": "mlruns", "sqlite": "sqlite:///mlruns.db"}
_DOC_REGISTRY_URI = 'mlflow.set_tracking_uri("sqlite:///mlruns.db")'


def on_store(source: str, store_uri: str) -> str:
    """The example's source with the doc's tracking URI replaced by ``store_uri``."""
    return source.replace(_DOC_REGISTRY_URI, f"mlflow.set_tracking_uri({store_uri!r})")


# Where MLflow 3.17.2's own store strays from the doc (and tracklet keeps to it): (doc text,
# MLflow's, why) per (example, store), applied to the doc's output for the MLflow run only.
MLFLOW_STORE_DIFFERS: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("46_rename_registered_model", "file"): [
        (
            "--\nname: SocialMediaTextAnalyzer\ntags: {'nlp.framework': 'Spark NLP'}",
            "--\nname: SocialMediaTextAnalyzer\ntags: {}",
            "MLflow's file store drops a registered model's tags when it renames it (its "
            "rename_registered_model copies the versions' tags, not the model's); its SQL store and "
            "tracklet's stores keep them",
        )
    ],
}
# A registered model's latest_versions come in no specified order (MLflow's file store lists
# them in the iteration order of a set of stage names, which changes from process to process):
# example 49 prints them, so its lines are compared sorted between the dashed lines.
UNORDERED_LATEST_VERSIONS = frozenset({"49_search_registered_models"})


def _sorted_between_rules(text: str) -> str:
    """``text`` with the lines between two lines of dashes sorted."""
    out: list[str] = []
    block: list[str] = []
    for line in text.splitlines():
        if line and set(line) == {"-"}:
            out += sorted(block) + [line]
            block = []
        else:
            block.append(line)
    return "\n".join(out + sorted(block)) + "\n"


def registry_output(path: Path, result: Result) -> str:
    """The normalised stdout of a registry example (see UNORDERED_LATEST_VERSIONS: sorted
    before run ids are numbered by first appearance)."""
    stdout = _sorted_between_rules(result.stdout) if path.stem in UNORDERED_LATEST_VERSIONS else result.stdout
    return normalise(stdout, result)


def expected_registry_output(path: Path, store: str | None = None) -> str:
    """The doc's output as :func:`expected_output` gives it (sorted first for
    UNORDERED_LATEST_VERSIONS); as MLflow's ``store`` prints it when given."""
    text = path.with_suffix(".out").read_text(encoding="utf-8")
    if path.stem in UNORDERED_LATEST_VERSIONS:
        text = _sorted_between_rules(text)
    text = normalise(text)
    for doc, actual, _why in DOC_VS_MLFLOW.get(path.stem, []):
        text = text.replace(doc, actual)
    for doc, actual, _why in MLFLOW_STORE_DIFFERS.get((path.stem, store or ""), []):
        assert doc in text, f"MLFLOW_STORE_DIFFERS entry no longer applies: {doc!r}"
        text = text.replace(doc, actual)
    return text


# The registry examples that log an sklearn model first cannot run as written under MLflow
# 3.17.2 either: its sklearn flavor refuses to save a RandomForestRegressor ("The saved
# sklearn model references untrusted types", skops' sklearn.tree._tree.Tree), and tracklet
# has no model flavors. What the registry calls after it need is files at the run's
# ``sklearn-model`` path: both runs log an ``MLmodel`` there as a plain artifact instead.
WITHOUT_FLAVOR = [
    (
        re.compile(r"^(\s*)signature = infer_signature\(X, rfr\.predict\(X\)\)$", re.M),
        r"\1signature = None",
    ),
    (
        re.compile(
            r'^(\s*)mlflow\.sklearn\.log_model\(rfr, artifact_path="sklearn-model", signature=signature\)$',
            re.M,
        ),
        r'\1mlflow.log_text("flavors: {}\\n", "sklearn-model/MLmodel")',
    ),
]


def without_flavor(source: str) -> str:
    """The example with its sklearn model logged as a plain ``MLmodel`` artifact (see WITHOUT_FLAVOR)."""
    for pattern, replacement in WITHOUT_FLAVOR:
        source = pattern.sub(replacement, source)
    assert "log_model(" not in source, "WITHOUT_FLAVOR no longer covers the example"
    return source


def run_registry_example(path: Path, root: Path, store: str, under: str) -> Result:
    """Run a registry example on ``store`` under tracklet (imports rewritten) or MLflow."""
    uri = REGISTRY_STORES[store]
    source = on_store(without_flavor(doc_fixed(path)), uri)
    env = clean_env()
    if under == "mlflow":
        env["MLFLOW_TRACKING_URI"] = uri
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
        return run_script(source, root / "mlflow", env)
    env["TRACKLET_TRACKING_URI"] = uri
    return run_script(to_tracklet(source), root / "tracklet", env)


@pytest.mark.parametrize("store", sorted(REGISTRY_STORES))
@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in REGISTRY_EXAMPLES])
def test_registry_example(path: Path, store: str, tmp_path: Path) -> None:
    """The registry example runs under tracklet on the file store and on sqlite and prints
    what the doc shows."""
    result = run_registry_example(path, tmp_path, store, "tracklet")
    assert_succeeded(result)
    assert registry_output(path, result) == expected_registry_output(path)


@pytest.mark.interop
@pytest.mark.parametrize("store", sorted(REGISTRY_STORES))
@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in REGISTRY_EXAMPLES])
def test_registry_example_matches_mlflow(path: Path, store: str, tmp_path: Path) -> None:
    """The same script under MLflow 3.17.2 on the same kind of store prints the same (where
    MLflow's store strays from the doc, MLFLOW_STORE_DIFFERS says how, and tracklet keeps to
    the doc)."""
    if importlib.util.find_spec("mlflow") is None:
        skip_unless_ci("MLflow, the reference, is not installed")
    reference = run_registry_example(path, tmp_path, store, "mlflow")
    assert_succeeded(reference, "MLflow itself")
    mlflow_printed = registry_output(path, reference)
    assert mlflow_printed == expected_registry_output(path, store), "MLFLOW_STORE_DIFFERS is out of date"
    result = run_registry_example(path, tmp_path, store, "tracklet")
    assert_succeeded(result)
    if (path.stem, store) in MLFLOW_STORE_DIFFERS:  # tracklet keeps to the doc there
        assert registry_output(path, result) == expected_registry_output(path)
    else:
        assert registry_output(path, result) == mlflow_printed


# -- the trace examples, on each store and over tracklet server ------------------------------------

#: Where each trace example runs (the examples set no URI: it comes from the environment): a
#: folder, sqlite, and a server on sqlite (one per module: ``tracklet server``, and MLflow's
#: ``mlflow server`` for MLflow's own run).
TRACE_STORES = {"file": "mlruns", "sqlite": "sqlite:///mlruns.db", "server": None}

# The trace examples print nothing. Each runs between this prologue and epilogue, which print
# what the store then holds of the traces the script made (ids and clock times left out): the
# lines MLflow prints are the lines tracklet must print. The prologue notes the time, so that
# on a server shared by the module only the script's own traces are listed.
TRACE_PROLOGUE = "import time as _time\n_SINCE = _time.time_ns() // 1_000_000\n"
TRACE_EPILOGUE = """
# -- epilogue (tests/test_seed_examples.py): what the store now holds
import mlflow
mlflow.flush_trace_async_logging()
for _t in mlflow.MlflowClient().search_traces(
    experiment_ids=["0"], filter_string=f"timestamp_ms >= {_SINCE}", order_by=["timestamp_ms ASC"]
):
    _info = _t.info
    _tags = {k: v for k, v in sorted(_info.tags.items()) if not k.startswith("mlflow.")}
    print("trace:", _info.state, _info.tags.get("mlflow.traceName"), _tags)
    print("  previews:", _info.request_preview, _info.response_preview)
    _names = {s.span_id: s.name for s in _t.data.spans}
    for _s in sorted(_t.data.spans, key=lambda s: s.start_time_ns):
        _attributes = {k: v for k, v in sorted(_s.attributes.items()) if not k.startswith("mlflow.")}
        print("  span:", _s.name, "<-", _names.get(_s.parent_id), _s.span_type, _s.status.status_code,
              _s.inputs, _s.outputs, _attributes, len(_s.events))
"""

_ONE_SPAN = "  span: my_trace <- None UNKNOWN SpanStatusCode.OK None None {} 0\n"
_CHILD = "UNKNOWN SpanStatusCode.OK"
#: What each trace example prints (the epilogue's lines; "raised <exception line>" when it
#: fails), as MLflow 3.17.2 prints it on every store unless keyed by (example, store).
#: test_trace_example_matches_mlflow checks each against MLflow.
TRACE_OUTPUT: dict[str | tuple[str, str], str] = {
    "04_delete_traces": "",
    ("05_get_trace", "file"): "raised MlflowException: Trace with ID '12345678' not found\n",
    ("05_get_trace", "sqlite"): "raised MlflowException: Trace with ID '12345678' not found.\n",
    ("05_get_trace", "server"): (
        "raised RestException: RESOURCE_DOES_NOT_EXIST: Trace with ID '12345678' not found.\n"
    ),
    "06_start_trace": "trace: OK my_trace {}\n  previews: None None\n"
    + _ONE_SPAN
    + f"  span: child_span <- my_trace {_CHILD} None None {{}} 0\n",
    "07_start_span": "trace: OK parent_span {}\n  previews: None None\n"
    "  span: parent_span <- None UNKNOWN SpanStatusCode.OK None None {} 0\n"
    f"  span: child_span <- parent_span {_CHILD} None None {{}} 0\n",
    "08_start_span": "trace: OK my_trace {}\n  previews: None None\n"
    + _ONE_SPAN
    + f"  span: child_span <- my_trace {_CHILD} {{'x': 2}} {{'y': 4}} {{'factor': 2}} 0\n",
    "09_set_trace_tag": "trace: OK my_trace {'key': 'value'}\n  previews: None None\n" + _ONE_SPAN,
    "10_delete_trace_tag": "trace: OK my_trace {}\n  previews: None None\n" + _ONE_SPAN,
}

_REQUEST_IDS_WHY = (
    "seed 003 deletes traces by request_ids=[...]; MLflow 3.17.2's client no longer takes that "
    "argument (it takes trace_ids), tracklet's takes both and keeps to the doc"
)
#: Where MLflow 3.17.2 fails an example the doc (and tracklet) runs: (what MLflow prints, why),
#: per (example, store); its client's failure is the same against either server.
MLFLOW_TRACE_DIFFERS: dict[tuple[str, str], tuple[str, str]] = {
    ("04_delete_traces", "file"): (
        "raised Exception: Invalid parent directory 'mlruns/0/traces'\n",
        "MLflow's file store cannot delete traces from an experiment that has none yet (it lists "
        "the experiment's traces folder, which does not exist); tracklet's deletes nothing",
    ),
    ("04_delete_traces", "sqlite"): (
        "raised TypeError: MlflowClient.delete_traces() got an unexpected keyword argument 'request_ids'\n",
        _REQUEST_IDS_WHY,
    ),
    ("04_delete_traces", "server"): (
        "raised TypeError: MlflowClient.delete_traces() got an unexpected keyword argument 'request_ids'\n",
        _REQUEST_IDS_WHY,
    ),
}


def expected_trace_output(path: Path, store: str, under: str = "tracklet") -> str:
    """What the trace example prints on ``store`` (see TRACE_OUTPUT), under tracklet or MLflow
    (see MLFLOW_TRACE_DIFFERS)."""
    if under == "mlflow" and (path.stem, store) in MLFLOW_TRACE_DIFFERS:
        return MLFLOW_TRACE_DIFFERS[path.stem, store][0]
    return TRACE_OUTPUT.get((path.stem, store), TRACE_OUTPUT.get(path.stem, ""))


_RAISED_MODULE = re.compile(r"^(?:mlflow|tracklet)\.exceptions\.")


def trace_output(result: Result) -> str:
    """The normalised stdout and, when the script failed, ``raised`` and the traceback's
    exception line (the exceptions module's path left out, tracklet's TrackletException
    written as its alias MlflowException)."""
    text = normalise(result.stdout, result)
    if result.returncode != 0:
        lines = result.stderr.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
        after = lines[starts[-1] + 1 :] if starts else lines
        raised = next((line for line in after if line and not line.startswith(" ")), "<no exception line>")
        raised = _RAISED_MODULE.sub("", raised).replace("TrackletException", "MlflowException")
        text += normalise(f"raised {raised}", result)
    return text


@pytest.fixture(scope="module")
def trace_servers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Servers for the trace examples' "server" store, started on first use, one per module:
    ``servers("tracklet")``/``servers("mlflow")`` give the base URL."""
    from tracklet_http.testing import free_port, mlflow_server_args, start_server, tracklet_server_args

    started: dict[str, Any] = {}

    def url(kind: str) -> str:
        if kind not in started:
            root = tmp_path_factory.mktemp(f"trace-server-{kind}")
            args_for = tracklet_server_args if kind == "tracklet" else mlflow_server_args
            port = free_port()
            args = args_for(port, f"sqlite:///{root / 'db.sqlite'}", str(root / "artifacts"))
            started[kind] = start_server(args, port, root / "server.log")
        return str(started[kind].url)

    yield url
    for server in started.values():
        server.stop()


def run_trace_example(path: Path, root: Path, store: str, under: str, server: str | None = None) -> Result:
    """Run a trace example between TRACE_PROLOGUE and TRACE_EPILOGUE on ``store`` (for
    "server", the server at ``server``) under tracklet (imports rewritten) or MLflow."""
    uri = server or TRACE_STORES[store]
    assert uri, "the server store needs a server URL"
    source = TRACE_PROLOGUE + doc_fixed(path) + TRACE_EPILOGUE
    env = clean_env()
    if under == "mlflow":
        env["MLFLOW_TRACKING_URI"] = uri
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
        return run_script(source, root / "mlflow", env)
    env["TRACKLET_TRACKING_URI"] = uri
    return run_script(to_tracklet(source), root / "tracklet", env)


def _trace_params(test: str) -> list[object]:
    """(example, store) pairs, marked xfail(strict) where BUGS[test] names the example
    (``05_get_trace``) or the example on one store (``05_get_trace-sqlite``)."""
    params: list[object] = []
    for path in TRACE_EXAMPLES:
        for store in sorted(TRACE_STORES):
            reason = BUGS[test].get(f"{path.stem}-{store}") or BUGS[test].get(path.stem)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(path, store, id=f"{path.stem}-{store}", marks=marks))
    return params


@pytest.mark.parametrize(("path", "store"), _trace_params("test_trace_example"))
def test_trace_example(path: Path, store: str, tmp_path: Path, trace_servers: Any) -> None:
    """The trace example runs under tracklet on the file store, on sqlite and over ``tracklet
    server``, and leaves the traces MLflow leaves (TRACE_OUTPUT)."""
    server = trace_servers("tracklet") if store == "server" else None
    result = run_trace_example(path, tmp_path, store, "tracklet", server)
    assert trace_output(result) == expected_trace_output(path, store), _failure(result)


@pytest.mark.interop
@pytest.mark.parametrize(("path", "store"), _trace_params("test_trace_example_matches_mlflow"))
def test_trace_example_matches_mlflow(path: Path, store: str, tmp_path: Path, trace_servers: Any) -> None:
    """The same script under MLflow 3.17.2 on the same kind of store prints what TRACE_OUTPUT
    says (or MLFLOW_TRACE_DIFFERS, where MLflow strays from the doc), as tracklet does in
    test_trace_example; over a server, MLflow's client against ``tracklet server`` prints what
    it prints against ``mlflow server``, and tracklet's client against ``mlflow server`` what
    it prints against ``tracklet server``."""
    if importlib.util.find_spec("mlflow") is None:
        skip_unless_ci("MLflow, the reference, is not installed")
    mlflow_server = trace_servers("mlflow") if store == "server" else None
    reference = run_trace_example(path, tmp_path / "reference", store, "mlflow", mlflow_server)
    expected = expected_trace_output(path, store, "mlflow")
    assert trace_output(reference) == expected, "TRACE_OUTPUT or MLFLOW_TRACE_DIFFERS is out of date\n" + (
        _failure(reference)
    )
    if store == "server":  # MLflow's client against tracklet's server, tracklet's against MLflow's
        result = run_trace_example(path, tmp_path / "interop", store, "mlflow", trace_servers("tracklet"))
        assert trace_output(result) == expected, _failure(result)
        result = run_trace_example(path, tmp_path / "tracklet", store, "tracklet", mlflow_server)
        assert trace_output(result) == expected_trace_output(path, store), _failure(result)


# What a registry example that logs a model with a flavor must say: how to keep a model with
# tracklet. (Those fail under MLflow 3.17.2 too: its sklearn flavor refuses to save a
# RandomForestRegressor, "The saved sklearn model references untrusted types", skops'
# sklearn.tree._tree.Tree.)
UNAVAILABLE_MESSAGE = {
    "registry": re.compile(r"does not include MLflow's model flavors.*tracklet\.log_artifact"),
}


@pytest.mark.parametrize("path", _params("test_unavailable_feature_fails_clearly", UNAVAILABLE))
def test_unavailable_feature_fails_clearly(path: Path, tmp_path: Path) -> None:
    """Registry examples that log a flavored model fail, and stderr says how to log a model as
    artifacts (a traceback may come with it)."""
    assert_failed_saying(run_tracklet(path, tmp_path), UNAVAILABLE_MESSAGE[_kind(path)])


# -- extract.py -----------------------------------------------------------------------------------

EXTRACT = EXAMPLES.parent / "extract.py"


@pytest.fixture(scope="module")
def extract() -> Any:
    """tests/seed_examples/extract.py as a module."""
    spec = importlib.util.spec_from_file_location("seed_extract", EXTRACT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def skip_unless_ci(reason: str) -> None:
    """Skip for a developer without the seeds or MLflow; fail in CI, where ``.ci/run`` sets
    ``TRACKLET_TEST_REQUIRE_SERVERS``: there the check must run, not report a quiet skip."""
    if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
        pytest.fail(f"{reason} (TRACKLET_TEST_REQUIRE_SERVERS is set: this check must run)")
    pytest.skip(reason)


def test_examples_match_the_seeds(extract: Any) -> None:
    """The committed examples hold the seeds' text, indentation aside: checked against the
    seeds where they are beside the checkout, and against seeds.sha256 (the record of the
    extraction) everywhere, so the check runs on a CI clone without ../shared too."""
    check = subprocess.run([sys.executable, str(EXTRACT), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    env = {**os.environ, "TRACKLET_SEEDS_DIR": "/nonexistent/seeds"}
    check = subprocess.run([sys.executable, str(EXTRACT), "--check"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "checked the examples against seeds.sha256" in check.stdout


def test_without_the_seeds_an_edited_or_missing_example_fails(extract: Any, tmp_path: Path) -> None:
    """The record catches what the seeds would: an example changed beyond indentation, or gone."""
    record = extract.MANIFEST.read_text()
    names = sorted(extract._recorded(record, "example"))
    assert len(names) > 100 and "00_get_run.py" in names
    for name in names:
        (tmp_path / name).write_text((EXAMPLES / name).read_text())
    assert extract.manifest_problems(tmp_path, record) == []
    reindented = "\n".join("    " + line for line in (tmp_path / names[0]).read_text().splitlines())
    (tmp_path / names[0]).write_text(reindented)  # indentation alone is not a change
    assert extract.manifest_problems(tmp_path, record) == []
    (tmp_path / "00_get_run.py").write_text((tmp_path / "00_get_run.py").read_text() + "print(1)\n")
    (tmp_path / names[-1]).unlink()
    problems = extract.manifest_problems(tmp_path, record)
    assert [p.split(":")[0] for p in problems] == ["00_get_run.py", names[-1]]


def test_extract_check_ignores_indentation_only(extract: Any, tmp_path: Path) -> None:
    """--check fails when the seed's text changed, not when an example was re-indented."""
    seed_text = {"x.py": "if a:\nb()\n", "y.py": "c()\n"}
    (tmp_path / "x.py").write_text("if a:\n    b()\n")
    (tmp_path / "y.py").write_text("c()\n")
    assert extract._problems(tmp_path, seed_text) == []
    (tmp_path / "y.py").write_text("d()\n")
    assert extract._problems(tmp_path, seed_text) == ["y.py"]
    (tmp_path / "y.py").unlink()
    assert extract._problems(tmp_path, seed_text) == ["y.py"]


def test_extract_keeps_reindented_examples_unless_forced(extract: Any, tmp_path: Path) -> None:
    """Writing keeps a re-indented example; refuses (writing nothing) to replace one whose
    seed text changed; --force overwrites; an example never re-indented is simply updated."""
    (tmp_path / "x.py").write_text("if a:\n    b()\n")
    (tmp_path / "flat.py").write_text("old()\n")
    assert extract._write(tmp_path, {"x.py": "if a:\nb()\n", "flat.py": "new()\n"}, force=False) == 0
    assert (tmp_path / "x.py").read_text() == "if a:\n    b()\n"
    assert (tmp_path / "flat.py").read_text() == "new()\n"

    changed = {"x.py": "if a:\nc()\n", "flat.py": "newer()\n"}
    assert extract._write(tmp_path, changed, force=False) == 1
    assert (tmp_path / "x.py").read_text() == "if a:\n    b()\n"
    assert (tmp_path / "flat.py").read_text() == "new()\n"  # refused: nothing written

    assert extract._write(tmp_path, changed, force=True) == 0
    assert (tmp_path / "x.py").read_text() == "if a:\nc()\n"


def test_a_missing_prerequisite_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under .ci/run the seeds check and the MLflow comparison cannot turn into skips."""
    monkeypatch.setenv("TRACKLET_TEST_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        skip_unless_ci("the seeds are not beside the checkout")
    monkeypatch.delenv("TRACKLET_TEST_REQUIRE_SERVERS")
    with pytest.raises(pytest.skip.Exception):
        skip_unless_ci("the seeds are not beside the checkout")
