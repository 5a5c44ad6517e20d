"""Diagrams: the block/layer graphs, rendering, the `plot` command and the committed plots/."""

import hashlib
import json
import os
import re
import struct
import subprocess

import keras
import pytest

import keras_resnet
from keras_resnet import cli, plotting
from keras_resnet.registry import list_models, model_info

PLOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plots")


def _nodes(source):
    """Node name -> label of a dot source written by keras_resnet.plotting."""
    return {m.group(1): m.group(2).replace("\\n", "\n")
            for m in re.finditer(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"', source, re.M)}


def _edges(source):
    return set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)";', source, re.M))


def _png_size(path):
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_group_of_follows_the_layer_name_grammar():
    assert plotting.group_of("conv1_conv") == "stem"
    assert plotting.group_of("pool1_pool") == "stem"
    assert plotting.group_of("conv4_block12_0_bn") == "conv4_block12"
    assert plotting.group_of("conv2_block1_preact_relu") == "conv2_block1"
    assert plotting.group_of("conv5_block3_out") == "conv5_block3"
    assert plotting.group_of("block7_2_conv") == "block7"  # block() without a name
    for name in ("post_bn", "avg_pool", "max_pool", "predictions"):
        assert plotting.group_of(name) == "head"
    assert plotting.group_of("input") == "input"
    assert plotting.group_of("my_dense") == "my_dense"


def test_block_graph_of_resnet50_has_one_node_per_block():
    source = plotting.block_graph(keras_resnet.ResNet50())
    nodes = _nodes(source)
    blocks = [n for n in nodes if "_block" in n]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert set(nodes) - set(blocks) == {"input", "stem", "head"}
    # A chain: input -> stem -> conv2_block1 -> ... -> conv5_block3 -> head.
    order = ["input", "stem"] + blocks + ["head"]
    assert _edges(source) == set(zip(order, order[1:]))
    assert nodes["stem"] == "stem\n7x7/2 conv, 64\n3x3/2 max-pool\nout: 56x56x64"
    first = nodes["conv3_block1"]
    # v1 (keras.applications) puts the stride on the first 1x1 conv.
    assert "bottleneck, stride 2" in first
    assert "1x1/2 conv, 128 > 3x3 conv, 128 > 1x1 conv, 512" in first
    assert "shortcut: projection 1x1/2 conv, 512" in first
    assert first.endswith("out: 28x28x512")
    assert "shortcut: identity" in nodes["conv3_block2"]
    assert nodes["head"] == "head\nglobal avg-pool\ndense 1000, softmax\nout: 1000"


@pytest.mark.slow  # draws three diagrams
def test_block_graph_shows_the_conventions():
    v15 = _nodes(plotting.block_graph(keras_resnet.ResNet50(variant="v1.5")))
    assert "1x1 conv, 128 > 3x3/2 conv, 128 > 1x1 conv, 512" in v15["conv3_block1"]
    keras.backend.clear_session()
    v2 = _nodes(plotting.block_graph(keras_resnet.ResNet50V2()))
    assert "stride 1, pre-activation" in v2["conv3_block1"]
    assert "stride 2, pre-activation" in v2["conv3_block4"]  # v2: stride at the stage end
    assert "shortcut: subsample /2" in v2["conv3_block4"]
    assert "BN-ReLU" in v2["head"]
    keras.backend.clear_session()
    a = _nodes(plotting.block_graph(keras_resnet.ResNet20()))
    assert "shortcut: subsample /2 + zero-pad +16 ch" in a["conv3_block1"]
    assert a["stem"] == "stem\n3x3 conv, 16\nout: 32x32x16"
    keras.backend.clear_session()
    c = _nodes(plotting.block_graph(keras_resnet.ResNet20(shortcut="C")))
    assert "shortcut: projection 1x1 conv, 16" in c["conv2_block2"]


def test_layer_graph_has_every_layer_and_the_edges_keras_draws():
    model = keras_resnet.ResNet20(input_shape=(16, 16, 3))
    source = plotting.layer_graph(model)
    nodes = _nodes(source)
    assert set(nodes) == {layer.name for layer in model.layers}
    assert nodes["conv3_block1_1_conv"] == "conv3_block1_1_conv\nConv2D 3x3/2, 32\n8x8x32"
    # The same edges as keras.utils.model_to_dot (which names nodes by id(layer)).
    keras_dot = keras.utils.model_to_dot(model).to_string()
    names = {str(id(layer)): layer.name for layer in model.layers}
    keras_edges = {(names[a], names[b]) for a, b in re.findall(r"(\d+) -> (\d+)", keras_dot)}
    assert _edges(source) == keras_edges
    assert ("conv2_block3_out", "conv3_block1_0_pool") in keras_edges  # the shortcut


def test_sources_are_deterministic_across_sessions():
    first = [plotting.dot_source(keras_resnet.ResNet18(), level) for level in plotting.LEVELS]
    keras.backend.clear_session()
    second = [plotting.dot_source(keras_resnet.ResNet18(), level) for level in plotting.LEVELS]
    assert first == second


def test_a_list_of_models_is_drawn_side_by_side():
    a = keras_resnet.ResNet20(input_shape=(8, 8, 3), name="a")
    c = keras_resnet.ResNet20(input_shape=(8, 8, 3), shortcut="C", name="c")
    source = plotting.dot_source([a, c], "layer")
    nodes = _nodes(source)
    assert len(nodes) == len(a.layers) + len(c.layers)
    assert "0/conv3_block1_0_pad" in nodes and "1/conv3_block1_0_conv" in nodes
    assert "1/conv3_block1_0_pad" not in nodes
    assert ("1/conv3_block1_0_conv", "1/conv3_block1_0_bn") in _edges(source)
    assert source.count('subgraph "cluster_model') == 2


@pytest.mark.slow
def test_resnet152_block_png_is_readable_and_unscaled(tmp_path, recwarn):
    path = plotting.plot_model(keras_resnet.ResNet152(), tmp_path / "resnet152.png")
    assert not [w for w in recwarn if "scaled down" in str(w.message)]
    width, height = _png_size(path)
    assert height < plotting.MAX_BITMAP_SIDE
    # 53 nodes (input, stem, 50 blocks, head) at 96 dpi with 11 pt text: >= 90 px each.
    assert height / 53 >= 90 and width >= 300


def test_formats_and_no_partial_file(tmp_path, monkeypatch):
    model = keras_resnet.ResNet20(input_shape=(8, 8, 3))
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        path = plotting.plot_model(model, tmp_path / f"m.{fmt}", level="layer")
        with open(path, "rb") as f:
            assert f.read(5).startswith(magic)
    assert sorted(os.listdir(tmp_path)) == ["m.pdf", "m.png", "m.svg"]

    def failing_dot(cmd, **kwargs):  # graphviz dies after writing half a file
        with open(cmd[cmd.index("-o") + 1], "w") as f:
            f.write("<svg")
        return subprocess.CompletedProcess(cmd, 1, b"", b"dot: out of memory")

    monkeypatch.setattr(plotting.subprocess, "run", failing_dot)
    with pytest.raises(ValueError, match="out of memory"):
        plotting.plot_model(model, tmp_path / "new.svg")
    assert sorted(os.listdir(tmp_path)) == ["m.pdf", "m.png", "m.svg"]


def test_bad_arguments(tmp_path):
    model = keras_resnet.ResNet20(input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="`level` must be one of"):
        plotting.plot_model(model, tmp_path / "m.png", level="stage")
    with pytest.raises(ValueError, match="format must be one of"):
        plotting.plot_model(model, tmp_path / "m.jpg")
    with pytest.raises(ValueError, match="does not exist"):
        plotting.plot_model(model, tmp_path / "missing" / "m.png")


def test_missing_dot_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting.shutil, "which", lambda name: None)
    model = keras_resnet.ResNet20(input_shape=(8, 8, 3))
    with pytest.raises(plotting.GraphvizNotFoundError, match="apt-get install graphviz"):
        plotting.plot_model(model, tmp_path / "m.png")
    assert os.listdir(tmp_path) == []


# --- the command line (its error contract: tests/test_cli.py) ---------------------------

def test_cli_plot_writes_one_file_per_model_and_level(tmp_path, capsys):
    out = tmp_path / "diagrams"
    assert cli.main(["plot", "resnet20", "ResNet32", "--out", str(out), "--level", "both"]) == 0
    assert sorted(os.listdir(out)) == ["resnet20.png", "resnet20.svg",
                                       "resnet32.png", "resnet32.svg"]
    assert capsys.readouterr().out.split() == [str(out / n) for n in
                                               ("resnet20.png", "resnet20.svg",
                                                "resnet32.png", "resnet32.svg")]
    with open(out / "resnet32.svg") as f:
        assert "conv4_block5_out" in f.read()
    assert cli.main(["plot", "resnet20", "--out", str(out), "--level", "layer",
                     "--format", "pdf", "--variant", "v1"]) == 0
    assert (out / "resnet20v1.pdf").exists()  # named after the model it drew


# --- the committed plots/ -----------------------------------------------------------------

def _manifest():
    with open(os.path.join(PLOTS, plotting.MANIFEST)) as f:
        return json.load(f)["models"]


def test_every_registered_model_has_its_committed_diagrams():
    manifest = _manifest()
    missing = [name for name in list_models()
               if {f: e["level"] for f, e in manifest.get(name, {}).items()}
               != {f"{name}.png": "block", f"{name}.svg": "layer"}]
    assert not missing, ("models without diagrams in plots/; run "
                         f"`keras-resnet plot --all --out plots --level both`: {missing}")
    for name, files in manifest.items():
        for filename, entry in files.items():
            with open(os.path.join(PLOTS, filename), "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == entry["sha256"], filename
            if filename.endswith(".png"):
                assert _png_size(os.path.join(PLOTS, filename))[1] < plotting.MAX_BITMAP_SIDE


# Whether a committed diagram is stale (its fingerprint against the built model's) is checked
# in tests/test_registry.py, on the model it builds for the recorded metadata.
