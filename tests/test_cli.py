"""The `keras-resnet` command line: every subcommand's output, and the error contract.

The contract (keras_resnet/cli.py): a failure the user can fix prints one line,
`keras-resnet SUBCOMMAND: error: ...`, to stderr, with no traceback, exits with
code 2 and leaves no file behind (everything is written through a temporary
name, keras_resnet.atomic). `ERRORS` holds one row per failure, for every
subcommand, and `check_usage_error` is the one assertion they all go through.
Errors argparse itself reports (a missing or malformed argument) are one line too
(rows with `usage=True`); stray arguments are the top-level parser's
(`keras-resnet: error: unrecognized arguments`).
"""

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

import pytest

import keras_resnet.atomic
from fake_data import write_cifar10, write_folder
from keras_resnet import cli, plotting
from keras_resnet.registry import list_models

ROOT = Path(__file__).resolve().parents[1]


def _env():
    """For `python -m keras_resnet`: this checkout's package, and TensorFlow's logging as
    a user has it (the CLI itself keeps TensorFlow's C++ start-up lines out)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _subcommands():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


# ----------------------------------------------------------------------------- output

def test_list_prints_every_model(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert re.search(rf"^{name}\s", out, re.M), name
    assert "25,636,712" in out and "3.858" in out


def test_params_builds_and_compares_with_published_figures(capsys):
    assert cli.main(["params", "resnet18", "resnet20"]) == 0
    out = capsys.readouterr().out
    row18 = next(line for line in out.splitlines() if line.startswith("resnet18 "))
    # measured v1.5 trainable next to torchvision's, MACs next to Table 1
    assert row18.count("11,689,512") == 2
    assert "1.814" in row18 and "+0.8%" in row18
    row20 = next(line for line in out.splitlines() if line.startswith("resnet20 "))
    assert row20.count("269,722") == 2


def test_summary_with_options(capsys):
    assert cli.main(["summary", "resnet20", "--input-shape", "16", "24", "3",
                     "--num-classes", "5", "--variant", "v1"]) == 0
    out = capsys.readouterr().out
    assert "(None, 16, 24, 3)" in out and "(None, 5)" in out
    assert "conv4_block3_out" in out and "resnet20v1" in out


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: keras-resnet {command}")


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "keras_resnet", "summary", "--help"],
                            capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300)
    assert result.returncode == 0 and "--input-shape" in result.stdout


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quickstart.splitlines() if line.strip()]
    assert len(commands) == 2, "the quickstart has exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(c for c in commands if "test" in c)
    assert re.search(rf"^{re.escape(test_command)}$", ci, re.M)


# ----------------------------------------------------------------------------- the error contract

def _tree(root: Path) -> dict:
    """Every file (with size and mtime) and directory under `root`, hidden ones too."""
    tree = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.stat(path)
            tree[os.path.relpath(path, root)] = (
                None if name in dirs else (st.st_size, st.st_mtime_ns))
    return tree


def check_usage_error(code, err: str, command: Optional[str], message: str,
                      before: dict, after: dict, usage: bool = False,
                      exit_code: int = cli.EXIT_USAGE) -> None:
    """The contract: exit code 2 (`exit_code`: 73 for a run directory that cannot be
    written), one error line naming the subcommand and matching `message` (a
    regex), no traceback, and the directory tree unchanged. `usage` marks
    argparse's own errors."""
    assert code == exit_code, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = "keras-resnet" + (f" {command}" if command else "") + ": error: "
    if usage and lines[0].startswith("keras-resnet: error: unrecognized arguments"):
        prefix = "keras-resnet: error: "  # the top-level parser reports stray arguments
    assert lines[0].startswith(prefix), err
    assert re.search(message, lines[0]), err
    assert after == before, "files were created, changed or removed"


class Workspace(NamedTuple):
    """What a case's setup may use: the (current) directory the command runs in,
    pytest's monkeypatch, and the shared input files."""

    path: Path
    monkeypatch: pytest.MonkeyPatch
    inputs: "Inputs"


class Inputs:
    """Input files built once per module, outside the test's own directory."""

    def __init__(self, directory: Path):
        self.directory = directory

    @functools.cached_property
    def r18(self) -> Path:
        """Random torchvision ResNet-18 weights (v1.5, 10 classes) as .safetensors."""
        from safetensors.numpy import save_file

        import torch_goldens as g
        path = self.directory / "resnet18.safetensors"
        save_file(g.random_state_dict("resnet18"), str(path))
        return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return Inputs(tmp_path_factory.mktemp("cli-inputs"))


# Setups: each gets the Workspace; argv entries may also be callables of it, which
# write what they need and return the argument.

def _file(name, data=b""):
    def setup(ws):
        (ws.path / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.path / name).write_bytes(data)
    return setup


def _unwritable(ws):  # what a read-only directory does (root ignores chmod)
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    ws.monkeypatch.setattr(keras_resnet.atomic.tempfile, "mkstemp", denied)


def _no_dot(ws):
    ws.monkeypatch.setattr(plotting.shutil, "which", lambda name: None)


def _no_tf_config(ws):
    ws.monkeypatch.delenv("TF_CONFIG", raising=False)


def _jax_backend(ws):  # what KERAS_BACKEND=jax gives (the backend is fixed at import)
    import keras
    ws.monkeypatch.setattr(keras.backend, "backend", lambda: "jax")


def _pet_folders(ws):
    """Class folders that are not ImageNet synsets (a fine-tune's data)."""
    for name in ("cat", "dog"):
        (ws.path / "pets" / name).mkdir(parents=True)


def _junk_run(ws):
    """A run directory whose run.json is fine but whose model.keras is not a model,
    and two images: one unreadable, one fine."""
    from PIL import Image
    (ws.path / "run").mkdir()
    (ws.path / "run" / "model.keras").write_bytes(b"junk")
    (ws.path / "run" / "run.json").write_text(json.dumps(
        {"class_names": ["a", "b"], "mean": [0, 0, 0], "std": [1, 1, 1], "image_size": 8}))
    (ws.path / "junk.png").write_bytes(b"junk")
    Image.new("RGB", (8, 8)).save(ws.path / "ok.png")


def _r18(ws):
    return str(ws.inputs.r18)


def _broken_r18(ws):
    (ws.path / "broken.safetensors").write_bytes(ws.inputs.r18.read_bytes()[:1000])
    return "broken.safetensors"


def _small_model(ws):
    """A real model file (ResNet20 at 8x8), without a run.json beside it."""
    keras_resnet.ResNet20((8, 8, 3)).save(ws.path / "small.keras")
    return "small.keras"


def _bad_cifar(ws):
    d, _, _ = write_cifar10(ws.path / "badc")
    path = os.path.join(d, "data_batch_3")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:100])
    return "cifar10:badc"


def _foreign_pickle(ws):
    import pickle
    d, _, _ = write_cifar10(ws.path / "evil")
    open(os.path.join(d, "test_batch"), "wb").write(pickle.dumps({b"data": os.getcwd}))
    return "cifar10:evil"


def _bad_labels(ws):
    import numpy as np

    from fake_data import py2_pickle, to_rows
    d, _, _ = write_cifar10(ws.path / "labels")
    rows = to_rows(np.zeros((2, 32, 32, 3), np.uint8))
    open(os.path.join(d, "test_batch"), "wb").write(py2_pickle({"data": rows, "labels": [0, 12]}))
    return "cifar10:labels"


def _bad_images(ws):
    write_folder(ws.path / "imgs")  # 5 images of each class; then every cat is broken
    for path in (ws.path / "imgs" / "cat").iterdir():
        path.write_bytes(b"\xff\xd8\xff not really a jpeg")
    return "folder:imgs"


def _empty_dir(ws):
    os.makedirs(ws.path / "empty")
    return "folder:empty"


class Case(NamedTuple):
    argv: Sequence  # strings, or callables of the Workspace returning one
    message: str  # a regex the error line must match
    setup: Optional[Callable] = None
    usage: bool = False  # argparse's own error
    exit_code: int = cli.EXIT_USAGE


def case(id, *args, marks=(), **kwargs):
    return pytest.param(Case(*args, **kwargs), id=id, marks=marks)


TRAIN = ["train", "--model", "resnet20", "--out", "out"]  # + --data SOURCE ...
TINY = ["--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "1", "--image-size", "8"]

ERRORS = [
    # argparse: a missing or malformed argument
    case("argparse-unknown-command", ["frobnicate"], "invalid choice: 'frobnicate'", usage=True),
    case("list-argparse", ["list", "resnet20"], "unrecognized arguments: resnet20", usage=True),
    case("list-markdown-without-pretrained", ["list", "--markdown"],
         "--markdown goes with --pretrained"),
    case("params-argparse", ["params", "--all"], "unrecognized arguments: --all", usage=True),
    case("summary-argparse", ["summary"], "required: MODEL", usage=True),
    case("convert-argparse", ["convert", "imagenet", "x.keras"], "required: --model", usage=True),
    case("train-argparse", ["train", "--epochs", "x"], "invalid int value: 'x'", usage=True),
    case("evaluate-argparse", ["evaluate", "--model-file", "m.keras"], "required: --data",
         usage=True),
    case("predict-argparse", ["predict", "--model-file", "m.keras"], "required: IMAGE",
         usage=True),
    case("predict-argparse-no-model", ["predict", "x.png"],
         "one of the arguments --model-file --model is required", usage=True),
    case("predict-argparse-both-models", ["predict", "--model-file", "m.keras", "--model",
                                          "resnet18.tv_in1k", "x.png"], "not allowed with",
         usage=True),
    case("plot-argparse", ["plot", "--level", "all"], "invalid choice: 'all'", usage=True),

    # params, summary
    case("params-unknown-model", ["params", "resnet20", "nosuchnet"], "Unknown model 'nosuchnet'"),
    case("summary-unknown-model", ["summary", "resnet99"], "Unknown model 'resnet99'"),
    case("summary-too-small", ["summary", "resnet50", "--input-shape", "8", "8", "3"],
         "at least 32x32"),
    case("summary-zero-size", ["summary", "resnet20", "--input-shape", "0", "8", "3"],
         "`input_shape` entries"),
    case("summary-variant", ["summary", "resnet50", "--variant", "v9"],
         "`variant` must be one of"),

    # convert
    case("convert-unknown-model", ["convert", "imagenet", "x.keras", "--model", "resnet99"],
         "Unknown model 'resnet99'"),
    case("convert-dst-suffix", ["convert", _r18, "out.h5", "--model", "resnet18"],
         "DST must end in .weights.h5 or .keras"),
    case("convert-dst-directory", ["convert", _r18, "nodir/out.keras", "--model", "resnet18"],
         "the directory of DST does not exist"),
    case("convert-wrong-variant", ["convert", _r18, "out.weights.h5", "--model", "resnet18",
                                   "--variant", "v1"], "variant='v1.5'"),
    case("convert-missing-source", ["convert", "missing.safetensors", "out.weights.h5",
                                    "--model", "resnet18"], "does not exist"),
    case("convert-no-imagenet", ["convert", "imagenet", "out.weights.h5", "--model", "resnet18"],
         "No ImageNet weights are published for resnet18"),
    case("convert-corrupt-source", ["convert", _broken_r18, "out.weights.h5", "--model",
                                    "resnet18", "--variant", "v1.5"], "broken.safetensors"),
    case("convert-unwritable", ["convert", _r18, "out.weights.h5", "--model", "resnet18",
                                "--variant", "v1.5", "--num-classes", "10"],
         "out.weights.h5|denied", setup=_unwritable),

    # push
    case("push-argparse", ["push", "run"], "required: REPO_ID", usage=True),
    case("push-not-a-run", ["push", ".", "me/pets"], "not a `keras-resnet train` run directory"),
    case("push-junk-model", ["push", "run", "me/pets", "--save-to", "d"],
         "cannot load .*model.keras", setup=_junk_run),

    # export
    case("export-argparse", ["export", "m.keras", "m.onnx"], "required: --format", usage=True),
    case("export-argparse-format", ["export", "m.keras", "m.onnx", "--format", "keras"],
         "invalid choice: 'keras'", usage=True),
    case("export-int8-without-calibration", ["export", "m.keras", "m.onnx", "--format", "onnx",
                                             "--int8"], "--int8 needs --calibration SOURCE"),
    case("export-calibration-without-int8", ["export", "m.keras", "m.onnx", "--format", "onnx",
                                             "--calibration", "digits"],
         "--calibration goes with --int8"),
    case("export-unknown-source", ["export", "m.keras", "m.onnx", "--format", "onnx", "--int8",
                                   "--calibration", "mnist"], "`data` must be one of"),
    case("export-savedmodel-int8", ["export", "m.keras", "saved", "--format", "savedmodel",
                                    "--int8", "--calibration", "digits"],
         "needs format 'tflite' or 'onnx'"),
    case("export-suffix", ["export", "m.keras", "m.bin", "--format", "onnx"],
         r"must end in \.onnx"),
    case("export-calibration-images", ["export", "m.keras", "m.tflite", "--format", "tflite",
                                       "--int8", "--calibration", "digits",
                                       "--calibration-images", "0"],
         "`calibration_images` must be a positive integer"),
    case("export-savedmodel-exists", ["export", "m.keras", "saved", "--format", "savedmodel"],
         "already exists", setup=_file("saved/keep.txt")),
    case("export-missing-model", ["export", "no.keras", "m.onnx", "--format", "onnx"],
         "`model_file` does not exist"),
    case("export-junk-model", ["export", "run/model.keras", "m.onnx", "--format", "onnx"],
         "cannot load .* as a Keras model", setup=_junk_run),
    case("export-int8-no-run-json", ["export", _small_model, "m.onnx", "--format", "onnx",
                                     "--int8", "--calibration", "digits"],
         "run.json beside the model file .* not found"),
    case("export-unwritable", ["export", _small_model, "m.onnx", "--format", "onnx"], "denied",
         setup=_unwritable),

    # train
    case("train-unknown-model", ["train", "--model", "resnet21", "--data", "digits",
                                 "--out", "out"], "Unknown model 'resnet21'"),
    case("train-no-model", ["train", "--data", "digits", "--out", "out"],
         "`model` and `data` are required"),
    case("train-recipe", [*TRAIN, "--data", "digits", "--recipe", "fast"],
         "`recipe` must be one of"),
    case("train-unknown-source", [*TRAIN, "--data", "mnist"], "`data` must be one of"),
    case("train-missing-data-dir", [*TRAIN, "--data", "cifar10:/no/such/dir"], "does not exist"),
    case("train-empty-folder", [*TRAIN, "--data", _empty_dir], "at least 2; found 0"),
    case("train-truncated-cifar", [*TRAIN, "--data", _bad_cifar], "truncated"),
    case("train-foreign-pickle", [*TRAIN, "--data", _foreign_pickle], "refusing to load"),
    case("train-bad-label", [*TRAIN, "--data", _bad_labels], "label 12 at index 1 is out of range"),
    case("train-unreadable-images", [*TRAIN, "--data", _bad_images, *TINY],
         r"more than 1% of the .*image files are unreadable \(\d+ of \d+\), e.g. "
         r"'.*cat/\d.(jpg|png)': (jpeg|Invalid PNG)"),
    case("train-precision", [*TRAIN, "--data", "digits", "--precision", "float8"],
         "`precision`"),
    case("train-strategy", [*TRAIN, "--data", "digits", "--strategy", "tpu"], "`strategy`"),
    case("train-multi-worker-without-tf-config", [*TRAIN, "--data", "digits", "--strategy",
                                                  "multi_worker"], "TF_CONFIG",
         setup=_no_tf_config),
    case("train-strategy-needs-tensorflow", [*TRAIN, "--data", "digits", "--strategy",
                                             "mirrored"], "needs KERAS_BACKEND=tensorflow",
         setup=_jax_backend),
    case("train-epochs", [*TRAIN, "--data", "digits", "--epochs", "0"],
         "`epochs` must be a positive"),
    case("train-missing-weights", [*TRAIN, "--data", "digits", "--weights", "/no/w.h5"],
         "does not exist"),
    case("train-unknown-weights-tag", [*TRAIN, "--data", "digits", "--weights", "zz_in1k"],
         "Unknown pretrained tag 'zz_in1k' for resnet20"),
    case("train-weights-of-another-model", [*TRAIN, "--data", "digits", "--weights",
                                            "resnet50.a1_in1k"],
         "'resnet50.a1_in1k' is a checkpoint of resnet50, not of model='resnet20'"),
    case("train-imagenet-weights-not-published", [*TRAIN, "--data", "digits", "--weights",
                                                  "imagenet"],
         "weights='imagenet' .* is published for resnet50/101/152"),
    case("train-junk-weights", [*TRAIN, "--data", "digits", "--weights", "w.weights.h5", *TINY],
         "cannot load `weights` 'w.weights.h5' into resnet20",
         setup=_file("w.weights.h5", b"junk")),
    case("train-image-size", [*TRAIN, "--data", "digits", "--image-size", "2"], "at least 8"),
    case("train-auto-augment", [*TRAIN, "--data", "folder:x", "--auto-augment", "autoaugment"],
         "`auto_augment` must be one of randaugment, trivialaugment"),
    case("train-auto-augment-not-photos", [*TRAIN, "--data", "digits", "--auto-augment",
                                           "randaugment"], "`auto_augment` is for photos"),
    case("train-random-erasing", [*TRAIN, "--data", "folder:x", "--random-erasing", "2"],
         r"`random_erasing` must be a probability in \[0, 1\]"),
    case("train-mixup", [*TRAIN, "--data", "digits", "--mixup", "-1"], "`mixup` must be"),
    case("train-cutmix", [*TRAIN, "--data", "digits", "--cutmix", "1.5"],
         r"`cutmix` must be .* in \[0, 1\]"),
    case("train-mixup-argparse", [*TRAIN, "--data", "digits", "--mixup", "lots"],
         "invalid float value: 'lots'", usage=True),
    case("train-checkpoint-every", [*TRAIN, "--data", "digits", "--checkpoint-every", "0"],
         "`checkpoint_every` must be a positive integer"),
    case("train-grace-seconds", [*TRAIN, "--data", "digits", "--grace-seconds", "0"],
         "`grace_seconds` must be a positive number of seconds"),
    case("train-worker-timeout", [*TRAIN, "--data", "digits", "--worker-timeout", "-1"],
         "`worker_timeout` must be a positive number of seconds"),
    case("train-grace-seconds-argparse", [*TRAIN, "--data", "digits", "--grace-seconds", "soon"],
         "invalid float value: 'soon'", usage=True),
    case("train-resume-without-out", ["train", "--model", "resnet20", "--data", "digits",
                                      "--resume"], "--resume needs --out"),
    case("train-out-not-empty", ["train", "--model", "resnet20", "--data", "digits",
                                 "--out", "used"], "already exists", setup=_file("used/keep.txt")),
    case("train-resume-no-run", ["train", "--resume", "--out", "used"], "run.json",
         setup=_file("used/keep.txt")),
    case("train-out-below-a-file", [*TRAIN[:-1], "file/sub", "--data", "digits", *TINY],
         "^keras-resnet train: error: cannot write 'file/sub': Not a directory$",
         setup=_file("file"), exit_code=cli.EXIT_CANT_WRITE),
    case("train-unwritable", [*TRAIN, "--data", "digits", *TINY],
         "^keras-resnet train: error: cannot write 'out/run.json': Permission denied$",
         setup=_unwritable, exit_code=cli.EXIT_CANT_WRITE),

    # evaluate
    case("evaluate-missing-model", ["evaluate", "--model-file", "no.keras", "--data", "digits"],
         "`model_file` does not exist"),
    case("evaluate-no-run-json", ["evaluate", "--model-file", "m.keras", "--data", "digits"],
         "run.json beside the model file .* not found", setup=_file("m.keras", b"junk")),
    case("evaluate-junk-model", ["evaluate", "--model-file", "run/model.keras", "--data",
                                 "digits"], "cannot load .* as a Keras model", setup=_junk_run),
    case("evaluate-unknown-source", ["evaluate", "--model-file", "run/model.keras", "--data",
                                     "mnist"], "`data` must be one of", setup=_junk_run),
    case("evaluate-batch-size", ["evaluate", "--model-file", "run/model.keras", "--data",
                                 "digits", "--batch-size", "0"], "`batch_size` must be a positive"),
    case("evaluate-model-data", ["evaluate", "--model", "resnet18.tv_in1k", "--data", "digits"],
         "`data` must be folder:DIR, an ImageNet validation copy"),
    case("evaluate-model-tag", ["evaluate", "--model", "resnet18.nope", "--data", "folder:."],
         "Unknown pretrained tag 'nope' for resnet18"),
    case("evaluate-model-classes", ["evaluate", "--model", "resnet18.tv_in1k", "--data",
                                    "folder:pets"], "2 class folder.* not ImageNet-1k synsets",
         setup=_pet_folders),
    case("evaluate-model-limit", ["evaluate", "--model-file", "run/model.keras", "--data",
                                  "digits", "--limit", "5"], "--limit goes with --model"),

    # predict
    case("predict-missing-image", ["predict", "--model-file", "run/model.keras", "no.png"],
         "image file does not exist: 'no.png'", setup=_junk_run),
    case("predict-unreadable-image", ["predict", "--model-file", "run/model.keras", "junk.png"],
         "unreadable image 'junk.png'", setup=_junk_run),
    case("predict-junk-model", ["predict", "--model-file", "run/model.keras", "ok.png"],
         "cannot load .* as a Keras model", setup=_junk_run),
    case("predict-top-k", ["predict", "--model-file", "run/model.keras", "ok.png",
                           "--top-k", "0"], "`top_k` must be a positive", setup=_junk_run),
    case("predict-pretrained-not-full-name", ["predict", "--model", "resnet50", "ok.png"],
         "pretrained full name MODEL.TAG", setup=_junk_run),
    case("predict-pretrained-unknown-tag", ["predict", "--model", "resnet50.zz_in1k", "ok.png"],
         "Unknown pretrained tag 'zz_in1k' for resnet50.*Tags of resnet50: imagenet, a1_in1k",
         setup=_junk_run),
    case("predict-pretrained-unknown-model", ["predict", "--model", "resnet5.a1_in1k",
                                              "ok.png"], "Unknown model 'resnet5'",
         setup=_junk_run),
    case("predict-pretrained-missing-image", ["predict", "--model", "resnet18.tv_in1k",
                                              "no.png"], "image file does not exist: 'no.png'"),
    case("predict-pretrained-top-k", ["predict", "--model", "resnet18.tv_in1k", "ok.png",
                                      "--top-k", "0"], "`top` must be an integer in",
         setup=_junk_run),

    # benchmark
    case("benchmark-unknown-model", ["benchmark", "--model", "resnet5"],
         "Unknown model 'resnet5'"),
    case("benchmark-batch", ["benchmark", "--model", "resnet20", "--batch", "0"],
         "--batch must be at least 1"),
    case("benchmark-too-small", ["benchmark", "--model", "resnet20", "--image-size", "4"],
         "--image-size of resnet20 must be at least 8"),
    case("benchmark-int8-train", ["benchmark", "--model", "resnet20", "--format", "int8",
                                  "--train"], "--format int8 times inference only"),
    case("benchmark-bad-dtype", ["benchmark", "--model", "resnet20", "--dtype", "int4"],
         "argument --dtype: invalid choice", usage=True),

    # plot
    case("plot-unknown-model", ["plot", "resnet5", "--out", "out"], "Unknown model 'resnet5'"),
    case("plot-nothing", ["plot", "--out", "out"], "give one or more MODEL names or --all"),
    case("plot-models-and-all", ["plot", "resnet20", "--all", "--out", "out"],
         "give one or more MODEL names or --all"),
    case("plot-both-levels-one-format", ["plot", "resnet20", "--level", "both", "--format",
                                         "svg", "--out", "out"], "drop --format"),
    case("plot-too-small", ["plot", "resnet20", "--input-shape", "2", "2", "3", "--out", "out"],
         "`input_shape` must be at least"),
    case("plot-out-below-a-file", ["plot", "resnet20", "--out", "file/sub"],
         "Cannot create the output directory", setup=_file("file")),
    case("plot-no-graphviz", ["plot", "resnet20", "--out", "out"], "apt-get install graphviz",
         setup=_no_dot),
    case("plot-unwritable", ["plot", "resnet20", "--out", "."],
         "Cannot write to the output directory", setup=_unwritable),
]


@pytest.mark.parametrize("case", ERRORS)
def test_usage_errors(case, tmp_path, monkeypatch, capsys, inputs):
    ws = Workspace(tmp_path, monkeypatch, inputs)
    monkeypatch.chdir(tmp_path)  # relative outputs (and the default runs/) land here
    if case.setup:
        case.setup(ws)
    argv = [a(ws) if callable(a) else a for a in case.argv]
    capsys.readouterr()
    before = _tree(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's errors
        code = e.code
    err = capsys.readouterr().err
    command = argv[0] if argv[0] in _subcommands() else None
    check_usage_error(code, err, command, case.message, before, _tree(tmp_path), case.usage,
                      case.exit_code)


def test_every_subcommand_has_error_cases():
    commands = {p.values[0].argv[0] for p in ERRORS}
    assert set(_subcommands()) <= commands


def test_python_dash_m_error_is_one_line(tmp_path):
    """The installed entry point, TensorFlow's import included, keeps the contract."""
    before = _tree(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "keras_resnet", "train", "--model", "resnet20",
                           "--data", "cifar10:/no/such/dir", "--out", str(tmp_path / "o")],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    # TensorFlow's C++ start-up lines (oneDNN, CUDA) are kept out: stderr is the error alone.
    err = proc.stderr
    check_usage_error(proc.returncode, err, "train",
                      "^keras-resnet train: error: cifar10 data directory does not exist: "
                      "'/no/such/dir'$", before, _tree(tmp_path))


def test_help_and_list_start_without_tensorflow():
    """`--help`, `list` and `list --pretrained [--markdown]` read the registry alone: no framework
    is imported, so they answer at once (about 0.2 s here, against 4 s with TensorFlow)."""
    code = ("import sys, contextlib, io\n"
            "from keras_resnet import cli\n"
            "for argv in (['list'], ['list', '--pretrained'],\n"
            "             ['list', '--pretrained', '--markdown'], ['--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            cli.main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
    assert proc.stderr == ""


def test_list_pretrained(capsys):
    assert cli.main(["list", "--pretrained"]) == 0
    out = capsys.readouterr().out
    for row in keras_resnet.list_pretrained():
        line = next(line for line in out.splitlines() if line.startswith(row.name + " "))
        assert f"{'-' if row.top1 is None else row.top1}" in line and row.source in line
    assert out.rstrip().splitlines()[-1].startswith(f"{len(keras_resnet.list_pretrained())} "
                                                    "checkpoints of ")
    assert keras_resnet.list_pretrained("ResNet50") == [
        p for p in keras_resnet.list_pretrained() if p.model == "resnet50"]
    assert keras_resnet.list_pretrained("resnet20") == []


def test_tensorflow_start_up_lines_are_kept_out():
    # The model code imports Keras, and so TensorFlow, before this error is found.
    proc = subprocess.run([sys.executable, "-m", "keras_resnet", "summary", "resnet20",
                           "--input-shape", "4", "4", "3"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "keras-resnet summary: error: `input_shape` must be at least 8x8 in height and width "
        "for resnet20. Received: input_shape=(4, 4, 3)"]
