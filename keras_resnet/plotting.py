"""Architecture diagrams: one node per stem, residual block and head, or one per layer.

The block-level graph is read off the layer-name grammar (`conv1_*`/`pool1_*`
is the stem, `{stage}_block{i}_*` a residual block, `post_*`/`avg_pool`/
`max_pool`/`predictions` the head), so even ResNet152 fits a readable PNG. The
layer-level graph has every layer with its output shape, as
`keras.utils.plot_model(show_shapes=True)` draws it, boxed by block; best as SVG.
Both are rendered by graphviz's `dot`, checked for first, and written through a
temporary file so that a failure leaves no partial file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import keras

from keras_resnet.atomic import atomic_path, write_text
from keras_resnet.keras_compat import inbound_nodes, producing_layer

LEVELS = ("block", "layer")
FORMATS = ("png", "svg", "pdf")
DEFAULT_FORMAT = {"block": "png", "layer": "svg"}
INSTALL_HINT = ("graphviz's `dot` was not found on PATH; install it with "
                "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
                "or `conda install graphviz`, or run `bash scripts/setup.sh`")
# graphviz clamps bitmaps to this many pixels a side and scales the drawing down.
MAX_BITMAP_SIDE = 32767

_HEAD_LAYERS = ("post_bn", "post_relu", "avg_pool", "max_pool", "predictions")
_BLOCK_RE = re.compile(r"^(?P<block>(?:\w+_)?block\d+)_(?:\d|preact|add|out)")
_STAGE_RE = re.compile(r"^(?P<stage>\w+)_block\d+$")
# One fill colour per stage, cycled: light enough for black text.
_GREY = "#eeeeee"
_PALETTE = ("#dbe9f6", "#fde2c8", "#d9f0d3", "#eadcf0", "#fbe3e8", "#fff3bf")


class GraphvizNotFoundError(RuntimeError):
    """graphviz's `dot` executable is missing; the message says how to install it."""


def find_dot() -> str:
    """Path of graphviz's `dot`, or `GraphvizNotFoundError` with the install command."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizNotFoundError(INSTALL_HINT)
    return path


def group_of(layer_name: str) -> str:
    """The diagram node a layer belongs to: "stem", "head", a block prefix such as
    "conv3_block1", or the layer's own name (inputs and layers outside the grammar)."""
    if layer_name.startswith(("conv1_", "pool1_")):
        return "stem"
    if layer_name in _HEAD_LAYERS:
        return "head"
    match = _BLOCK_RE.match(layer_name)
    return match.group("block") if match else layer_name


def _shape(shape) -> str:
    dims = shape[1:] if shape and shape[0] is None else shape
    return "x".join("?" if d is None else str(d) for d in dims)


def _conv_text(layer) -> str:
    k, s = layer.kernel_size[0], layer.strides[0]
    return f"{k}x{k}{'/%d' % s if s > 1 else ''} conv, {layer.filters}"


def _edges(model: keras.Model) -> List[Tuple[keras.layers.Layer, keras.layers.Layer]]:
    """(source, destination) layer pairs of the model's functional graph."""
    own = {id(layer) for layer in model.layers}
    edges = []
    for layer in model.layers:
        for node in inbound_nodes(layer):
            for tensor in node.input_tensors:
                source = producing_layer(tensor)
                if source is not None and id(source) in own and id(layer) in own:
                    edges.append((source, layer))
    return edges


_STRIDED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.MaxPooling2D,
            keras.layers.AveragePooling2D)


def _block_label(name: str, members: Dict[str, keras.layers.Layer]) -> str:
    def get(suffix):
        return members.get(f"{name}_{suffix}")

    branch = [get(f"{i}_conv") for i in (1, 2, 3) if get(f"{i}_conv") is not None]
    kind = "bottleneck" if len(branch) == 3 else "basic" if len(branch) == 2 else "block"
    strides = [layer.strides[0] for layer in members.values()
               if isinstance(layer, _STRIDED)]
    stride = max(strides, default=1)
    title = f"{kind}, stride {stride}"
    if get("preact_bn") is not None:
        title += ", pre-activation"
    for suffix, what in (("se", "SE"), ("eca", "ECA"), ("2_aa", "avg anti-aliased"),
                         ("1_aa", "avg anti-aliased"), ("2_blur", "blur anti-aliased"),
                         ("1_blur", "blur anti-aliased")):
        if get(suffix) is not None:
            title += f", {what}"
    if get("0_conv") is not None:
        shortcut = f"projection {_conv_text(get('0_conv'))}"
    else:
        parts = []
        if get("0_pool") is not None:
            parts.append(f"subsample /{get('0_pool').strides[0]}")
        if get("0_pad") is not None:
            parts.append(f"zero-pad +{get('0_pad').extra_channels} ch")
        shortcut = " + ".join(parts) or "identity"
    lines = [name, title, " > ".join(_conv_text(c) for c in branch), f"shortcut: {shortcut}"]
    return "\n".join(line for line in lines if line)


def _stem_or_head_label(title: str, members: Dict[str, keras.layers.Layer]) -> str:
    parts = []
    for layer in members.values():
        if isinstance(layer, keras.layers.Conv2D):
            parts.append(_conv_text(layer))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            k, s = layer.pool_size[0], layer.strides[0]
            kind = "max" if isinstance(layer, keras.layers.MaxPooling2D) else "avg"
            parts.append(f"{k}x{k}{'/%d' % s if s > 1 else ''} {kind}-pool")
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            parts.append(f"3x3/{layer.strides[0]} blur")
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            parts.append("global avg-pool")
        elif isinstance(layer, keras.layers.GlobalMaxPooling2D):
            parts.append("global max-pool")
        elif isinstance(layer, keras.layers.Dense):
            activation = getattr(layer.activation, "__name__", str(layer.activation))
            parts.append(f"dense {layer.units}, {activation}")
        elif layer.name == "post_bn":
            parts.append({"GroupNormalization": "GN-ReLU", "EvoNormS0": "EvoNorm-S0"}.get(
                type(layer).__name__, "BN-ReLU"))
    return "\n".join([title] + parts)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _groups(model: keras.Model) -> Dict[str, Dict[str, keras.layers.Layer]]:
    """Layers by diagram node, in topological order (a group's last layer is its output)."""
    groups: Dict[str, Dict[str, keras.layers.Layer]] = {}
    for layer in model.layers:
        groups.setdefault(group_of(layer.name), {})[layer.name] = layer
    return groups


def _stages(groups) -> Dict[str, List[str]]:
    stages: Dict[str, List[str]] = {}
    for group in groups:
        match = _STAGE_RE.match(group)
        if match:
            stages.setdefault(match.group("stage"), []).append(group)
    return stages


def _header(title: str, dpi: int, fontsize: int) -> List[str]:
    return [
        f"digraph {_quote(title)} {{",
        f"  graph [rankdir=TB, dpi={int(dpi)}, ranksep=0.25, nodesep=0.3, bgcolor=white, "
        f"label={_quote(title)}, labelloc=t, fontname=Helvetica, fontsize=18];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, '
        f'fontsize={fontsize}, fillcolor="{_GREY}", margin="0.1,0.04"];',
        "  edge [arrowsize=0.6];",
    ]


def _cluster(name: str, label: str, body: List[str], style: str = "rounded,dashed"
             ) -> List[str]:
    return ([f"  subgraph {_quote('cluster_' + name)} {{",
             f"    label={_quote(label)}; labeljust=l; style={_quote(style)}; fontsize=12;"]
            + ["  " + line for line in body] + ["  }"])


def _block_body(model: keras.Model, prefix: str) -> List[str]:
    """Nodes (ids prefixed by `prefix`), stage clusters and edges of the block graph."""
    groups = _groups(model)
    stages = _stages(groups)

    def node(group: str, fill: str) -> str:
        members = groups[group]
        if group in ("stem", "head"):
            label = _stem_or_head_label(group, members)
        elif _STAGE_RE.match(group):
            label = _block_label(group, members)
        else:
            label = f"{group}\n{members[group].__class__.__name__}"
        label += f"\nout: {_shape(list(members.values())[-1].output.shape)}"
        return f"  {_quote(prefix + group)} [label={_quote(label)}, fillcolor={_quote(fill)}];"

    in_stage = {g for members in stages.values() for g in members}
    lines = [node(g, _GREY) for g in groups if g not in in_stage]
    for i, (stage, members) in enumerate(stages.items()):
        fill = _PALETTE[i % len(_PALETTE)]
        lines.extend(_cluster(prefix + stage, f"{stage} ({len(members)} blocks)",
                              [node(g, fill) for g in members]))
    seen = set()
    for source, dest in _edges(model):
        edge = (group_of(source.name), group_of(dest.name))
        if edge[0] != edge[1] and edge not in seen:
            seen.add(edge)
            lines.append(f"  {_quote(prefix + edge[0])} -> {_quote(prefix + edge[1])};")
    return lines


def _layer_detail(layer) -> str:
    if isinstance(layer, keras.layers.Conv2D):
        return _conv_text(layer).replace(" conv", "")
    if isinstance(layer, keras.layers.MaxPooling2D):
        k, s = layer.pool_size[0], layer.strides[0]
        return f"{k}x{k}/{s}"
    if isinstance(layer, keras.layers.Dense):
        return f"{layer.units}, {getattr(layer.activation, '__name__', layer.activation)}"
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", str(layer.activation))
    if isinstance(layer, keras.layers.ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        return f"{top}" if top == bottom == left == right else str(layer.padding)
    if hasattr(layer, "extra_channels"):
        return f"+{layer.extra_channels} ch"
    return ""


def _layer_body(model: keras.Model, prefix: str) -> List[str]:
    """Nodes (ids prefixed by `prefix`), block clusters and edges of the layer graph."""
    groups = _groups(model)
    fills = {g: _PALETTE[i % len(_PALETTE)]
             for i, members in enumerate(_stages(groups).values()) for g in members}

    def node(layer) -> str:
        detail = _layer_detail(layer)
        kind = layer.__class__.__name__ + (f" {detail}" if detail else "")
        label = f"{layer.name}\n{kind}\n{_shape(layer.output.shape)}"
        fill = fills.get(group_of(layer.name), _GREY)
        return f"  {_quote(prefix + layer.name)} [label={_quote(label)}, fillcolor={_quote(fill)}];"

    lines = []
    for group, members in groups.items():
        if list(members) == [group]:  # a layer outside the grammar, e.g. the input
            lines.append(node(members[group]))
        else:
            lines.extend(_cluster(prefix + group, group,
                                  [node(layer) for layer in members.values()]))
    for source, dest in _edges(model):
        lines.append(f"  {_quote(prefix + source.name)} -> {_quote(prefix + dest.name)};")
    return lines


_BODIES = {"block": (_block_body, 11), "layer": (_layer_body, 10)}


def dot_source(model: Union[keras.Model, Sequence[keras.Model]], level: str = "block", *,
               dpi: int = 96) -> str:
    """The graphviz dot source of the `level` ("block" or "layer") diagram.

    `model` may be a list of models, drawn side by side (one box per model).
    Node ids are layer names, so the same model always gives the same source.
    """
    _check_level(level)
    body, fontsize = _BODIES[level]
    if isinstance(model, keras.Model):
        lines = _header(model.name, dpi, fontsize) + body(model, "")
    else:
        lines = _header("", dpi, fontsize)
        for i, m in enumerate(model):
            lines.extend(_cluster(f"model{i}", m.name, body(m, f"{i}/"), style="rounded"))
    return "\n".join(lines + ["}"]) + "\n"


def block_graph(model: keras.Model, *, dpi: int = 96) -> str:
    """The block-level diagram of `model` as graphviz dot source.

    One node per stem, residual block and head (plus inputs and any layer
    outside the naming grammar), labelled with the block's type, stride, branch
    convolutions, shortcut kind and output shape; blocks are boxed by stage.
    """
    return dot_source(model, "block", dpi=dpi)


def layer_graph(model: keras.Model, *, dpi: int = 96) -> str:
    """The layer-level diagram of `model` as graphviz dot source: every layer
    with its class, settings and output shape (as `keras.utils.plot_model`
    with `show_shapes=True` draws it), boxed by stem, block and head.

    The labels are kept short so that the SVG of ResNet152 stays small.
    """
    return dot_source(model, "layer", dpi=dpi)


def fingerprint(model: keras.Model, level: str = "block") -> str:
    """A short hash of the `level` diagram's dot source: changes whenever the
    drawing would (architecture, shapes or label format), without rendering it."""
    return _digest(dot_source(model, level))


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _check_level(level) -> None:
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {list(LEVELS)}. Received: level={level!r}")


def render(source: str, path: str | os.PathLike, fmt: Optional[str] = None) -> str:
    """Render dot `source` to `path` with graphviz, atomically; returns the path.

    Args:
        source: graphviz dot source.
        path: Output file; its extension gives the format unless `fmt` is set.
        fmt: "png", "svg" or "pdf".

    Raises:
        GraphvizNotFoundError: `dot` is not installed.
        ValueError: bad format, missing directory, or graphviz rejected the graph.
    """
    path = os.fspath(path)
    fmt = fmt or os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"The diagram format must be one of {list(FORMATS)} (from `format` or "
                         f"the file extension). Received: {fmt or path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"Output directory does not exist: {directory!r}")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"Output directory is not writable: {directory!r}")
    dot = find_dot()
    try:
        with atomic_path(path) as tmp:
            result = subprocess.run([dot, f"-T{fmt}", "-o", tmp], input=source.encode(),
                                    capture_output=True, check=False)
            if result.returncode != 0:
                raise ValueError(f"graphviz failed to draw {path!r}: "
                                 f"{result.stderr.decode(errors='replace').strip()}")
    except OSError as e:
        raise ValueError(f"Cannot write to the output directory {directory!r}: {e.strerror}") from e
    if "scaling" in result.stderr.decode(errors="replace"):
        warnings.warn(f"{path}: the drawing exceeds graphviz's {MAX_BITMAP_SIDE} px limit "
                      "and was scaled down; use level='block' or an SVG/PDF file.", stacklevel=2)
    return path


def plot_model(model: Union[keras.Model, Sequence[keras.Model]], path: str | os.PathLike, *,
               level: str = "block", format: Optional[str] = None, dpi: int = 96) -> str:
    """Draw `model` to `path` and return the path.

    Args:
        model: A functional Keras model (any of the zoo's, or one built from
            `block`/`stack`), or a list of models to draw side by side.
        path: Output file, e.g. "resnet50.png".
        level: "block" (one node per stem, residual block and head; fits a
            readable PNG for every depth) or "layer" (every layer with its
            output shape; best as SVG: deep nets exceed graphviz's bitmap limit).
        format: "png", "svg" or "pdf"; default: the extension of `path`.
        dpi: Resolution of bitmap output.

    Raises:
        GraphvizNotFoundError: graphviz's `dot` is missing (the message gives
            the install command).
        ValueError: bad `level`/`format` or an unwritable directory.
    """
    _check_level(level)
    if format is not None and format not in FORMATS:
        raise ValueError(f"`format` must be one of {list(FORMATS)}. Received: format={format!r}")
    find_dot()  # before building a large graph
    return render(dot_source(model, level, dpi=dpi), path, format)


MANIFEST = "MANIFEST.json"


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def plot_registered(names: List[str], out_dir: str | os.PathLike, *,
                    levels: Tuple[str, ...] = ("block",), format: Optional[str] = None,
                    manifest: bool = False, **build_kwargs) -> List[str]:
    """Draw registered models into `out_dir`, one file per model and level.

    Files are named after the model (`resnet50.png`); `format` defaults to PNG
    for "block" and SVG for "layer". With `manifest=True`, `out_dir/MANIFEST.json`
    records each file's level, `fingerprint` and SHA-256, so a test can tell
    stale diagrams without rendering them again.

    Returns:
        The paths written, in order.
    """
    import json

    from keras_resnet.builders import get_model
    from keras_resnet.registry import model_info

    for level in levels:
        _check_level(level)
    if format is not None and format not in FORMATS:
        raise ValueError(f"`format` must be one of {list(FORMATS)}. Received: format={format!r}")
    formats = [format or DEFAULT_FORMAT[level] for level in levels]
    if len(set(formats)) != len(formats):
        raise ValueError(f"Levels {list(levels)} would all write .{formats[0]} files over each "
                         "other; give one level, or leave the format to its default.")
    names = [model_info(name).name for name in names]  # every name is checked first
    find_dot()
    out_dir = os.fspath(out_dir)
    written, records = [], {}
    for name in names:
        model = get_model(name, **build_kwargs)  # bad build arguments fail before any mkdir
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as e:
            raise ValueError(f"Cannot create the output directory {out_dir!r}: "
                             f"{e.strerror}") from e
        for level, fmt in zip(levels, formats):
            source = dot_source(model, level)
            path = render(source, os.path.join(out_dir, f"{model.name}.{fmt}"), fmt)
            written.append(path)
            records.setdefault(model.name, {})[os.path.basename(path)] = {
                "level": level,
                "fingerprint": _digest(source),
                "sha256": _sha256(path),
            }
        keras.backend.clear_session()
    if manifest:
        path = os.path.join(out_dir, MANIFEST)
        write_text(path, json.dumps({"models": records}, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written
