"""timm's ResNet family (timm/models/resnet.py) as state-dict shapes, drawn with numpy alone.

Shared by `scripts/make_torch_goldens.py --resnet-family` (which checks that these
keys and shapes are exactly timm's `state_dict()` of each architecture, loads the
seeded weights into timm's model and records its logits in
`tests/goldens/timm_resnet_family.npz`, and every new architecture's parameter count
in `timm_resnet_family.json`) and by `tests/test_timm_family.py` (which regenerates
the weights without torch, saves them as a timm Hub repo and loads them into the
Keras models). The shapes are derived from the registry's `ArchSpec`s, so the
recorder's comparison with timm checks the specs too. Imports numpy and the
framework-free registry only.
"""

from __future__ import annotations

import os
from typing import Dict

import numpy as np

from keras_resnet.specs import ArchSpec, eca_kernel_size, expansion, se_channels

import torch_goldens as g

GOLDENS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens")
LOGITS_PATH = os.path.join(GOLDENS_DIR, "timm_resnet_family.npz")
PARAMS_PATH = os.path.join(GOLDENS_DIR, "timm_resnet_family.json")

# One architecture (and a timm tag of it) per distinct layout.
LAYOUTS = {
    "stem_c": "resnet50c.gluon_in1k",          # deep stem 32-32-64, strided projections
    "stem_s": "resnet50s.gluon_in1k",          # deep stem 64-64-128
    "stem_t": "resnet10t.c3_in1k",             # tiered stem 24-32-64, avg-down, basic blocks
    "avg_down_d": "resnet18d.ra2_in1k",        # deep stem + average-pool shortcuts
    "rs_stem": "resnetrs50.tf_in1k",           # ResNet-RS: conv stem pool, SE 1/4
    "aa_avg": "resnetaa50.a1h_in1k",           # average-pool anti-aliasing, 7x7 stem
    "blur": "resnetblur50.bt_in1k",            # BlurPool2d anti-aliasing
    "se": "seresnext26d_32x4d.bt_in1k",        # squeeze-and-excitation, grouped
    "eca": "ecaresnet26t.ra2_in1k",            # ECA, tiered stem
    "eca_7x7_avg_down": "ecaresnetlight.miil_in1k",  # ECA, 7x7 stem with avg-down
    "senet154": "senet154.gluon_in1k",         # halved first convs, 3x3 projections
    "pruned": "ecaresnet50d_pruned.miil_in1k",  # per-block widths
    "test_resnet": "test_resnet.r160_in1k",    # mixed block types, custom widths
}
NUM_CLASSES = 10


def state_dict_shapes(spec: ArchSpec, num_classes: int = NUM_CLASSES) -> Dict[str, tuple]:
    """Every key of timm's `state_dict()` for `spec` with its shape."""
    shapes: Dict[str, tuple] = {}

    def bn(prefix, channels):
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{suffix}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    width = spec.stem_width
    if spec.stem.name in ("deep", "tiered"):  # Sequential(conv, bn, act, conv, bn, act, conv)
        first = 3 * (width // 8) if spec.stem.name == "tiered" else width // 2
        shapes["conv1.0.weight"] = (first, 3, 3, 3)
        bn("conv1.1", first)
        shapes["conv1.3.weight"] = (width // 2, first, 3, 3)
        bn("conv1.4", width // 2)
        shapes["conv1.6.weight"] = (width, width // 2, 3, 3)
    else:
        shapes["conv1.weight"] = (width, 3, 7, 7)
    bn("bn1", width)
    if spec.stem_pool == "conv":
        shapes["maxpool.0.weight"] = (width, width, 3, 3)
        bn("maxpool.2" if spec.anti_alias else "maxpool.1", width)
    inplanes = width
    for stage, (block_type, planes, n, widths) in enumerate(zip(
            spec.block_types, spec.widths, spec.blocks_per_stage, spec.stage_block_widths),
            start=1):
        out = planes * expansion(block_type)
        for i in range(n):
            p = f"layer{stage}.{i}"
            stride = 2 if stage > 1 and i == 0 else 1
            inner = planes * spec.width_per_group // 64 * spec.groups
            if widths:
                convs = widths[i]
            elif block_type == "bottleneck":
                convs = (inner // spec.reduce_first, inner, out)
            else:
                convs = (planes // spec.reduce_first, out)
            if block_type == "bottleneck":
                kernels = [(convs[0], inplanes, 1), (convs[1], convs[0] // spec.groups, 3),
                           (convs[2], convs[1], 1)]
            else:
                kernels = [(convs[0], inplanes, 3), (convs[1], convs[0], 3)]
            for k, (c_out, c_in, size) in enumerate(kernels, start=1):
                shapes[f"{p}.conv{k}.weight"] = (c_out, c_in, size, size)
                bn(f"{p}.bn{k}", c_out)
            block_out = convs[-1]
            if spec.attention == "se":
                rd = se_channels(block_out, spec.se_ratio)
                shapes[f"{p}.se.fc1.weight"] = (rd, block_out, 1, 1)
                shapes[f"{p}.se.fc1.bias"] = (rd,)
                shapes[f"{p}.se.fc2.weight"] = (block_out, rd, 1, 1)
                shapes[f"{p}.se.fc2.bias"] = (block_out,)
            elif spec.attention == "eca":
                shapes[f"{p}.se.conv.weight"] = (1, 1, eca_kernel_size(out))
            if i == 0 and (stride != 1 or inplanes != block_out):
                if spec.avg_down:  # Sequential(pool, conv, bn)
                    shapes[f"{p}.downsample.1.weight"] = (block_out, inplanes, 1, 1)
                    bn(f"{p}.downsample.2", block_out)
                else:
                    size = spec.down_kernel_size if stride > 1 else 1
                    shapes[f"{p}.downsample.0.weight"] = (block_out, inplanes, size, size)
                    bn(f"{p}.downsample.1", block_out)
            inplanes = block_out
    shapes["fc.weight"] = (num_classes, inplanes)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def random_state_dict(spec: ArchSpec, num_classes: int = NUM_CLASSES) -> Dict[str, np.ndarray]:
    """timm-layout weights and randomised BN statistics for `spec`, drawn from
    `torch_goldens.SEED` (`torch_goldens.random_weights`)."""
    last_bn = {f"layer{s}.": f".bn{3 if kind == 'bottleneck' else 2}."
               for s, kind in enumerate(spec.block_types, start=1)}

    def is_last_bn(key):
        return any(key.startswith(s) and b in key for s, b in last_bn.items())

    return g.random_weights(state_dict_shapes(spec, num_classes), is_last_bn)


def random_input() -> np.ndarray:
    """The fixed input batch, NCHW float32 (torch_goldens': 2 x 3 x 64 x 64)."""
    return g.random_input()
