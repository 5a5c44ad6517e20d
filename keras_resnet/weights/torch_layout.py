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
"""

from __future__ import annotations

import re
from typing import Dict, Mapping

import numpy as np

from keras_resnet.weights.assign import CLASSIFIER, NamedWeights

TORCH_EXTRA = 'pip install "keras-resnet-zoo[torch]"'

_BN = ("weight", "bias", "running_mean", "running_var")  # -> gamma, beta, mean, variance
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
    return bool({"conv1.weight", "conv1.0.weight"} & keys) and any(
        k.startswith("layer1.") for k in keys)


def to_keras(state: Mapping[str, np.ndarray], source: str) -> NamedWeights:
    """Map a torchvision/timm ResNet state dict to Keras layer names and layouts.

    Conv kernels (out, in, kh, kw) become (kh, kw, in, out); the Dense kernel is
    transposed; BN weight/bias/running_mean/running_var become
    gamma/beta/moving_mean/moving_variance. `num_batches_tracked` is dropped.
    """
    state = _normalize_avg_down(_strip_prefix(state))
    if not is_torch_layout(state):
        raise ValueError(f"{source}: not a torchvision/timm ResNet state dict (no "
                         "'conv1.weight' or 'conv1.0.weight' and 'layer1.*' keys).")
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
                "layouts (conv1, bn1, maxpool, layer1-4 with se, fc) are supported, not "
                "other variants.")
    named: NamedWeights = {}
    for layer_name, tensors in parts.items():
        is_bn = layer_name.endswith("_bn")
        order = _BN if is_bn else _CONV
        unknown = set(tensors) - set(order)
        missing = set(order[:4] if is_bn else order[:1]) - set(tensors)
        if unknown or missing:
            raise ValueError(f"{source}: layer {layer_name!r} has tensors {sorted(tensors)}; "
                             f"expected {list(order)}.")
        arrays = [tensors[k] for k in order if k in tensors]
        if not is_bn:
            # Conv2d (out, in, kh, kw), Conv1d (out, in, k), Linear (out, in): Keras puts
            # out last and in before it.
            kernel = arrays[0]
            arrays[0] = kernel.transpose({4: (2, 3, 1, 0), 3: (2, 1, 0)}.get(kernel.ndim, (1, 0)))
        named[layer_name] = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    return named


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
