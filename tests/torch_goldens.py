"""Deterministic random torchvision/timm ResNet weights, drawn with numpy alone.

Shared by `scripts/make_torch_goldens.py` (which loads them into torchvision's
resnet18..152, ResNeXt and Wide ResNet, and timm's ResNet-D, and records their
logits in `tests/goldens/torchvision_logits.npz`) and by
`tests/test_torch_goldens.py` (which regenerates them without torch, writes a
`.safetensors` file and loads it into the Keras models). It imports
numpy only, so it runs in a torch-only environment too.
"""

from __future__ import annotations

import os
import zlib
from typing import Dict, Tuple

import numpy as np

SEED = 3
NUM_CLASSES = 10
INPUT_SHAPE_NCHW = (2, 3, 64, 64)
GOLDENS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens",
                            "torchvision_logits.npz")

# The peers' architecture table (a test checks it against keras_resnet.specs.ARCHS):
# name -> (block type, blocks per stage, groups, width per group, deep stem +
# average-pool shortcut (ResNet-D), the library that defines it).
DEPTHS: Dict[str, Tuple[str, Tuple[int, ...], int, int, bool, str]] = {
    "resnet18": ("basic", (2, 2, 2, 2), 1, 64, False, "torchvision"),
    "resnet34": ("basic", (3, 4, 6, 3), 1, 64, False, "torchvision"),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 1, 64, False, "torchvision"),
    "resnet101": ("bottleneck", (3, 4, 23, 3), 1, 64, False, "torchvision"),
    "resnet152": ("bottleneck", (3, 8, 36, 3), 1, 64, False, "torchvision"),
    "resnext50_32x4d": ("bottleneck", (3, 4, 6, 3), 32, 4, False, "torchvision"),
    "wide_resnet50_2": ("bottleneck", (3, 4, 6, 3), 1, 128, False, "torchvision"),
    "resnet50d": ("bottleneck", (3, 4, 6, 3), 1, 64, True, "timm"),
}


def state_dict_shapes(name: str, num_classes: int = NUM_CLASSES) -> Dict[str, tuple]:
    """Every key of the peer's `state_dict()` (torchvision's, or timm's for
    ResNet-D) with its shape, in order."""
    block_type, blocks, groups, width_per_group, resnet_d, _ = DEPTHS[name]
    expansion = 4 if block_type == "bottleneck" else 1
    shapes: Dict[str, tuple] = {}

    def bn(prefix, channels):
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{suffix}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    if resnet_d:  # timm's deep stem: conv1 = Sequential(conv, bn, act, conv, bn, act, conv)
        shapes["conv1.0.weight"] = (32, 3, 3, 3)
        bn("conv1.1", 32)
        shapes["conv1.3.weight"] = (32, 32, 3, 3)
        bn("conv1.4", 32)
        shapes["conv1.6.weight"] = (64, 32, 3, 3)
    else:
        shapes["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            p = f"layer{stage}.{i}"
            width = planes * width_per_group // 64 * groups
            if block_type == "basic":
                convs = [(planes, inplanes, 3), (planes, planes, 3)]
            else:
                convs = [(width, inplanes, 1), (width, width // groups, 3),
                         (planes * 4, width, 1)]
            for k, (out, cin, size) in enumerate(convs, start=1):
                shapes[f"{p}.conv{k}.weight"] = (out, cin, size, size)
                bn(f"{p}.bn{k}", out)
            if stride != 1 or inplanes != planes * expansion:
                # timm's average-pool shortcut is Sequential(pool, conv, bn).
                first = 1 if resnet_d else 0
                shapes[f"{p}.downsample.{first}.weight"] = (planes * expansion, inplanes, 1, 1)
                bn(f"{p}.downsample.{first + 1}", planes * expansion)
            inplanes = planes * expansion
    shapes["fc.weight"] = (num_classes, inplanes)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def _is_last_bn_of_branch(key: str, block_type: str) -> bool:
    return f".bn{3 if block_type == 'bottleneck' else 2}." in key


def random_state_dict(name: str, num_classes: int = NUM_CLASSES) -> Dict[str, np.ndarray]:
    """torchvision-layout weights and BN statistics for `name`, drawn from SEED
    (see `random_weights`)."""
    block_type = DEPTHS[name][0]
    return random_weights(state_dict_shapes(name, num_classes),
                          lambda key: _is_last_bn_of_branch(key, block_type))


def random_weights(shapes: Dict[str, tuple], is_last_bn) -> Dict[str, np.ndarray]:
    """Weights of the given state-dict keys and shapes, drawn from SEED.

    Each array comes from its own generator seeded by (SEED, crc32(key)), so it
    does not depend on the order of the keys. Convolutions are He-scaled and
    each branch's last BN (`is_last_bn(key)`) has a small gamma, so the logits
    stay O(1) even for ResNet152 with statistics that do not match the activations.
    """
    state = {}
    for key, shape in shapes.items():
        rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
        leaf = key.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            state[key] = np.array(0, dtype=np.int64)
            continue
        if len(shape) in (3, 4):  # conv (out, in, kh, kw) or Conv1d (out, in, k)
            fan_in = int(np.prod(shape[1:]))
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif key == "fc.weight":
            value = rng.standard_normal(shape) / np.sqrt(shape[1])
        elif key == "fc.bias":
            value = rng.normal(0.0, 0.1, shape)
        elif leaf == "weight":  # BN gamma
            low, high = (0.1, 0.3) if is_last_bn(key) else (0.5, 1.5)
            value = rng.uniform(low, high, shape)
        elif leaf == "bias":  # BN beta (or a conv bias)
            value = rng.normal(0.0, 0.1, shape)
        elif leaf == "running_mean":
            value = rng.normal(0.0, 0.2, shape)
        else:  # running_var
            value = rng.uniform(0.5, 2.0, shape)
        state[key] = value.astype(np.float32)
    return state


def random_input() -> np.ndarray:
    """The fixed input batch, NCHW float32."""
    return np.random.default_rng([SEED, 1]).standard_normal(INPUT_SHAPE_NCHW).astype(np.float32)


def fingerprint(arrays) -> np.ndarray:
    """A few numbers that change when numpy's generators draw other values."""
    values = [np.asarray(a, np.float64) for a in arrays]
    return np.array([sum(float(np.abs(v).sum()) for v in values),
                     sum(float(v.ravel()[:7].sum()) for v in values)])
