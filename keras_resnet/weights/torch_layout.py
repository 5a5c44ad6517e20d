"""torchvision / timm ResNet checkpoints: `.pth`/`.pt` and `.safetensors` readers and
the key mapping to Keras layer names.

torchvision and timm name a ResNet's tensors the same way: `conv1`, `bn1`,
`layer{s}.{i}.conv{k}` / `.bn{k}`, `layer{s}.{i}.downsample.{0,1}`, `fc`. Their
models follow the "v1.5" convention (stride on the 3x3 conv, no conv bias).
ResNeXt and Wide ResNet use the same names (grouped kernels are (out, in/groups,
kh, kw) in both frameworks). timm's ResNet-D adds a deep stem
`conv1.{0,1,3,4,6}` and average-pool shortcuts `downsample.{1,2}` (after a
parameter-free `downsample.0` pool). timm's other ResNets add channel attention
`layer{s}.{i}.se.fc1/fc2` (SE, 1x1 convs with bias) or `.se.conv` (ECA, a Conv1d
of shape (1, 1, k)), and ResNet-RS's stem conv `maxpool.0` + BN `maxpool.1`
(`maxpool.2` after an anti-aliasing pool); anti-aliasing pools hold no tensors.
timm's resnet50_gn has GroupNorm (weight and bias only) where the others have
BatchNorm.

timm's resnetv2.py (pre-activation, BiT) names them `stem.conv` (or the deep
`stem.conv1..3` with `stem.norm1..2`), `stages.{s}.blocks.{i}.norm{k}` /
`.conv{k}` / `.downsample.conv`, `norm` and a 1x1-conv classifier `head.fc`;
its norms are BatchNorm, GroupNorm or EvoNorm-S0 (weight, bias, v), and BiT's
weight-standardised convolutions store their raw kernels, as `StdConv2D` does.

`to_torch` is the inverse (Keras layer names -> timm's state dict), for
`keras_resnet.sharing.save_pretrained`: `_INVERSE` holds one row per row of
`_PATTERNS`, so a layout added there needs its inverse row beside it (the
tests round-trip one registered model of each kind with a timm name through both).
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional

import numpy as np

from keras_resnet.specs import BLUR_SUFFIX
from keras_resnet.weights.assign import CLASSIFIER, NamedWeights

TORCH_EXTRA = 'pip install "keras-resnet-zoo[torch]"'

_BN = ("weight", "bias", "running_mean", "running_var")  # -> gamma, beta, mean, variance
_GN = ("weight", "bias")  # GroupNorm -> gamma, beta
_EVONORM = ("weight", "bias", "v")  # EvoNorm-S0 -> gamma, beta, v
_CONV = ("weight", "bias")  # -> kernel, bias
_PREFIXES = ("module.", "model.")  # DataParallel / Lightning-style wrappers

_DEEP_STEM = {"0": "conv1_1_conv", "1": "conv1_1_bn", "3": "conv1_2_conv", "4": "conv1_2_bn",
              "6": "conv1_3_conv"}

_PATTERNS = [
    (re.compile(r"conv1\.(weight|bias)"), lambda m: "conv1_conv"),
    (re.compile(r"conv1\.([01346])\.(\w+)"), lambda m: _DEEP_STEM[m[1]]),
    (re.compile(r"bn1\.(\w+)"), lambda m: "conv1_bn"),
    (re.compile(r"layer(\d+)\.(\d+)\.conv(\d+)\.(weight|bias)"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_{m[3]}_conv"),
    (re.compile(r"layer(\d+)\.(\d+)\.bn(\d+)\.(\w+)"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_{m[3]}_bn"),
    (re.compile(r"layer(\d+)\.(\d+)\.downsample\.0\.(weight|bias)"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_0_conv"),
    (re.compile(r"layer(\d+)\.(\d+)\.downsample\.1\.(\w+)"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_0_bn"),
    (re.compile(r"layer(\d+)\.(\d+)\.se\.fc([12])\.(weight|bias)"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_se_"
               + ("reduce" if m[3] == "1" else "expand")),
    (re.compile(r"layer(\d+)\.(\d+)\.se\.conv\.weight"),
     lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}_eca_conv"),
    (re.compile(r"maxpool\.0\.(weight|bias)"), lambda m: "pool1_conv"),
    (re.compile(r"maxpool\.[12]\.(\w+)"), lambda m: "pool1_bn"),
    (re.compile(r"fc\.(weight|bias)"), lambda m: CLASSIFIER),
    # timm's resnetv2.py: a pre-activation block's norm{k} precedes its conv{k}.
    (re.compile(r"stem\.conv\.weight"), lambda m: "conv1_conv"),
    (re.compile(r"stem\.conv([123])\.weight"), lambda m: f"conv1_{m[1]}_conv"),
    (re.compile(r"stem\.norm([12])\.(\w+)"), lambda m: f"conv1_{m[1]}_bn"),
    (re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.conv(\d+)\.weight"),
     lambda m: f"conv{int(m[1]) + 2}_block{int(m[2]) + 1}_{m[3]}_conv"),
    (re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.norm1\.(\w+)"),
     lambda m: f"conv{int(m[1]) + 2}_block{int(m[2]) + 1}_preact_bn"),
    (re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.norm(\d+)\.(\w+)"),
     lambda m: f"conv{int(m[1]) + 2}_block{int(m[2]) + 1}_{int(m[3]) - 1}_bn"),
    (re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.downsample\.conv\.weight"),
     lambda m: f"conv{int(m[1]) + 2}_block{int(m[2]) + 1}_0_conv"),
    (re.compile(r"norm\.(\w+)"), lambda m: "post_bn"),
    (re.compile(r"head\.fc\.(weight|bias)"), lambda m: CLASSIFIER),
]


# The inverse of _PATTERNS: a Keras layer name -> the torch module that holds its tensors.
_DEEP_STEM_MODULE = {keras_name: index for index, keras_name in _DEEP_STEM.items()}
_INVERSE = [
    (re.compile(r"conv1_conv"), lambda m: "conv1"),
    (re.compile(r"conv1_[123]_(?:conv|bn)"), lambda m: f"conv1.{_DEEP_STEM_MODULE[m[0]]}"),
    (re.compile(r"conv1_bn"), lambda m: "bn1"),
    (re.compile(r"conv(\d+)_block(\d+)_([1-9])_(conv|bn)"),
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.{m[4]}{m[3]}"),
    (re.compile(r"conv(\d+)_block(\d+)_0_conv"),
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.0"),
    (re.compile(r"conv(\d+)_block(\d+)_0_bn"),
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.downsample.1"),
    (re.compile(r"conv(\d+)_block(\d+)_se_(reduce|expand)"),
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.se.fc{1 if m[3] == 'reduce' else 2}"),
    (re.compile(r"conv(\d+)_block(\d+)_eca_conv"),
     lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) - 1}.se.conv"),
    (re.compile(r"pool1_conv"), lambda m: "maxpool.0"),
    (re.compile(r"pool1_bn"), lambda m: "maxpool.1"),
    (re.compile(re.escape(CLASSIFIER)), lambda m: "fc"),
]
# The inverse of timm resnetv2.py's rows (a pre-activation model: it has `post_bn`).
_STAGE_BLOCK = r"conv(\d+)_block(\d+)"


def _v2_block(m) -> str:
    return f"stages.{int(m[1]) - 2}.blocks.{int(m[2]) - 1}"


_INVERSE_V2 = [
    (re.compile(r"conv1_conv"), lambda m: "stem.conv"),
    (re.compile(r"conv1_([123])_conv"), lambda m: f"stem.conv{m[1]}"),
    (re.compile(r"conv1_([12])_bn"), lambda m: f"stem.norm{m[1]}"),
    (re.compile(_STAGE_BLOCK + r"_preact_bn"), lambda m: f"{_v2_block(m)}.norm1"),
    (re.compile(_STAGE_BLOCK + r"_([1-9])_bn"), lambda m: f"{_v2_block(m)}.norm{int(m[3]) + 1}"),
    (re.compile(_STAGE_BLOCK + r"_([1-9])_conv"), lambda m: f"{_v2_block(m)}.conv{m[3]}"),
    (re.compile(_STAGE_BLOCK + r"_0_conv"), lambda m: f"{_v2_block(m)}.downsample.conv"),
    (re.compile(r"post_bn"), lambda m: "norm"),
    (re.compile(re.escape(CLASSIFIER)), lambda m: "head.fc"),
]


def _strip_prefix(state: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def _normalize_avg_down(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Rename ResNet-D's `downsample.{1,2}` (after its pool) to the plain
    `downsample.{0,1}`, so one set of patterns reads both layouts."""
    if not any(".downsample.2." in k for k in state):
        return state
    renames = ((".downsample.1.", ".downsample.0."), (".downsample.2.", ".downsample.1."))
    renamed = {}
    for key, value in state.items():
        for old, new in renames:
            if old in key:
                key = key.replace(old, new)
                break
        renamed[key] = value
    return renamed


def is_torch_layout(keys) -> bool:
    """Whether the keys look like a torchvision/timm ResNet state dict."""
    keys = set(_strip_prefix(dict.fromkeys(keys)))
    resnet = bool({"conv1.weight", "conv1.0.weight"} & keys) and any(
        k.startswith("layer1.") for k in keys)
    resnetv2 = bool({"stem.conv.weight", "stem.conv1.weight"} & keys) and any(
        k.startswith("stages.0.") for k in keys)
    return resnet or resnetv2


def to_keras(state: Mapping[str, np.ndarray], source: str) -> NamedWeights:
    """Map a torchvision/timm ResNet state dict to Keras layer names and layouts.

    Conv kernels (out, in, kh, kw) become (kh, kw, in, out); the Dense kernel is
    transposed; BN weight/bias/running_mean/running_var become
    gamma/beta/moving_mean/moving_variance. `num_batches_tracked` is dropped.
    """
    state = _normalize_avg_down(_strip_prefix(state))
    if not is_torch_layout(state):
        raise ValueError(f"{source}: not a torchvision/timm ResNet state dict (no "
                         "'conv1.weight' or 'conv1.0.weight' and 'layer1.*' keys, nor timm "
                         "resnetv2's 'stem.conv.weight' or 'stem.conv1.weight' and "
                         "'stages.0.*').")
    parts: Dict[str, Dict[str, np.ndarray]] = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        for pattern, layer_name in _PATTERNS:
            m = pattern.fullmatch(key)
            if m:
                parts.setdefault(layer_name(m), {})[key.rsplit(".", 1)[1]] = np.asarray(value)
                break
        else:
            raise ValueError(
                f"{source}: unexpected key {key!r}: only the torchvision/timm ResNet "
                "layouts (conv1, bn1, maxpool, layer1-4 with se, fc) and timm's resnetv2 "
                "layout (stem, stages, norm, head.fc) are supported, not other variants.")
    named: NamedWeights = {}
    for layer_name, tensors in parts.items():
        is_bn = layer_name.endswith("_bn")
        order = _CONV
        if is_bn:  # which norm: told apart by the tensors it has
            order = (_EVONORM if "v" in tensors else
                     _BN if set(tensors) & set(_BN[2:]) else _GN)
        unknown = set(tensors) - set(order)
        missing = set(order if is_bn else order[:1]) - set(tensors)
        if unknown or missing:
            raise ValueError(f"{source}: layer {layer_name!r} has tensors {sorted(tensors)}; "
                             f"expected {list(order)}.")
        arrays = [tensors[k] for k in order if k in tensors]
        if not is_bn:
            # Conv2d (out, in, kh, kw), Conv1d (out, in, k), Linear (out, in): Keras puts
            # out last and in before it.
            kernel = arrays[0]
            if layer_name == CLASSIFIER and kernel.ndim == 4:  # timm's 1x1-conv classifier
                kernel = kernel[:, :, 0, 0]
            arrays[0] = kernel.transpose({4: (2, 3, 1, 0), 3: (2, 1, 0)}.get(kernel.ndim, (1, 0)))
        named[layer_name] = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    return named


def is_preactivation(layer_names) -> bool:
    """Whether Keras layer names are a pre-activation model's (timm's resnetv2 layout)."""
    return any(name == "post_bn" or name.endswith("_preact_bn") for name in layer_names)


def torch_module(layer_name: str, preactivation: bool = False) -> Optional[str]:
    """The torch module path of a Keras layer name ("conv2_block1_1_conv" ->
    "layer1.0.conv1", or with `preactivation` timm resnetv2's "stages.0.blocks.0.conv1"),
    or None for a layer the layout has no place for."""
    for pattern, module in (_INVERSE_V2 if preactivation else _INVERSE):
        m = pattern.fullmatch(layer_name)
        if m:
            return module(m)
    return None


def to_torch(named: Mapping[str, list], *, avg_down: bool = False,
             source: str = "model") -> Dict[str, np.ndarray]:
    """The inverse of `to_keras`: Keras layer name -> arrays, as timm's state dict.

    Conv kernels (kh, kw, in, out) become (out, in, kh, kw), the Dense kernel is
    transposed, BatchNormalization's four arrays become weight, bias,
    running_mean, running_var (plus timm's `num_batches_tracked`, 0), GroupNorm's
    two weight and bias, EvoNorm-S0's three weight, bias and v. A pre-activation
    model (one with `post_bn`) gets timm resnetv2's names.
    `avg_down`: ResNet-D's shortcuts, `downsample.{1,2}` after the pool.

    Raises:
        ValueError: naming the layers the layout has no place for, or a
            layer whose arrays are not a conv's, a BN's or a Dense's.
    """
    # Fixed blur filters are the model's own constants, not weights of a timm file.
    named = {name: arrays for name, arrays in named.items() if not name.endswith(BLUR_SUFFIX)}
    preactivation = is_preactivation(named)
    unknown = sorted(name for name in named if torch_module(name, preactivation) is None)
    if unknown:
        raise ValueError(f"{source}: layers {', '.join(unknown[:5])}"
                         f"{' ...' if len(unknown) > 5 else ''} have no place in timm's "
                         + ("resnetv2 layout (stem, stages, norm, head.fc)" if preactivation
                            else "ResNet layout (conv1, bn1, layer1-4, fc)"))
    state: Dict[str, np.ndarray] = {}
    for name, arrays in named.items():
        module = torch_module(name, preactivation)
        if avg_down and not preactivation and ".downsample." in module:
            module = module[:-1] + str(int(module[-1]) + 1)
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        if name.endswith("_bn"):  # which norm: told apart by its number of arrays
            keys = {4: _BN, 3: _EVONORM, 2: _GN}.get(len(arrays))
            if keys is None:
                raise ValueError(f"{source}: layer {name!r} has {len(arrays)} arrays; a "
                                 "BatchNormalization with scale and center has 4, EvoNorm-S0 "
                                 "3, GroupNormalization 2")
            for key, array in zip(keys, arrays):
                state[f"{module}.{key}"] = array
            if keys is _BN:
                state[f"{module}.num_batches_tracked"] = np.array(0, dtype=np.int64)
            continue
        kernel = arrays[0]
        if kernel.ndim not in (2, 3, 4) or len(arrays) > 2:
            raise ValueError(f"{source}: layer {name!r} holds arrays of shapes "
                             f"{[a.shape for a in arrays]}, not a convolution's or a Dense's")
        # (kh, kw, in, out) -> (out, in, kh, kw); ECA's Conv1D (k, 1, 1) -> (1, 1, k)
        arrays[0] = kernel.transpose({4: (3, 2, 0, 1), 3: (2, 1, 0)}.get(kernel.ndim, (1, 0)))
        if name == CLASSIFIER and preactivation:  # timm's resnetv2 classifies by a 1x1 conv
            arrays[0] = arrays[0][:, :, None, None]
        for key, array in zip(_CONV, arrays):
            state[f"{module}.{key}"] = np.ascontiguousarray(array)
    return state


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """The tensors of a `.safetensors` file, read with safetensors' numpy API."""
    from safetensors.numpy import load_file
    return load_file(path)


def read_torch(path: str) -> Dict[str, np.ndarray]:
    """The tensors of a `.pth`/`.pt` state dict, loaded with `weights_only=True`.

    `weights_only=True` unpickles tensors and plain containers only, never
    arbitrary objects. A checkpoint dict holding the state dict under
    "state_dict" or "model" is unwrapped.
    """
    try:
        import torch
    except ImportError:
        raise ValueError(f"Reading {path!r} (a PyTorch file) needs torch: {TORCH_EXTRA}, "
                         "or convert the file to .safetensors, which needs no torch.") from None
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path!r} holds a {type(obj).__name__}, not a state dict.")
    out = {}
    for key, tensor in obj.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{path!r}: entry {key!r} is a {type(tensor).__name__}, "
                             "not a tensor.")
        tensor = tensor.detach().cpu()
        out[key] = (tensor.float() if tensor.is_floating_point() else tensor).numpy()
    return out
