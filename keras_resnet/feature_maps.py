"""Feature-pyramid backbones: a registered ResNet returning its stage feature maps."""

from __future__ import annotations

from typing import Optional, Sequence

import keras

from keras_resnet.models import build_resnet
from keras_resnet.registry import model_info


def stage_names(name: str) -> list:
    """Stage names of a registered model, e.g. ["conv2", ..., "conv5"]."""
    return list(model_info(name).spec.stage_names)


def backbone(name: str, input_shape=None, *, weights=None, variant: Optional[str] = None,
             outputs: Optional[Sequence[str]] = None, output_stride: int = 32,
             **kwargs) -> keras.Model:
    """A headless registered model whose output is a dict of stage feature maps.

    Args:
        name: Registry name, e.g. "resnet50".
        input_shape: Image shape; default any size.
        weights: Any source `weights=` accepts (loaded into the headless model).
        variant: Convention; default the checkpoint's (a tag, "imagenet",
            "hf://"), else the model's.
        outputs: Stage names to return, default every stage ("conv2" .. "conv5"
            for the ImageNet nets: strides 4, 8, 16, 32).
        output_stride: 32, or 16 / 8 to replace the last strides by dilation
            (torchvision's `replace_stride_with_dilation`); weights still load.
        **kwargs: Other builder options (`shortcut`, `drop_path_rate`, ...).

    Returns:
        A `keras.Model` mapping each requested stage name to its feature map:
        the output of the stage's last block, taken before the resolution
        drops. For "v2", whose stages stride in their last block, that is the
        input of that block, and the last stage's map is taken after `post_relu`
        (so "conv5" always equals the `include_top=False` model's output).
    """
    info = model_info(name)
    available = stage_names(name)
    outputs = list(available if outputs is None else outputs)
    unknown = [o for o in outputs if o not in available]
    if unknown or not outputs or isinstance(outputs, str):
        raise ValueError(f"`outputs` must be a non-empty list of stage names from {available}. "
                         f"Received: outputs={outputs!r}")
    model = build_resnet(info.spec, input_shape, include_top=False, weights=weights,
                         variant=variant, output_stride=output_stride, registry_name=info.name,
                         name=f"{name}_backbone", **kwargs)
    # The last stage's map is the headless model's output ("v2" adds its final
    # BN-ReLU there); the others are the feature maps recorded while building.
    features = {stage: model.output if stage == available[-1] else model.pyramid_outputs[stage]
                for stage in outputs}
    return keras.Model(model.inputs, features, name=model.name)
