"""Deterministic random weights for timm's resnetv2 family (and resnet50_gn), drawn with
numpy alone, in timm's state-dict layout.

Shared by `scripts/make_torch_goldens.py --resnetv2-family` (which checks the keys and
shapes against timm's `state_dict()`, loads the weights into timm's models and records
their logits and parameter counts in tests/goldens/timm_resnetv2_family.{npz,json}) and
by tests/test_resnetv2_family.py (which regenerates them without torch, saves them as a
timm Hub repo and loads them into the Keras models). Uses torch_goldens' seed, input and
fingerprint; imports numpy only.
"""

from __future__ import annotations

import os
import zlib
from typing import Dict, Tuple

import numpy as np

import torch_goldens as g

GOLDENS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens")
LOGITS_PATH = os.path.join(GOLDENS_DIR, "timm_resnetv2_family.npz")
PARAMS_PATH = os.path.join(GOLDENS_DIR, "timm_resnetv2_family.json")
NUM_CLASSES = g.NUM_CLASSES
TAGS = {  # one timm tag per layout whose logits are recorded (a Hub repo timm/ARCH.TAG)
    "resnetv2_18": "ra4_e3600_r224_in1k",  # pre-activation BN, basic blocks
    "resnetv2_50": "a1h_in1k",  # pre-activation BN, bottlenecks
    "resnetv2_18d": "ra4_e3600_r224_in1k",  # pre-activation BN, deep stem, avg-down
    "resnetv2_50d_gn": "ah_in1k",  # GroupNorm
    "resnetv2_50d_evos": "ah_in1k",  # EvoNorm-S0
    "resnetv2_50x1_bit": "goog_in21k_ft_in1k",  # BiT: weight standardisation + GroupNorm
    "resnet50_gn": "a1h_in1k",  # timm's resnet.py with GroupNorm
}
ONE_CHANNEL = "resnetv2_50x1_bit"  # also recorded with in_chans=1 (timm's adapt_input_conv)

# arch -> (block type, blocks per stage, deep stem + avg-down, norm, BiT width factor)
LAYOUTS: Dict[str, Tuple[str, Tuple[int, ...], bool, str, int]] = {
    "resnetv2_18": ("basic", (2, 2, 2, 2), False, "batch", 0),
    "resnetv2_18d": ("basic", (2, 2, 2, 2), True, "batch", 0),
    "resnetv2_50": ("bottleneck", (3, 4, 6, 3), False, "batch", 0),
    "resnetv2_50d_gn": ("bottleneck", (3, 4, 6, 3), True, "group", 0),
    "resnetv2_50d_evos": ("bottleneck", (3, 4, 6, 3), True, "evonorm", 0),
    "resnetv2_50x1_bit": ("bottleneck", (3, 4, 6, 3), False, "group", 1),
}
_NORM_TENSORS = {"batch": ("weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"),
                 "group": ("weight", "bias"), "evonorm": ("weight", "bias", "v")}


def state_dict_shapes(name: str, num_classes: int = NUM_CLASSES) -> Dict[str, tuple]:
    """Every key of timm's `state_dict()` of `name` with its shape."""
    if name == "resnet50_gn":  # torchvision's layout with GroupNorm's two tensors
        return {k: v for k, v in g.state_dict_shapes("resnet50", num_classes).items()
                if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    block_type, blocks, deep, norm, width_factor = LAYOUTS[name]
    wf = width_factor or 1
    shapes: Dict[str, tuple] = {}

    def add_norm(prefix, channels):
        for leaf in _NORM_TENSORS[norm]:
            shapes[f"{prefix}.{leaf}"] = () if leaf == "num_batches_tracked" else (channels,)

    stem = 64 * wf
    if deep:
        shapes["stem.conv1.weight"] = (stem // 2, 3, 3, 3)
        add_norm("stem.norm1", stem // 2)
        shapes["stem.conv2.weight"] = (stem // 2, stem // 2, 3, 3)
        add_norm("stem.norm2", stem // 2)
        shapes["stem.conv3.weight"] = (stem, stem // 2, 3, 3)
    else:
        shapes["stem.conv.weight"] = (stem, 3, 7, 7)
    cin = stem
    for s, n in enumerate(blocks):
        width = 64 * 2 ** s * wf
        out = width * (4 if block_type == "bottleneck" else 1)
        for i in range(n):
            p = f"stages.{s}.blocks.{i}"
            if block_type == "bottleneck":
                convs = [(width, cin, 1), (width, width, 3), (out, width, 1)]
            else:
                convs = [(out, cin, 3), (out, out, 3)]
            # timm's order: downsample, then norm1, conv1, norm2, conv2, ...
            if i == 0 and (block_type == "bottleneck" or s > 0 or cin != out):
                shapes[f"{p}.downsample.conv.weight"] = (out, cin, 1, 1)
            for k, (o, c, size) in enumerate(convs, start=1):
                add_norm(f"{p}.norm{k}", c)
                shapes[f"{p}.conv{k}.weight"] = (o, c, size, size)
            cin = out
    add_norm("norm", cin)
    shapes["head.fc.weight"] = (num_classes, cin, 1, 1)
    shapes["head.fc.bias"] = (num_classes,)
    return shapes


def random_state_dict(name: str, num_classes: int = NUM_CLASSES) -> Dict[str, np.ndarray]:
    """timm-layout weights and norm statistics for `name`, drawn from torch_goldens.SEED,
    each array from its own generator seeded by (SEED, crc32(name/key)).

    Convolutions are He-scaled (a branch's last one by a further 0.3, so the sums of
    the pre-activation stages stay O(1)); norms get gammas in [0.5, 1.5], betas and
    running means around 0, running variances in [0.5, 2] and EvoNorm `v` in [0.5, 1.5].
    """
    state = {}
    for key, shape in state_dict_shapes(name, num_classes).items():
        rng = np.random.default_rng([g.SEED, zlib.crc32(f"{name}/{key}".encode())])
        leaf = key.rsplit(".", 1)[1]
        if leaf == "num_batches_tracked":
            state[key] = np.array(0, dtype=np.int64)
            continue
        if key.startswith(("head.fc.", "fc.")) and leaf == "weight":
            value = rng.standard_normal(shape) / np.sqrt(shape[1])
        elif key.startswith(("head.fc.", "fc.")):
            value = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 4:  # conv (out, in, kh, kw)
            fan_in = shape[1] * shape[2] * shape[3]
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            if key.endswith(".conv3.weight") or (
                    ".blocks." in key and key.endswith(".conv2.weight")
                    and LAYOUTS.get(name, ("bottleneck",))[0] == "basic"):
                value *= 0.3
        elif leaf in ("weight", "v"):
            low, high = (0.1, 0.3) if key.endswith(".bn3.weight") else (0.5, 1.5)
            value = rng.uniform(low, high, shape)
        elif leaf in ("bias", "running_mean"):
            value = rng.normal(0.0, 0.1 if leaf == "bias" else 0.2, shape)
        else:  # running_var
            value = rng.uniform(0.5, 2.0, shape)
        state[key] = value.astype(np.float32)
    return state


def one_channel(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """`state` for a 1-channel input, as timm's `adapt_input_conv` makes it (the RGB
    kernels of the first conv summed)."""
    first = "stem.conv.weight" if "stem.conv.weight" in state else "stem.conv1.weight"
    return {**state, first: state[first].sum(axis=1, keepdims=True)}
