"""README.md is a front door: short, its links resolve, and its examples run.

Every python block runs as written, each in a fresh namespace (a reader copies one block), in an
empty working directory, offline: the one checkpoint the examples fetch is laid out beforehand in
a stand-in Hugging Face cache (random weights in timm's layout), so a block that needed anything
else from the network fails. Every `keras-resnet` command line is parsed by the real argument
parser; the training example's commands also run (slow), with the epochs cut short.
"""

import configparser
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from safetensors.numpy import save_file

import torch_goldens as g
from conftest import closed_port, put_in_hub_cache
from keras_resnet import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_LINES = 200
# The sections a newcomer reads, in order (the CI test reads Quickstart's two commands).
SECTIONS = ["Install", "Quickstart", "Build a model", "Fine-tune a pretrained checkpoint",
            "Train from the command line", "Export", "Files that plain Keras loads",
            "Documentation"]
# The checkpoints the examples load, and the architecture of their stand-in weights.
STAND_INS = {"timm/resnet18.tv_in1k": "resnet18"}


def _text() -> str:
    return README.read_text(encoding="utf-8")


def sections(text: str) -> dict:
    """`## heading` -> its body (up to the next `## `); fenced code is not scanned for headings."""
    out, heading, fenced = {}, None, False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = []
        elif heading is not None:
            out[heading].append(line)
    return {h: "\n".join(lines) for h, lines in out.items()}


def code_blocks(text: str, language: str) -> list:
    """The bodies of the ```language fenced blocks of `text`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def command_lines(text: str) -> list:
    """Each `keras-resnet ...` line of the bash blocks, comment cut, as an argv list."""
    lines = []
    for block in code_blocks(text, "bash"):
        for line in block.splitlines():
            if line.startswith("keras-resnet "):
                lines.append(shlex.split(line, comments=True))
    return lines


def test_readme_is_short_and_has_its_sections_in_order():
    text = _text()
    assert len(text.splitlines()) <= MAX_LINES
    headings = list(sections(text))
    assert headings == SECTIONS
    assert "keras-resnet-zoo" in sections(text)["Install"]  # the distribution's name


def test_generated_tables_live_on_the_site_not_in_the_readme():
    text = _text()
    for marker in ("pretrained-table:start", "speed-table:start"):
        assert marker not in text
    assert not [line for line in text.splitlines() if line.startswith("|")]


def test_links_resolve():
    text = _text()
    anchors = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in sections(text)}
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets
    for target in targets:
        if target.startswith(("http://", "https://")):
            continue
        if target.startswith("#"):
            assert target[1:] in anchors, target
        else:
            assert (ROOT / target.split("#")[0]).exists(), target


def test_every_guide_page_is_linked():
    text = _text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md")
                   if p.name not in ("README.md", "index.md"))
    assert pages
    missing = [p for p in pages if f"(docs/{p})" not in text]
    assert not missing


def test_install_extras_exist():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = set(config["options.extras_require"])
    named = set()
    for block in code_blocks(_text(), "bash"):
        for group in re.findall(r'"\.\[([\w,]+)\]"', block):
            named.update(group.split(","))
    assert named and named <= extras, named - extras


def test_every_command_line_parses():
    lines = command_lines(_text())
    assert {argv[1] for argv in lines} >= {"train", "evaluate", "predict", "export"}
    parser = cli.build_parser()
    for argv in lines:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                parser.parse_args(argv[1:])
            except SystemExit:
                pytest.fail(f"{shlex.join(argv)}: {err.getvalue()}")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty working directory, no network, and the stand-in Hub cache."""
    hub = tmp_path / "hub"
    for repo, arch in STAND_INS.items():
        weights = tmp_path / f"{arch}.safetensors"
        save_file(g.random_state_dict(arch, 1000), str(weights))
        put_in_hub_cache(hub, repo, {"model.safetensors": weights.read_bytes()})
        weights.unlink()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # "imagenet" files: none
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize("section", ["Build a model", "Fine-tune a pretrained checkpoint",
                                     "Export"])
def test_python_examples_run(section, offline):
    blocks = code_blocks(sections(_text())[section], "python")
    assert blocks, f"README's {section!r} has no python example"
    for i, code in enumerate(blocks):
        namespace = {"__name__": "__readme__"}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"README.md, {section}, block {i + 1}", "exec"), namespace)
        if section == "Fine-tune a pretrained checkpoint":
            assert namespace["model"].output_shape == (None, 10)
            assert namespace["model"].get_layer("conv1_conv").trainable is False  # frozen
        if section == "Export":
            for name in re.findall(r'"([\w.]+\.(?:tflite|onnx))"', code):
                assert (offline / name).stat().st_size > 0, name


@pytest.mark.slow
def test_training_example_runs(offline):
    """The training section's train and evaluate lines, cut to two steps, then the export line
    (int8, calibrated) on the model they wrote."""
    lines = command_lines(sections(_text())["Train from the command line"])
    lines += command_lines(sections(_text())["Export"])
    # (not the lines on the user's own ImageNet copy, --data folder:...)
    runnable = [argv for argv in lines if argv[1] in ("train", "evaluate", "export")
                and not any(a.startswith("folder:") for a in argv)]
    assert [argv[1] for argv in runnable] == ["train", "evaluate", "export"]
    for argv in runnable:
        args = argv[1:]
        if args[0] == "train":
            args += ["--epochs", "1", "--steps-per-epoch", "2"]
        if args[0] == "export":
            args += ["--calibration-images", "16"]
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(args) == 0, shlex.join(argv)
    written = [Path(a) for argv in runnable for a in argv if re.search(r"\.(keras|onnx)$", a)]
    for path in written:
        assert path.is_file(), path
