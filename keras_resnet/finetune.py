"""Fine-tuning controls: freezing a model up to a stage."""

from __future__ import annotations

import re

import keras

_STAGE = re.compile(r"^(?:conv|pool)(\d+)_")


def _stage_of(layer_name: str):
    match = _STAGE.match(layer_name)
    return int(match.group(1)) if match else None


def freeze(model: keras.Model, up_to: str = "conv5") -> keras.Model:
    """Freeze every layer from the stem up to and including stage `up_to`,
    and unfreeze the stages after it and the head.

    Frozen BatchNormalization layers run in inference mode even when the model
    trains (Keras' convention), so their statistics stay those of the
    pretrained model. Re-`compile` the model after changing what is frozen.

    Args:
        model: A keras_resnet model (layer names `conv{stage}_...`).
        up_to: "conv1" (the stem) or a stage name, e.g. "conv3".

    Returns:
        The same model, for chaining.
    """
    stages = sorted({s for s in map(_stage_of, (l.name for l in model.layers)) if s})
    allowed = [f"conv{s}" for s in stages]
    if up_to not in allowed:
        raise ValueError(f"`up_to` must name a stage of this model, one of {allowed}. "
                         f"Received: up_to={up_to!r}")
    last = int(up_to[4:])
    for layer in model.layers:
        stage = _stage_of(layer.name)
        if stage is not None:
            layer.trainable = stage > last
        elif layer.weights:  # the head and anything the user added after it
            layer.trainable = True
    return model
